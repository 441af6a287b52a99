"""``ddbmigrate migrate`` on the local stack: each path end to end while a writer changes the source,
each preflight refusal through the real command (one line, non-zero exit, nothing changed), and the
target's schema copied from the source (DescribeTable, DescribeTimeToLive; tags through Stubber,
since DynamoDB Local has no tagging API; PITR through Stubber, since it has no PITR API either)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from ddbmigrate.cli.main import main
from ddbmigrate.errors import AwsNotFound, ConfigError
from ddbmigrate.local.writer import ChangeWriter
from ddbmigrate.migrate import MigrateOptions, Migration, open_state_location
from ddbmigrate.migrate import preflight as preflight_module
from ddbmigrate.migrate.plan import Plan, TargetState, pitr_status
from ddbmigrate.migrate.schema import SourceSchema, create_target, finish_target, read_source_schema
from ddbmigrate.replicate.runner import stream_created
from ddbmigrate.sample import create_sample_table, sample_items
from tests.tables import put_all

pytestmark = pytest.mark.integration

GSI = {"IndexName": "by-version", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
       "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["version"]}}
LSI = {"IndexName": "by-note", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                             {"AttributeName": "lk", "KeyType": "RANGE"}],
       "Projection": {"ProjectionType": "KEYS_ONLY"}}


def _source_with_indexes(client: Any, name: str, *, lsi: bool, stream: bool = True) -> None:
    """The sample schema with a GSI (INCLUDE projection), optionally an LSI and a stream, and TTL."""
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                  {"AttributeName": "gk", "AttributeType": "S"}, {"AttributeName": "lk", "AttributeType": "S"}]
    kwargs: dict[str, Any] = {
        "TableName": name, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": attributes if lsi else attributes[:3],
        "ProvisionedThroughput": {"ReadCapacityUnits": 400, "WriteCapacityUnits": 300},
        "GlobalSecondaryIndexes": [{**GSI, "ProvisionedThroughput": {"ReadCapacityUnits": 20, "WriteCapacityUnits": 30}}],
    }
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if lsi:
        kwargs["LocalSecondaryIndexes"] = [LSI]
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})


def _indexes(table: dict[str, Any], kind: str) -> list[tuple[str, Any, Any]]:
    return sorted((i["IndexName"], i["KeySchema"], i["Projection"]) for i in table.get(kind) or ())


@pytest.mark.spark
@pytest.mark.parametrize("path", ["export-import", "table-copy", "import-table"])
def test_each_path_migrates_a_table_written_during_the_whole_run_and_ends_identical(
        path, spark, source, target, source_ddb, target_ddb, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN a source with a GSI, TTL and a stream (import-table: none, --enable-stream turns it on), and a
    # writer changing it from before the export to the verify
    src, dst = unique_name("src"), unique_name("dst")
    _source_with_indexes(source_ddb, src, lsi=False, stream=path != "import-table")
    put_all(source_ddb, src, ({**item, "gk": item["pk"]} for item in sample_items(60)))
    writer = ChangeWriter(source_ddb, src, slots=150, pause=0.03)
    writer.start()

    changes_at: dict[tuple[str, str], int] = {}  # the writer's count when the load starts and ends

    def on_step(step: str, event: str) -> None:
        changes_at[step, event] = writer.total
        if (step, event) == ("verify", "start"):
            writer.finish()

    # WHEN the migration runs every step (import-table: first --until caught-up, then --resume --until verified)
    options = MigrateOptions(source=source, source_table=src, target=target, target_table=dst, path=path,
                             state=str(tmp_path / "state"), bucket=None if path == "table-copy" else bucket,
                             enable_stream=path == "import-table")
    try:
        if path == "import-table":
            caught_up = Migration(replace(options, until="caught-up"), open_state_location(options.state),
                                  on_step=on_step).run()
            assert not caught_up["final"] and not caught_up["verify"] and "--resume --until verified" in caught_up["next_actions"][0]
            options = replace(options, resume=True)
        report = Migration(options, open_state_location(options.state), on_step=on_step).run()
    finally:
        writer.stopped.set()
    # THEN verify says identical, the load reconciles, replication saw the writer's changes — made while the
    # load ran and after it (counts, not a rate: how long each step takes is the machine's business)
    assert changes_at["load", "done"] > changes_at["load", "start"] and writer.total > changes_at["load", "done"]
    assert writer.error is None
    assert report["verify"]["identical"], report["verify"]
    load = report["counts"]["load"]
    if path == "import-table":
        assert load["ProcessedItemCount"] == load["ImportedItemCount"] == report["counts"]["exported"] and not load["ErrorCount"]
    else:
        assert load["read"] == load["written"] and load["dead_lettered"] == 0
    assert report["counts"]["replicated"]["applied"] > 0
    # the resume caught up again before verifying (re-checks of keys in flight may add runs)
    assert report["counts"]["replicated"]["runs"] >= (2 if path == "import-table" else 1)
    # and the target has the source's GSI and TTL (added after the load)
    table = target_ddb.describe_table(TableName=dst)["Table"]
    assert _indexes(table, "GlobalSecondaryIndexes") == [(GSI["IndexName"], GSI["KeySchema"], GSI["Projection"])]
    assert target_ddb.describe_time_to_live(TableName=dst)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    # and the state file recorded every step, the report files are there
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert state["path"] == path and all(state["steps"][s]["ended"] for s in ("plan", "preflight", "load", "verify"))
    markdown = (tmp_path / "state" / "report.md").read_text()
    assert "tags skipped" in markdown
    # and the report links its charts: the load's (drawn from the job's live series) and each replication run's lag,
    # every PNG beside the series it was drawn from
    charts = report["charts"]
    if path != "import-table":
        assert [png.rsplit("/", 1)[-1] for png in charts["load"]] == ["wcu.png", "items.png"]
    assert any(png.endswith("/lag.png") for step, pngs in charts.items() if step.startswith("replicate-") for png in pngs)
    for png in (png for pngs in charts.values() for png in pngs):
        drawn = tmp_path / "state" / png
        assert drawn.read_bytes().startswith(b"\x89PNG") and f"]({png})" in markdown
        series = json.loads(drawn.with_name("series.json").read_text())
        assert series["lag"] if png.endswith("/lag.png") else series["samples"]
    # and a stream turned on by --enable-stream is NEW_AND_OLD_IMAGES, enabled before the cut-off
    described = source_ddb.describe_table(TableName=src)["Table"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert stream_created(described["LatestStreamArn"]) <= datetime.fromisoformat(state["created"]["cutoff"])


def test_the_created_target_has_the_source_keys_indexes_capacity_deletion_protection_then_ttl(
        source_ddb, target_ddb, unique_name) -> None:
    # GIVEN a provisioned source with a GSI, an LSI, TTL and deletion protection
    src, dst = unique_name("src"), unique_name("dst")
    _source_with_indexes(source_ddb, src, lsi=True)
    source_ddb.update_table(TableName=src, DeletionProtectionEnabled=True)
    try:
        schema = read_source_schema(source_ddb, src)
        # WHEN the target is created, then finished after the load
        create_target(target_ddb, schema, dst)
        ttl_before = target_ddb.describe_time_to_live(TableName=dst)["TimeToLiveDescription"]["TimeToLiveStatus"]
        notes = finish_target(target_ddb, schema, dst)
        # THEN indexes, keys, capacities and deletion protection equal the source's; TTL only after the load
        s, t = (c.describe_table(TableName=n)["Table"] for c, n in ((source_ddb, src), (target_ddb, dst)))
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            assert _indexes(t, kind) == _indexes(s, kind) != []
        assert t["KeySchema"] == s["KeySchema"] and t["DeletionProtectionEnabled"] is True
        assert {k: t["ProvisionedThroughput"][k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")} == {
            "ReadCapacityUnits": 400, "WriteCapacityUnits": 300}
        assert ttl_before == "DISABLED"
        assert (target_ddb.describe_time_to_live(TableName=dst)["TimeToLiveDescription"]
                == source_ddb.describe_time_to_live(TableName=src)["TimeToLiveDescription"])
        assert any("tags skipped" in note for note in notes)
    finally:
        for client, name in ((source_ddb, src), (target_ddb, dst)):
            with contextlib.suppress(Exception):  # the target may not exist when an assertion failed early
                client.update_table(TableName=name, DeletionProtectionEnabled=False)


def test_tags_are_read_from_the_source_and_put_on_the_target() -> None:
    """Stubber: DynamoDB Local answers every tagging call with UnknownOperationException."""
    import botocore.session

    client = botocore.session.get_session().create_client("dynamodb", region_name="eu-west-1",
                                                          aws_access_key_id="x", aws_secret_access_key="y")
    arn, target_arn = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders", "arn:aws:dynamodb:eu-west-1:222222222222:table/orders"
    tags = [{"Key": "team", "Value": "payments"}, {"Key": "cost-centre", "Value": "42"}]
    table = {"TableName": "orders", "TableArn": arn, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}
    with Stubber(client) as stub:
        stub.add_response("describe_table", {"Table": table}, {"TableName": "orders"})
        stub.add_response("describe_time_to_live", {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}},
                          {"TableName": "orders"})
        stub.add_response("list_tags_of_resource", {"Tags": tags[:1], "NextToken": "n"}, {"ResourceArn": arn})
        stub.add_response("list_tags_of_resource", {"Tags": tags[1:]}, {"ResourceArn": arn, "NextToken": "n"})
        schema = read_source_schema(client, "orders")
        stub.add_response("describe_table", {"Table": {**table, "TableArn": target_arn}}, {"TableName": "orders"})
        stub.add_response("tag_resource", {}, {"ResourceArn": target_arn, "Tags": tags})
        notes = finish_target(client, schema, "orders")
        stub.assert_no_pending_responses()
    assert schema.tags == tuple(tags) and notes == ["2 tag(s) copied"]


def test_pitr_off_is_refused_without_enable_pitr_and_nothing_is_changed(source, target, unique_name) -> None:
    """Stubber: DynamoDB Local has no PITR API (UnknownOperationException), so the DISABLED answer is stubbed."""
    import botocore.session

    client = botocore.session.get_session().create_client("dynamodb", region_name="eu-west-1",
                                                          aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
            "ContinuousBackupsStatus": "DISABLED",
            "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}}, {"TableName": "orders"})
        status = pitr_status(client, "orders")
    from ddbmigrate.dynamodb import TableDescription

    described = TableDescription(name="orders", key_schema=({"AttributeName": "pk", "KeyType": "HASH"},),
                                 attribute_types={"pk": "S"}, write_capacity=1, stream_view_type="NEW_IMAGE",
                                 stream_arn="arn:s")
    plan = Plan("export-import", (), described, SourceSchema({}), status, TargetState("absent"))
    options = MigrateOptions(source=source, source_table="orders", target=target, target_table="t", state="x",
                             bucket="b")
    with pytest.raises(ConfigError, match=r"point-in-time recovery is off .* re-run with --enable-pitr"):
        preflight_module.check(options, plan, s3_client=None, resumed_target=False)
    with Stubber(client) as stub:  # allowed: UpdateContinuousBackups is the one change made
        stub.add_response("update_continuous_backups", {"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED"}},
                          {"TableName": "orders", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
        done = preflight_module.enable_what_was_allowed(
            MigrateOptions(source=source, source_table="orders", target=target, target_table="t", state="x",
                           bucket="b", enable_pitr=True), plan, client)
        stub.assert_no_pending_responses()
    assert done == ["point-in-time recovery enabled on the source"]


def _argv(src: str, dst: str, state: Path, *extra: str) -> list[str]:
    return ["migrate", "--source-profile", "source", "--source-table", src, "--target-profile", "target",
            "--target-table", dst, "--state", str(state), *extra]


@pytest.mark.parametrize("case", ["other-key-schema", "non-empty", "stream-off", "keys-only", "bucket-missing"])
def test_each_refusal_is_one_line_with_a_non_zero_exit_and_nothing_changed(
        case, capsys, source_ddb, target_ddb, unique_name, tmp_path: Path) -> None:
    # GIVEN a source and target set up for the case
    src, dst = unique_name("src"), unique_name("dst")
    extra: list[str] = ["--path", "table-copy"]
    if case in ("stream-off", "keys-only"):
        create_sample_table(source_ddb, src)
        if case == "keys-only":
            source_ddb.update_table(TableName=src, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    else:
        create_sample_table(source_ddb, src, stream=True)
    put_all(source_ddb, src, sample_items(3))
    if case == "other-key-schema":
        target_ddb.create_table(TableName=dst, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                BillingMode="PAY_PER_REQUEST")
    elif case == "non-empty":
        create_sample_table(target_ddb, dst)
        put_all(target_ddb, dst, sample_items(1))
    elif case == "bucket-missing":
        extra = ["--path", "export-import", "--bucket", "no-such-bucket-" + dst[-8:].lower()]
    before = (source_ddb.describe_table(TableName=src)["Table"].get("StreamSpecification"),
              sorted(target_ddb.list_tables()["TableNames"]))
    # WHEN migrate runs
    code = main(_argv(src, dst, tmp_path / "state", *extra))
    # THEN one line, exit code 2 (a missing bucket: AWS's NoSuchBucket, 13), and neither side changed
    err = capsys.readouterr().err.strip().splitlines()
    assert code == (AwsNotFound if case == "bucket-missing" else ConfigError).exit_code and len(err) == 1 and err[0].startswith("ddbmigrate: error: "), err
    expected = {"other-key-schema": "exists with key id", "non-empty": "is not empty", "stream-off": "--enable-stream",
                "keys-only": "KEYS_ONLY", "bucket-missing": "NoSuchBucket"}[case]
    assert expected in err[0]
    assert before == (source_ddb.describe_table(TableName=src)["Table"].get("StreamSpecification"),
                      sorted(target_ddb.list_tables()["TableNames"]))


def test_dry_run_prints_the_plan_and_changes_nothing(capsys, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    src, dst = unique_name("src"), unique_name("dst")
    create_sample_table(source_ddb, src, stream=True)
    code = main(_argv(src, dst, tmp_path / "state", "--bucket", "any-bucket", "--dry-run"))
    out = capsys.readouterr().out
    assert code == 0 and "import-table" in out and "ImportTable" in out
    assert dst not in target_ddb.list_tables()["TableNames"] and not (tmp_path / "state").exists()




def test_a_state_under_s3_round_trips_and_a_missing_one_reads_as_none(s3, bucket) -> None:
    from ddbmigrate.migrate.state import MigrationState

    location = open_state_location(f"s3://{bucket}/migrations/orders", s3_client=s3)
    assert location.load() is None
    state = MigrationState("a", "b", path="import-table", owner="migrate@h:1/x", created={"import_token": "t"})
    state.step("plan").started = "2024-05-01T12:00:00+00:00"
    location.save(state)
    assert location.load().to_json() == state.to_json()  # type: ignore[union-attr]
    assert location.describe() == f"s3://{bucket}/migrations/orders/state.json"
    location.write_bytes("charts/load/wcu.png", b"\x89PNG\r\n")  # a chart beside the report, in a sub-folder
    assert s3.get_object(Bucket=bucket, Key="migrations/orders/charts/load/wcu.png")["Body"].read() == b"\x89PNG\r\n"


def test_on_glue_the_load_starts_the_deployed_job_with_this_migrations_arguments_and_a_resume_follows_that_run(
        source, target, s3, bucket, unique_name, moto_run_states) -> None:
    from ddbmigrate.migrate.state import MigrationState

    # GIVEN a deployed table-copy job (moto's Glue, which records runs but runs no script) with a default
    # argument of its own, and a migration whose state is on S3
    glue = target.client("glue")
    job = unique_name("copy-job")
    role = "arn:aws:iam::222222222222:role/ddbmigrate-target"
    glue.create_job(Name=job, Role="ddbmigrate-glue", GlueVersion="5.0", DefaultArguments={"--target_role_arn": role},
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/jobs/table_copy.py", "PythonVersion": "3"})
    state = f"s3://{bucket}/migrations/orders"
    options = MigrateOptions(source=source, source_table="orders", target=target, target_table="orders-copy",
                             path="table-copy", state=state, on_glue=job, workers=3, worker_type="G.2X")
    migration = Migration(options, open_state_location(state, s3_client=s3), sleep=lambda _: None)
    migration.state = MigrationState("orders", "orders-copy", path="table-copy", owner="migrate@host:1/abc")
    # WHEN the load runs the copy on Glue, and then once more as a resumed migration would
    first = migration._table_copy()
    again = migration._table_copy()
    # THEN one run was started and followed to its end; the resume followed the recorded run
    assert first == again and first["state"] == "SUCCEEDED"
    assert [r["Id"] for r in glue.get_job_runs(JobName=job)["JobRuns"]] == [first["glue_run_id"]]
    # with this migration's arguments over the job's defaults, its dead letters and run state under the state
    run = glue.get_job_run(JobName=job, RunId=first["glue_run_id"])["JobRun"]
    arguments = run["Arguments"]
    assert (arguments["--source_table"], arguments["--target_table"]) == ("orders", "orders-copy")
    assert arguments["--dead_letter"] == f"{state}/dead-letters/load"
    assert (arguments["--run_id"], arguments["--run_state"]) == ("migrate-abc", f"{state}/load-run-state")
    assert arguments["--target_role_arn"] == role and (run["WorkerType"], run["NumberOfWorkers"]) == ("G.2X", 3)
    assert json.loads(s3.get_object(Bucket=bucket, Key="migrations/orders/state.json")["Body"].read())["created"][
        "glue_run_id"] == first["glue_run_id"]
