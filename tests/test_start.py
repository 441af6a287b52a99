"""start: overrides become Glue run arguments and worker settings, runs are followed, and the
estimate comes from a real (emulated) export and the real target table.

Runs go to moto's Glue on the local stack; moto records each run's merged arguments and worker
settings (asserted below), and its state manager walks a run through STARTING → RUNNING →
SUCCEEDED. A run that FAILS cannot be produced by moto, so that path uses botocore's Stubber.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ddbmigrate.cli.main import main
from ddbmigrate.deploy.plan import job_definition
from ddbmigrate.deploy.start import (
    RunOverrides,
    effective_arguments,
    follow_run,
    job_console_url,
    parse_run_arguments,
    run_console_url,
    start_request,
    start_run,
)
from ddbmigrate.errors import ConfigError, GlueError
from ddbmigrate.export import ExportRequest, run_export
from ddbmigrate.sample import create_sample_table, sample_items

JOB = {
    "Name": "ddbmigrate-export-import",
    "WorkerType": "G.1X",
    "NumberOfWorkers": 10,
    "DefaultArguments": {"--write_percent": "0.5", "--target_table": "Orders", "--job-language": "python",
                         "--export_uri": "s3://e/AWSDynamoDB/01/", "--mapping": "s3://b/ddbmigrate/mappings/orders.json"},
    "Command": {"ScriptLocation": "s3://b/ddbmigrate/jobs/export_import.py"},
}


# --------------------------------------------------------------------------- pure


def test_run_arguments_take_keys_with_or_without_dashes_and_are_validated() -> None:
    assert parse_run_arguments(["write_percent=0.7", "--export_uri=s3://b/p/"]) == {
        "--write_percent": "0.7", "--export_uri": "s3://b/p/"}
    with pytest.raises(ConfigError, match=r"--arg --write_percent: 2\.0 is outside Glue's range 0\.1–1\.5"):
        parse_run_arguments(["write_percent=2.0"])
    with pytest.raises(ConfigError, match="--arg: 'oops' is not KEY=VALUE"):
        parse_run_arguments(["oops"])
    with pytest.raises(ConfigError, match="expected a whole number"):
        parse_run_arguments(["splits=-3"])


def test_glue_precedence_defaults_then_run_then_non_overridable() -> None:
    job = {**JOB, "NonOverridableArguments": {"--dead_letter": "s3://locked/"}}
    merged = effective_arguments(job, {"--write_percent": "0.9", "--export_uri": "s3://e/"})
    assert merged == {"--write_percent": "0.9", "--target_table": "Orders", "--job-language": "python",
                      "--export_uri": "s3://e/", "--mapping": "s3://b/ddbmigrate/mappings/orders.json",
                      "--dead_letter": "s3://locked/"}
    with pytest.raises(ConfigError, match="--arg --dead_letter: job 'ddbmigrate-export-import' declares it non-overridable"):
        start_request(job, RunOverrides(arguments={"--dead_letter": "s3://x/"}))


def test_start_request_sends_only_overrides_and_both_worker_settings() -> None:
    request = start_request(JOB, RunOverrides(arguments={"--write_percent": "0.8"}, workers=4))
    assert request == {"JobName": JOB["Name"], "Arguments": {"--write_percent": "0.8"},
                       "WorkerType": "G.1X", "NumberOfWorkers": 4}
    request = start_request(JOB, RunOverrides(worker_type="G.4X", timeout_minutes=600))
    assert request == {"JobName": JOB["Name"], "WorkerType": "G.4X", "NumberOfWorkers": 10, "Timeout": 600}
    assert start_request(JOB, RunOverrides()) == {"JobName": JOB["Name"]}


@pytest.mark.parametrize(("overrides", "required", "message"), [
    (RunOverrides(arguments={"--export_uri": ""}), (), "job 'ddbmigrate-export-import' needs --export_uri for this run; "
                                                       "pass --arg export_uri=…"),  # declared by the script
    (RunOverrides(arguments={"--dead_letter": ""}), ("--dead_letter",), "needs --dead_letter"),  # glue_jobs.yaml's own
    (RunOverrides(worker_type="G.3X"), (), "--worker-type: unknown worker type 'G.3X'"),
    (RunOverrides(workers=1), (), "--workers: at least 2"),
    (RunOverrides(timeout_minutes=20000), (), "--timeout: 1 to 10080 minutes"),
])
def test_start_request_refuses_before_glue_bills(overrides: RunOverrides, required: tuple[str, ...],
                                                 message: str) -> None:
    with pytest.raises(ConfigError) as info:
        start_request(JOB, overrides, required_arguments=required)
    assert message in str(info.value)


def test_console_urls() -> None:
    assert run_console_url("eu-west-1", "ddbmigrate-export-import", "jr_0123abc") == (
        "https://console.aws.amazon.com/gluestudio/home?region=eu-west-1#/job/ddbmigrate-export-import/run/jr_0123abc")
    assert run_console_url("cn-north-1", "my job/x", "jr_1", partition="aws-cn") == (
        "https://console.amazonaws.cn/gluestudio/home?region=cn-north-1#/job/my%20job%2Fx/run/jr_1")
    assert job_console_url("us-east-1", "j") == (
        "https://console.aws.amazon.com/gluestudio/home?region=us-east-1#/editor/job/j/script")


def offline_glue() -> Any:
    """A Glue client for Stubber (no request leaves the process)."""
    return boto3.client("glue", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")


def test_a_failed_run_raises_with_glues_message() -> None:
    """moto cannot fail a run: GetJobRun answers come from botocore's Stubber."""
    glue = offline_glue()
    sleeps: list[float] = []
    seen: list[str] = []
    with Stubber(glue) as stubber:
        for state in ("STARTING", "RUNNING", "RUNNING", "FAILED"):
            run = {"Id": "jr_1", "JobName": "j", "JobRunState": state}
            if state == "FAILED":
                run["ErrorMessage"] = "SinkError: 3 items dead-lettered (see s3://dl/)"
            stubber.add_response("get_job_run", {"JobRun": run}, {"JobName": "j", "RunId": "jr_1"})
        with pytest.raises(GlueError, match=r"run jr_1 of j ended FAILED: SinkError: 3 items dead-lettered"):
            follow_run(glue, "j", "jr_1", poll_seconds=7, sleep=sleeps.append,
                       on_state=lambda r: seen.append(r["JobRunState"]))
    assert seen == ["STARTING", "RUNNING", "FAILED"]
    assert sleeps == [7, 7, 7]


