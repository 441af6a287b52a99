"""The job-argument declarations are the one place: the CLI options, the scripts' ``getResolvedOptions``
lists, the typed parse and the deploy/start checks are derived from them, and a bad value is refused
before Spark starts, with the option named as the user spelled it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ddbmigrate.bulk import ExportImportOptions
from ddbmigrate.cli.run import command as run_command
from ddbmigrate.copy import TableCopyOptions
from ddbmigrate.deploy.config import load_config
from ddbmigrate.deploy.start import RunOverrides, parse_run_arguments, start_request
from ddbmigrate.errors import ConfigError
from ddbmigrate.gluelocal.utils import getResolvedOptions
from ddbmigrate.jobargs import EXPORT_IMPORT, JOBS, TABLE_COPY, Argument, account_of, check_glue_argument

REPO = Path(__file__).resolve().parents[1]
EXPORT_ARGS = {"JOB_NAME": "j", "export_uri": "s3://b/p/AWSDynamoDB/01234567890123-abcdef12/", "mapping": "m.json",
               "target_table": "Orders"}


# --------------------------------------------------------------------------- the parse


def test_absent_values_take_the_declared_default_as_glue_passes_unset_ones() -> None:
    count = Argument("n", "int", "A count.", default=3, minimum=1)
    assert [count.parse(v) for v in (None, "", "None", "7")] == [3, 3, 3, 7]
    with pytest.raises(ConfigError, match=r"^--n: expected a whole number, got 'x'$"):
        count.parse("x")
    with pytest.raises(ConfigError, match=r"^--n: expected a whole number ≥ 1, got 0$"):
        count.parse("0")
    flag = Argument("f", "flag", "A flag.", default=False)
    assert (flag.parse("TRUE"), flag.parse(None)) == (True, False)
    with pytest.raises(ConfigError, match=r"^--f: expected true or false, got 'yes'$"):
        flag.parse("yes")
    with pytest.raises(ConfigError, match=r"^--x is required: a thing\.$"):
        Argument("x", "text", "A thing.", required=True).parse("")


def test_account_of_a_side_takes_every_credential_argument_and_the_job_identity_drops_the_role() -> None:
    parsed = TABLE_COPY.parse({"source_table": "a", "target_table": "b", "source_region": "eu-west-1",
                               "source_role_arn": "arn:aws:iam::1:role/r", "source_external_id": "e",
                               "source_endpoint_url": "http://127.0.0.1:1"})
    account = account_of(parsed, "source")
    assert (account.region, account.role_arn, account.external_id, account.endpoint_url, account.label) == (
        "eu-west-1", "arn:aws:iam::1:role/r", "e", "http://127.0.0.1:1", "source")
    own = account_of(parsed, "source", with_role=False)
    assert (own.region, own.role_arn, own.external_id) == ("eu-west-1", None, None)


def test_export_import_arguments_default_as_glue_and_name_what_is_wrong() -> None:
    options = ExportImportOptions.from_job_args({**EXPORT_ARGS, "target_role_arn": "arn:aws:iam::1:role/w"})
    assert (options.write_percent, options.write_capacity, options.max_retries) == (0.5, None, 10)
    assert (options.requests_in_flight, options.apply_mapping) == (4, "auto")
    assert options.target.role_arn == "arn:aws:iam::1:role/w" and options.target.label == "target"
    assert options.bucket_account.role_arn is None  # the bucket is read with the job's own identity
    assert ExportImportOptions.from_job_args({**EXPORT_ARGS, "requests_in_flight": "8"}).requests_in_flight == 8
    assert ExportImportOptions.from_job_args({**EXPORT_ARGS, "max_retries": "0"}).max_retries == 0  # not the default 10
    for change, message in (
        ({"apply_mapping": "sometimes"}, r"--apply_mapping: expected one of auto, always, got 'sometimes'"),
        ({"requests_in_flight": "many"}, r"--requests_in_flight: expected a whole number, got 'many'"),
        ({"requests_in_flight": "0"}, r"--requests_in_flight: expected a whole number ≥ 1, got 0"),
        ({"write_capacity": "lots"}, r"--write_capacity: expected a whole number"),
        ({"export_uri": ""}, r"--export_uri is required"),
        ({"mapping": ""}, r"--mapping is required"),
        ({"write_percent": "1.6"}, r"--write_percent: 1.6 is outside Glue's range 0.1–1.5"),
    ):
        with pytest.raises(ConfigError, match=message):
            ExportImportOptions.from_job_args({**EXPORT_ARGS, **change})


def test_options_built_in_code_are_held_to_the_same_declaration() -> None:
    base = dict(export_uri="s3://b/p/", mapping="m.json", target_table="T", target=account_of({}, "target"),
                bucket_account=account_of({}, "target"))
    with pytest.raises(ConfigError, match=r"^--write_percent: 2.0 is outside Glue's range"):
        ExportImportOptions(**base, write_percent=2.0)
    with pytest.raises(ConfigError, match=r"^--splits: expected a whole number between 1 and 1,000,000, got 0$"):
        TableCopyOptions(source_table="a", source=account_of({}, "source"), target_table="b",
                         target=account_of({}, "target", label="t").with_(profile="other"), splits=0)


# --------------------------------------------------------------------------- what is derived from it


def _cli_params(job: str) -> list[click.Option]:
    return [p for p in run_command.commands[job].params if isinstance(p, click.Option) and p.name not in
            ("estimate", "worker_type", "workers", "report", "help")]


@pytest.mark.parametrize("job", sorted(JOBS))
def test_run_options_are_the_declared_arguments_in_order(job: str) -> None:
    spec = JOBS[job]
    params = _cli_params(job)
    assert [p.name for p in params] == [a.name for a in spec.arguments]
    assert [p.opts[0] for p in params] == [a.cli_flag for a in spec.arguments]
    for param, argument in zip(params, spec.arguments, strict=True):
        assert argument.help in (param.help or "")
        assert param.default is None  # the declaration, not click, supplies defaults and checks values


@pytest.mark.parametrize("job", sorted(JOBS))
def test_each_script_asks_glue_for_its_own_declaration(job: str) -> None:
    """The script's ``getResolvedOptions`` call is ``<SPEC>.resolved_names(sys.argv)`` of its own job."""
    spec = JOBS[job]
    tree = ast.parse((REPO / "jobs" / spec.script).read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "getResolvedOptions"]
    assert len(calls) == 1
    names = calls[0].args[1]
    assert isinstance(names, ast.Call) and names.func.attr == "resolved_names"  # type: ignore[attr-defined]
    spec_name = names.func.value.id  # type: ignore[attr-defined]
    assert getattr(sys.modules["ddbmigrate.jobargs"], spec_name) is spec


