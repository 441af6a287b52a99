"""deploy: the repository's glue_jobs.yaml deployed to moto's Glue and S3 (local stack, target
profile); a second deploy changes nothing; an edit updates only what changed.

moto implements CreateJob, GetJob, CreateCrawler, GetCrawler, databases, tags and S3, so those
run for real. It does not implement UpdateJob and UpdateCrawler (they answer HTTP 500
"not implemented"): those two requests are checked with botocore's Stubber, which validates them
against Glue's service model and asserts their exact bodies. Nor does it implement the classifier
calls: :class:`ClassifierStandIn` answers GetClassifier/CreateClassifier/UpdateClassifier on the
client deploy uses — after botocore has validated each request against Glue's model — and keeps
what was created, so the second deploy sees it.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from ddbmigrate.cli.main import main
from ddbmigrate.deploy import load_config
from ddbmigrate.deploy.apply import (
    build_wheel,
    collect_artifacts,
    deploy,
    execute,
    file_digest,
    wheel_digest,
)
from ddbmigrate.deploy.plan import (
    DIGEST_METADATA_KEY,
    ApiCall,
    Artifact,
    CurrentState,
    desired_state,
    diff_classifier,
    diff_crawler,
    diff_job,
    plan,
)
from ddbmigrate.errors import GlueError, MappingError
from ddbmigrate.mapping import build_mapping, save_mapping
from ddbmigrate.s3uri import S3Uri
from ddbmigrate.sample import sample_items
from ddbmigrate.schema import infer_schema

REPO = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/ddbmigrate-glue"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ddbmigrate wheel, built once (python -m build, from a clean copy of the sources)."""
    return build_wheel(REPO, tmp_path_factory.mktemp("wheel"))


class ClassifierStandIn:
    """Answers the classifier calls moto lacks, on one client; records the (validated) requests."""

    OPERATIONS = ("GetClassifier", "CreateClassifier", "UpdateClassifier")

    def __init__(self, client: Any) -> None:
        self.classifiers: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        for operation in self.OPERATIONS:
            client.meta.events.register(f"before-call.glue.{operation}", self._answer)

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = json.loads(params["body"] or b"{}")
        self.requests.append((model.name, body))
        if model.name == "GetClassifier":
            found = self.classifiers.get(body["Name"])
            if found is None:
                error = {"Error": {"Code": "EntityNotFoundException", "Message": "Classifier not found"}}
                return AWSResponse("", 400, {}, None), error
            return AWSResponse("", 200, {}, None), {"Classifier": found}
        ((kind, spec),) = body.items()
        self.classifiers[spec["Name"]] = {kind: {**spec, "Version": 1}}
        return AWSResponse("", 200, {}, None), {}


def make_project(root: Path, suffix: str) -> Path:
    """A repository copy: the real glue_jobs.yaml (job names made unique), scripts, a mapping and
    the real crawler definition."""
    (root / "crawlers").mkdir(parents=True)
    shutil.copy(REPO / "crawlers" / "export_crawler.yaml", root / "crawlers" / "export_crawler.yaml")
    (root / "jobs").mkdir(parents=True)
    for script in ("export_import.py", "table_copy.py"):  # the real job scripts, as deploy uploads them
        shutil.copy(REPO / "jobs" / script, root / "jobs" / script)
    (root / "mappings").mkdir()
    save_mapping(build_mapping(infer_schema(sample_items(5))), root / "mappings" / "orders.json")
    text = (REPO / "glue_jobs.yaml").read_text()
    for name in ("ddbmigrate-export-import:", "ddbmigrate-table-copy:"):
        text = text.replace(name, name[:-1] + f"-{suffix}:")
    (root / "glue_jobs.yaml").write_text(text)
    return root / "glue_jobs.yaml"


@pytest.fixture
def project(tmp_path: Path, unique_name: Callable[[str], str]) -> Iterator[tuple[Path, str]]:
    suffix = unique_name("t")[-6:]
    yield make_project(tmp_path / "repo", suffix), suffix


EXPORT_ID = "01692350182719-6de2c037"


def variables(bucket: str, suffix: str, *, crawler: bool = True) -> dict[str, str]:
    values = {"ARTIFACT_BUCKET": bucket, "GLUE_ROLE_ARN": ROLE, "MAPPING": "mappings/orders.json"}
    if crawler:
        values.update(EXPORT_URI=f"s3://{bucket}/exports/AWSDynamoDB/{EXPORT_ID}/", TABLE=f"orders{suffix}",
                      CRAWLER_DATABASE=f"db-{bucket}"[:60])
    return values