def test_follow_gives_up_after_its_timeout_without_stopping_the_run() -> None:
    glue = offline_glue()
    now = [0.0]
    with Stubber(glue) as stubber:
        for _ in range(3):
            stubber.add_response("get_job_run", {"JobRun": {"Id": "jr_2", "JobRunState": "RUNNING"}})
        with pytest.raises(GlueError, match="still RUNNING after 60s; it keeps running"):
            follow_run(glue, "j", "jr_2", poll_seconds=30, timeout_seconds=60, clock=lambda: now[0],
                       sleep=lambda s: now.__setitem__(0, now[0] + s))


# --------------------------------------------------------------------------- the local stack


@pytest.fixture
def job(target: Any, bucket: str, unique_name: Callable[[str], str]) -> Iterator[str]:
    """An export-import job as deploy defines it (the script need not exist for moto)."""
    from ddbmigrate.deploy.config import JobConfig

    name = unique_name("job")
    config = JobConfig(name=name, script=Path("jobs/export_import.py"), glue_version="5.0", worker_type="G.1X",
                       number_of_workers=10, timeout_minutes=2880, max_concurrent_runs=3, max_retries=0,
                       role="ddbmigrate-glue", temp_dir=f"s3://{bucket}/temp/",
                       arguments={"--write_percent": "0.5", "--dead_letter": f"s3://{bucket}/dl/"})
    definition = job_definition(config, script_uri=f"s3://{bucket}/jobs/export_import.py",
                                wheel_uri=f"s3://{bucket}/wheels/ddbmigrate-0.1.0-py3-none-any.whl",
                                mapping_uri=f"s3://{bucket}/mappings/orders.json")
    glue = target.client("glue")
    glue.create_job(Name=name, **definition)
    yield name
    glue.delete_job(JobName=name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.integration
def test_start_passes_overrides_as_run_arguments_and_worker_settings(
    capsys: pytest.CaptureFixture[str], job: str, target: Any
) -> None:
    code, out, err = run(capsys, "start", job, "--profile", "target", "--workers", "4", "--worker-type", "G.2X",
                         "--write-percent", "0.7", "--arg", "export_uri=s3://exports/p/AWSDynamoDB/01/",
                         "--arg", "--target_table=Orders", "--no-estimate")
    assert code == 0, err
    url, run_id = out.strip().splitlines()[-2:]
    assert url == run_console_url("us-east-1", job, run_id)
    recorded = target.client("glue").get_job_run(JobName=job, RunId=run_id)["JobRun"]
    assert (recorded["WorkerType"], recorded["NumberOfWorkers"]) == ("G.2X", 4)
    arguments = recorded["Arguments"]  # moto merges them as Glue does: run arguments over defaults
    assert arguments["--write_percent"] == "0.7"
    assert arguments["--export_uri"] == "s3://exports/p/AWSDynamoDB/01/" and arguments["--target_table"] == "Orders"
    assert arguments["--dead_letter"].endswith("/dl/") and arguments["--job-language"] == "python"
    assert f"started {job} on 4 × G.2X with --export_uri, --target_table, --write_percent" in err


@pytest.mark.integration
def test_start_request_as_recorded_by_botocore(job: str, target: Any) -> None:
    glue = target.client("glue")
    sent: list[dict[str, Any]] = []
    glue.meta.events.register("provide-client-params.glue.StartJobRun", lambda params, **_: sent.append(dict(params)))
    arguments = {"--write_percent": "1.2", "--export_uri": "s3://e/AWSDynamoDB/01/", "--target_table": "T"}
    request = start_request(glue.get_job(JobName=job)["Job"], RunOverrides(arguments=arguments, worker_type="G.8X"))
    run_id = start_run(glue, request)
    assert sent == [{"JobName": job, "Arguments": arguments, "WorkerType": "G.8X", "NumberOfWorkers": 10}]
    assert glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["WorkerType"] == "G.8X"


@pytest.mark.integration
def test_follow_reports_each_state_until_succeeded(job: str, target: Any, moto_run_states: None) -> None:
    glue = target.client("glue")
    run_id = start_run(glue, {"JobName": job})
    seen: list[str] = []
    sleeps: list[float] = []
    final = follow_run(glue, job, run_id, poll_seconds=5, sleep=sleeps.append,
                       on_state=lambda r: seen.append(r["JobRunState"]))
    assert final["JobRunState"] == "SUCCEEDED" and final["Id"] == run_id
    assert seen[-1] == "SUCCEEDED" and len(seen) >= 2 and seen[0] in ("STARTING", "RUNNING")
    assert sleeps and all(s == 5 for s in sleeps)


@pytest.mark.integration
def test_cli_follow_and_errors(capsys: pytest.CaptureFixture[str], job: str, tmp_path: Path) -> None:
    code, out, err = run(capsys, "start", job, "--profile", "target", "--follow", "--poll-seconds", "0.01",
                         "--no-estimate", "--arg", "export_uri=s3://e/AWSDynamoDB/01/", "--arg", "target_table=T")
    assert code == 0, err
    assert f"{job} {out.strip().splitlines()[-1]}: SUCCEEDED" in err
    # what the script declares is required without any glue_jobs.yaml; the file may require more
    code, _, err = run(capsys, "start", job, "--profile", "target", "--config", str(tmp_path / "absent.yaml"))
    assert code == 2 and f"job '{job}' needs --export_uri, --target_table for this run; pass --arg export_uri=…" in err
    config = tmp_path / "glue_jobs.yaml"
    config.write_text(f"jobs:\n  {job}:\n    required_arguments: [--write_capacity]\n")
    code, _, err = run(capsys, "start", job, "--profile", "target", "--config", str(config),
                       "--arg", "export_uri=s3://e/AWSDynamoDB/01/", "--arg", "target_table=T")
    assert code == 2 and f"job '{job}' needs --write_capacity for this run" in err
    code, _, err = run(capsys, "start", "no-such-job", "--profile", "target")
    assert code == 13 and "job 'no-such-job' does not exist in this account and region; run 'ddbmigrate deploy'" in err
    code, _, err = run(capsys, "start", job, "--profile", "target", "--write-percent", "0.6",
                       "--arg", "write_percent=0.7")
    assert code == 2 and "--write-percent: also given as --arg write_percent" in err


@pytest.fixture
def export_and_target(source: Any, source_ddb: Any, target_ddb: Any, bucket: str) -> Iterator[tuple[str, str, int]]:
    table, target_table = f"start-src-{uuid.uuid4().hex[:8]}", f"start-tgt-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, table)
    items = list(sample_items(7))
    for item in items:
        source_ddb.put_item(TableName=table, Item=item)
    create_sample_table(target_ddb, target_table, provisioned_wcu=40)
    outcome = run_export(source, ExportRequest(table=table, bucket=bucket, prefix="start"), wait=True)
    yield outcome.folder_uri, target_table, len(items)
    source_ddb.delete_table(TableName=table)
    target_ddb.delete_table(TableName=target_table)


@pytest.mark.integration
def test_start_prints_the_estimate_from_the_export_and_the_target_table(
    capsys: pytest.CaptureFixture[str], job: str, export_and_target: tuple[str, str, int]
) -> None:
    export_uri, target_table, count = export_and_target
    code, out, err = run(capsys, "start", job, "--profile", "target", "--workers", "3",
                         "--arg", f"export_uri={export_uri}", "--arg", f"target_table={target_table}",
                         "--write-percent", "0.5")
    assert code == 0, err
    assert f"estimate for {job}" in err
    assert f"│ items        │ {count:,} × " in err
    assert "write budget │ 20 WCU/s = floor(40 × 0.5)" in err
    assert "3 × G.1X = 3 DPU" in err and "export-import" in err
    # an export that cannot be read: the estimate is skipped with a note, and the run still starts
    missing = export_uri.replace("/AWSDynamoDB/", "/elsewhere/AWSDynamoDB/")
    code, out, err = run(capsys, "start", job, "--profile", "target", "--arg", f"target_table={target_table}",
                         "--arg", f"export_uri={missing}")
    assert code == 0, err
    assert "note: no estimate (" in err
    assert out.strip().splitlines()[-1].startswith("jr_")