@pytest.mark.parametrize("job", sorted(JOBS))
def test_glue_arguments_round_trip_through_glues_parser(job: str) -> None:
    """Every argument given: what ``ddbmigrate run`` passes the script is what the script parses back."""
    spec = JOBS[job]
    samples = {"int": "7", "percent": "0.7", "flag": "true", "text": "x"}
    given = {a.name: (a.choices[-1] if a.choices else samples[a.kind]) for a in spec.arguments}
    given.update(source_table="a", target_table="b")
    parsed = spec.parse(given)
    argv = ["script.py", "--JOB_NAME", "j", *spec.glue_arguments(parsed)]
    resolved = getResolvedOptions(argv, spec.resolved_names(argv))
    assert spec.parse(resolved) == parsed
    assert set(spec.resolved_names(argv)) == {"JOB_NAME", *spec.by_name}
    assert spec.resolved_names(["s.py", "--JOB_NAME", "j"]) == ["JOB_NAME", *(a.name for a in spec.arguments if a.required)]


def test_deploy_takes_required_arguments_from_the_declaration() -> None:
    """``--mapping`` is required by the import script, so a run without it is refused before Glue starts it."""
    config = load_config(REPO / "glue_jobs.yaml", variables={"ARTIFACT_BUCKET": "artifacts", "GLUE_ROLE_ARN": "arn:aws:iam::1:role/g"})
    jobs = config.jobs
    assert jobs["ddbmigrate-export-import"].required_arguments == EXPORT_IMPORT.required
    assert "--mapping" in EXPORT_IMPORT.required
    assert jobs["ddbmigrate-table-copy"].required_arguments == TABLE_COPY.required
    job = {"Name": "imp", "Command": {"ScriptLocation": "s3://b/ddbmigrate/jobs/export_import.py"},
           "DefaultArguments": {"--export_uri": "s3://e/", "--target_table": "T"}}
    with pytest.raises(ConfigError, match=r"job 'imp' needs --mapping for this run; pass --arg mapping=…"):
        start_request(job, RunOverrides())