def names(suffix: str) -> tuple[str, str, str]:
    return f"ddbmigrate-export-import-{suffix}", f"ddbmigrate-table-copy-{suffix}", f"orders{suffix}-export-crawler"


# --------------------------------------------------------------------------- the local stack


@pytest.mark.integration
def test_deploy_creates_jobs_and_crawler_then_changes_nothing_then_updates_an_edit(
    project: tuple[Path, str], bucket: str, target: Any, s3: Any, wheel: Path
) -> None:
    config_path, suffix = project
    export_import, table_copy, crawler = names(suffix)
    glue = target.client("glue")
    classifiers = ClassifierStandIn(glue)
    values = variables(bucket, suffix)
    config = load_config(config_path, values, environ={})

    first = deploy(config, target, wheel=wheel, glue=glue)
    operations = sorted(call.operation for call in first.calls)
    assert operations == ["create_classifier", "create_crawler", "create_database", "create_job", "create_job",
                          *["put_object"] * 4]

    job = glue.get_job(JobName=export_import)["Job"]
    assert (job["WorkerType"], job["NumberOfWorkers"], job["GlueVersion"], job["Timeout"]) == ("G.1X", 10, "5.0", 2880)
    assert job["Role"] == ROLE and job["ExecutionProperty"] == {"MaxConcurrentRuns": 1} and job["MaxRetries"] == 0
    artifacts = f"s3://{bucket}/ddbmigrate/"
    assert job["Command"] == {"Name": "glueetl", "ScriptLocation": f"{artifacts}jobs/export_import.py",
                              "PythonVersion": "3"}
    assert job["DefaultArguments"] == {
        "--additional-python-modules": f"{artifacts}wheels/{wheel.name}",
        "--dead_letter": f"{artifacts}dead-letters/",
        "--enable-continuous-cloudwatch-log": "true",
        "--enable-metrics": "true",
        "--export_uri": values["EXPORT_URI"],
        "--job-language": "python",
        "--mapping": f"{artifacts}mappings/orders.json",
        "--TempDir": f"{artifacts}temp/",
        "--write_percent": "0.5",
    }
    copy = glue.get_job(JobName=table_copy)["Job"]
    assert copy["DefaultArguments"]["--read_percent"] == "0.5"
    assert copy["Command"]["ScriptLocation"] == f"{artifacts}jobs/table_copy.py"
    arn = f"arn:aws:glue:us-east-1:123456789012:job/{export_import}"
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"project": "ddbmigrate", "managed-by": "ddbmigrate-deploy"}
    # the uploaded artifacts are the local files, with their digests
    script = s3.get_object(Bucket=bucket, Key="ddbmigrate/jobs/export_import.py")
    assert script["Body"].read() == (config_path.parent / "jobs" / "export_import.py").read_bytes()
    stored_wheel = s3.get_object(Bucket=bucket, Key=f"ddbmigrate/wheels/{wheel.name}")
    assert stored_wheel["Metadata"][DIGEST_METADATA_KEY] == wheel_digest(wheel)
    assert stored_wheel["Body"].read() == wheel.read_bytes()
    # the crawler of crawlers/export_crawler.yaml, filled with the crawler's variables, and its classifier
    found = glue.get_crawler(Name=crawler)["Crawler"]
    assert found["Targets"]["S3Targets"] == [{"Path": f"{values['EXPORT_URI']}data/", "Exclusions": []}]
    assert found["DatabaseName"] == values["CRAWLER_DATABASE"] and found["TablePrefix"] == f"orders{suffix}_export_"
    assert found["Role"] == ROLE and found["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert glue.get_database(Name=found["DatabaseName"])["Database"]["Name"] == found["DatabaseName"]
    assert ("CreateClassifier", {"JsonClassifier": {"Name": "ddbmigrate-dynamodb-export-json", "JsonPath": "$"}}) \
        in classifiers.requests

    # a second deploy, and its dry run, change nothing
    assert deploy(config, target, wheel=wheel, dry_run=True, glue=glue).calls == ()
    assert deploy(config, target, wheel=wheel, glue=glue).calls == ()

    # an edit: worker type, write percent, one script, a tag
    text = config_path.read_text()
    config_path.write_text(text.replace("worker_type: G.1X", "worker_type: G.2X")
                           .replace("--write_percent: 0.5", "--write_percent: 0.8")
                           .replace("    project: ddbmigrate\n    managed-by: ddbmigrate-deploy\n  arguments:",
                                    "    project: ddbmigrate\n    managed-by: ddbmigrate-deploy\n    team: data\n"
                                    "  arguments:"))
    script = config_path.parent / "jobs" / "table_copy.py"
    script.write_text(script.read_text() + "# edited\n")
    edited = load_config(config_path, values, environ={})
    calls = deploy(edited, target, wheel=wheel, dry_run=True, glue=glue).calls
    assert [c.describe() for c in calls] == [
        f"s3 PutObject s3://{bucket}/ddbmigrate/jobs/table_copy.py (script table_copy.py: changed)",
        f"glue UpdateJob {export_import} (changed: DefaultArguments[--write_percent], WorkerType)",
        f"glue TagResource {arn} (tags: team)",
        f"glue UpdateJob {table_copy} (changed: DefaultArguments[--write_percent], WorkerType)",
        f"glue TagResource arn:aws:glue:us-east-1:123456789012:job/{table_copy} (tags: team)",
    ]
    update = next(c for c in calls if c.operation == "update_job")
    assert update.params["JobUpdate"]["WorkerType"] == "G.2X"
    assert update.params["JobUpdate"]["NumberOfWorkers"] == 10
    assert update.params["JobUpdate"]["DefaultArguments"]["--write_percent"] == "0.8"

    # moto has no UpdateJob: those go to a stubbed client that checks the exact request
    stubbed = target.client("glue")
    with Stubber(stubbed) as stubber:
        for call in calls:
            if call.operation == "update_job":
                stubber.add_response("update_job", {"JobName": call.params["JobName"]}, call.params)
        execute([c for c in calls if c.operation == "update_job"], stubbed, s3)
        stubber.assert_no_pending_responses()
    execute([c for c in calls if c.operation != "update_job"], glue, s3)
    assert glue.get_tags(ResourceArn=arn)["Tags"]["team"] == "data"
    body = s3.get_object(Bucket=bucket, Key="ddbmigrate/jobs/table_copy.py")["Body"].read()
    assert body == script.read_bytes() and body.startswith(b'"""AWS Glue job: copy a DynamoDB table')
    # what moto could apply is now in place; only the stubbed updates remain to be made
    remaining = deploy(edited, target, wheel=wheel, dry_run=True, glue=glue).calls
    assert [c.operation for c in remaining] == ["update_job", "update_job"]


@pytest.mark.integration
def test_crawler_edit_is_an_update_crawler_request(project: tuple[Path, str], bucket: str, target: Any,
                                                     wheel: Path) -> None:
    config_path, suffix = project
    _, _, crawler = names(suffix)
    glue = target.client("glue")
    ClassifierStandIn(glue)
    values = variables(bucket, suffix)
    deploy(load_config(config_path, values, environ={}), target, wheel=wheel, glue=glue)
    config_path.write_text(config_path.read_text().replace(
        "    definition: crawlers/export_crawler.yaml\n",
        "    definition: crawlers/export_crawler.yaml\n    table_prefix: ddb_\n"))
    calls = deploy(load_config(config_path, values, environ={}), target, wheel=wheel, dry_run=True, glue=glue).calls
    (call,) = calls
    assert call.describe() == f"glue UpdateCrawler {crawler} (changed: TablePrefix)"
    assert call.params["TablePrefix"] == "ddb_"
    assert call.params["Targets"]["S3Targets"][0]["Path"] == f"{values['EXPORT_URI']}data/"
    stubbed = target.client("glue")
    with Stubber(stubbed) as stubber:
        stubber.add_response("update_crawler", {}, call.params)
        execute(calls, stubbed, None)
        stubber.assert_no_pending_responses()


@pytest.mark.integration
def test_dry_run_reads_but_writes_nothing(project: tuple[Path, str], bucket: str, target: Any, s3: Any,
                                          wheel: Path) -> None:
    config_path, suffix = project
    export_import, _, _ = names(suffix)
    result = deploy(load_config(config_path, variables(bucket, suffix, crawler=False), environ={}), target,
                    wheel=wheel, dry_run=True)
    assert not result.executed and len(result.calls) == 6
    glue = target.client("glue")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName=export_import)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