def test_glue_argument_checks_are_the_scripts_parse() -> None:
    check_glue_argument("--write_percent", "1.5", job=EXPORT_IMPORT)
    check_glue_argument("--enable-metrics", "true", job=EXPORT_IMPORT)  # Glue's own parameters pass
    check_glue_argument("--splits", "", job=TABLE_COPY)  # "" = left out
    with pytest.raises(ConfigError, match=r"^w: expected a whole number between 1 and 1,000,000, got 0$"):
        check_glue_argument("--splits", "0", job=TABLE_COPY, where="w")
    with pytest.raises(ConfigError, match=r"jobs/export_import.py has no argument --splits"):
        check_glue_argument("--splits", "4", job=EXPORT_IMPORT)
    with pytest.raises(ConfigError, match=r"jobs/table_copy.py has no argument --write_precent"):
        check_glue_argument("--write_precent", "0.5", job=TABLE_COPY)
    with pytest.raises(ConfigError, match=r"--target_profile is for local runs only"):
        check_glue_argument("--target_profile", "p", job=TABLE_COPY, deployed=True)


def test_start_arguments_refuse_an_empty_value_and_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"--arg dead_letter=: empty value"):
        parse_run_arguments(["dead_letter="], job=EXPORT_IMPORT)
    with pytest.raises(ConfigError, match=r"--arg --write_percent: 2.0 is outside Glue's range 0.1–1.5"):
        parse_run_arguments(["write_percent=2.0"], job=EXPORT_IMPORT)
    assert parse_run_arguments(["write_percent=0.7", "--mapping=s3://b/m.json"], job=EXPORT_IMPORT) == {
        "--write_percent": "0.7", "--mapping": "s3://b/m.json"}


# --------------------------------------------------------------------------- refused before Spark


_PROBE = """
import sys
from ddbmigrate.cli.main import main
code = main(sys.argv[1:])
from pyspark import SparkContext  # imported only now, to ask whether a JVM was ever started
print(f"jvm={SparkContext._gateway is not None} code={code}")
"""


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "export-import", "--export", "s3://b/p/", "--mapping", "m.json", "--target-table", "T",
      "--write-percent", "2"], "ddbmigrate: error: --write-percent: 2.0 is outside Glue's range 0.1–1.5"),
    (["run", "table-copy", "--source-table", "a", "--target-table", "b", "--splits", "0"],
     "ddbmigrate: error: --splits: expected a whole number between 1 and 1,000,000, got 0"),
    (["run", "table-copy", "--source-table", "a", "--target-table", "b", "--read-percent", "lots"],
     "ddbmigrate: error: --read-percent: expected a number between 0.1 and 1.5, got 'lots'"),
    (["run", "export-import", "--mapping", "m.json", "--target-table", "T"], "ddbmigrate: error: --export is required"),
])
def test_bad_values_are_refused_before_any_spark_or_aws_call(argv: list[str], message: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # any AWS call would fail on a closed port and say so instead of the message expected here
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_DEFAULT_REGION="eu-west-1")
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, timeout=120)
    assert done.stderr.strip().splitlines() == [message] or done.stderr.strip().startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout.strip() == "jvm=False code=2"