@pytest.mark.integration
def test_cli_deploy_dry_run_then_deploy_then_nothing_to_change(
    project: tuple[Path, str], bucket: str, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path, suffix = project
    export_import, _, _ = names(suffix)
    argv = ["deploy", "--config", str(config_path), "--wheel", str(wheel), "--profile", "target"]
    for name, value in variables(bucket, suffix, crawler=False).items():
        argv += ["--var", f"{name}={value}"]
    assert main([*argv, "--dry-run"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("dry run: 6 call(s) would be made\n")
    assert f"  glue CreateJob {export_import} (new)\n" in out and '"WorkerType": "G.1X"' in out
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "deployed: 6 call(s) made" in out and f"glue CreateJob {export_import} (new)" in out
    assert f"#/editor/job/{export_import}/script" in err
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("nothing to change: 2 job(s), 0 crawler(s) and 4 artifact(s) are up to date")
    assert main(["deploy", "--config", str(config_path), "--wheel", str(wheel), "--profile", "target"]) == 2
    _, err = capsys.readouterr()
    assert "artifacts.location: ${ARTIFACT_BUCKET} is not set; pass --var ARTIFACT_BUCKET=VALUE" in err


# --------------------------------------------------------------------------- pure plan


JOB = {"JobMode": "SCRIPT", "Description": "", "Role": ROLE, "ExecutionProperty": {"MaxConcurrentRuns": 1},
       "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/jobs/x.py", "PythonVersion": "3"},
       "DefaultArguments": {"--a": "1", "--b": "2"}, "MaxRetries": 0, "Timeout": 2880, "GlueVersion": "5.0",
       "WorkerType": "G.1X", "NumberOfWorkers": 10}


def test_diff_job_normalises_what_glue_reports_differently() -> None:
    reported = {**JOB, "Role": "ddbmigrate-glue", "ExecutionClass": "STANDARD", "CreatedOn": "x",
                "Command": {**JOB["Command"], "Extra": 1}}
    reported.pop("JobMode")
    reported.pop("Description")
    assert diff_job(JOB, reported) == []
    changed = {**reported, "DefaultArguments": {"--a": "1", "--c": "3"}, "NumberOfWorkers": 5,
               "Connections": {"Connections": ["vpc"]}}
    assert diff_job(JOB, changed) == ["DefaultArguments[--b]", "DefaultArguments[--c]", "NumberOfWorkers",
                                      "Connections"]


def test_diff_crawler_normalises_get_crawler_shapes() -> None:
    desired = {"Name": "c", "Role": ROLE, "DatabaseName": "d", "Description": "", "TablePrefix": "",
               "Targets": {"S3Targets": [{"Path": "s3://b/p/", "Exclusions": []}]},
               "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
               "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
               "Configuration": '{"Version":1.0}', "Schedule": "cron(0 1 * * ? *)"}
    reported = {"Name": "c", "Role": "ddbmigrate-glue", "DatabaseName": "d", "State": "READY",
                "Targets": {"S3Targets": [{"Path": "s3://b/p/"}], "JdbcTargets": []},
                "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
                "Configuration": '{ "Version": 1.0 }',
                "Schedule": {"ScheduleExpression": "cron(0 1 * * ? *)", "State": "SCHEDULED"}}
    assert diff_crawler(desired, reported) == []
    assert diff_crawler(desired, {**reported, "Configuration": '{"Version": 2.0}', "DatabaseName": "e"}) == [
        "DatabaseName", "Configuration"]


def test_plan_skips_unchanged_artifacts_and_keeps_aws_tags(tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text("x")
    artifact = Artifact("script", script, S3Uri("b", "jobs/x.py"), file_digest(script))
    config_path = make_project(tmp_path / "repo", "u")
    config = load_config(config_path, variables("bkt", "u"), environ={})
    whl = Artifact("wheel", tmp_path / "w.whl", S3Uri("b", "wheels/w.whl"), "d")
    artifacts = [whl, *(Artifact("script", j.script, S3Uri("b", j.script.name), "s") for j in config.jobs.values()),
                 Artifact("mapping", config.jobs["ddbmigrate-export-import-u"].mapping, S3Uri("b", "m.json"), "m")]
    desired = desired_state(config, [*artifacts, artifact], arn_prefix="arn:aws:glue:us-east-1:1")
    current = CurrentState(objects={str(a.uri): a.digest for a in desired.artifacts})
    current.jobs = {name: dict(definition) for name, definition in desired.jobs.items()}
    current.job_tags = {name: {**tags, "aws:cloudformation:stack-name": "s", "old": "x"}
                        for name, tags in desired.job_tags.items()}
    current.crawlers = {name: dict(definition) for name, definition in desired.crawlers.items()}
    current.crawler_tags = {name: dict(tags) for name, tags in desired.crawler_tags.items()}
    current.databases = dict.fromkeys(desired.databases, True)
    current.classifiers = {name: {kind: {**spec, "Version": 3, "CreationTime": "t"}}
                           for name, body in desired.classifiers.items() for kind, spec in body.items()}
    calls = plan(desired, current)
    assert [(c.operation, c.params.get("TagsToRemove")) for c in calls] == [("untag_resource", ["old"])] * 2
    current.objects[str(artifact.uri)] = "stale"
    assert plan(desired, current)[0].describe() == "s3 PutObject s3://b/jobs/x.py (script x.py: changed)"


def test_diff_classifier_ignores_what_glue_adds() -> None:
    desired = {"JsonClassifier": {"Name": "j", "JsonPath": "$"}}
    assert diff_classifier(desired, {"JsonClassifier": {"Name": "j", "JsonPath": "$", "Version": 4}}) == []
    assert diff_classifier(desired, {"JsonClassifier": {"Name": "j", "JsonPath": "$[*]"}}) == ["JsonClassifier.JsonPath"]
    assert diff_classifier(desired, {"CsvClassifier": {"Name": "j"}}) == ["JsonClassifier"]
    assert ApiCall("glue", "update_classifier", desired, "changed").describe() == "glue UpdateClassifier j (changed)"


def test_api_call_describe() -> None:
    call = ApiCall("glue", "create_job", {"Name": "j"}, "new")
    assert call.describe() == "glue CreateJob j (new)"
    database = ApiCall("glue", "create_database", {"DatabaseInput": {"Name": "d"}}, "new")
    assert database.describe() == "glue CreateDatabase d (new)"


# --------------------------------------------------------------------------- artifacts


def _zip(members: dict[str, bytes], date: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=date), data)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_wheel_digest_ignores_timestamps_but_not_contents(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.whl", tmp_path / "b.whl", tmp_path / "c.whl"
    a.write_bytes(_zip({"m/x.py": b"1", "m/y.py": b"2"}, (2020, 1, 1, 0, 0, 0)))
    b.write_bytes(_zip({"m/y.py": b"2", "m/x.py": b"1"}, (2024, 5, 6, 7, 8, 10)))
    c.write_bytes(_zip({"m/x.py": b"1", "m/y.py": b"3"}, (2020, 1, 1, 0, 0, 0)))
    assert a.read_bytes() != b.read_bytes()
    assert wheel_digest(a) == wheel_digest(b) != wheel_digest(c)


def test_the_built_wheel_holds_the_library(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names_in = set(archive.namelist())
    assert {"ddbmigrate/deploy/config.py", "ddbmigrate/values.py", "ddbmigrate/py.typed"} <= names_in
    assert wheel.name.startswith("ddbmigrate-") and wheel.name.endswith("-py3-none-any.whl")
    assert not any("__pycache__" in n for n in names_in)


def test_build_failure_is_reported_with_the_builders_last_lines(tmp_path: Path) -> None:
    class Result:
        def __init__(self, code: int, out: str) -> None:
            self.returncode, self.stdout, self.stderr = code, out, ""

    def run(command: list[str], **_: Any) -> Any:
        return Result(0, "") if command[1] == "-c" else Result(1, "lots\nof\noutput\nERROR: backend exploded")

    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    with pytest.raises(GlueError, match=r"building the wheel failed .*ERROR: backend exploded"):
        build_wheel(tmp_path, tmp_path / "out", run=run)  # type: ignore[arg-type]
    with pytest.raises(GlueError, match=r"no pyproject\.toml"):
        build_wheel(tmp_path / "out", tmp_path / "out2")


def test_a_broken_mapping_fails_the_deploy_naming_the_file(tmp_path: Path) -> None:
    config_path = make_project(tmp_path / "repo", "u")
    broken = config_path.parent / "mappings" / "broken.json"
    broken.write_text('{"format": "ddbmigrate-mapping/1", "mappings": [["Item.x.S"]], "schema": {}}')
    config = load_config(config_path, variables("bkt", "u"), environ={})
    wheel_file = tmp_path / "w.whl"
    wheel_file.write_bytes(_zip({"ddbmigrate/__init__.py": b""}, (2020, 1, 1, 0, 0, 0)))
    with pytest.raises(MappingError, match=r"broken\.json"):
        collect_artifacts(config, wheel_file)
    broken.unlink()
    kinds = sorted((a.kind, a.uri.key) for a in collect_artifacts(config, wheel_file))
    assert kinds == [("mapping", "ddbmigrate/mappings/orders.json"), ("script", "ddbmigrate/jobs/export_import.py"),
                     ("script", "ddbmigrate/jobs/table_copy.py"), ("wheel", "ddbmigrate/wheels/w.whl")]
