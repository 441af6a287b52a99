"""Starting and waiting for the native export; falling back to emulation on DynamoDB Local.

No local service implements ``ExportTableToPointInTime`` faithfully (DynamoDB Local has no export
API; moto's writes a different layout and malformed ARNs), so the AWS-side requests are checked
with botocore's Stubber against the real service model. The fallback is tested against the real
DynamoDB Local, whose ``UnknownOperationException`` is what triggers it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.export import ExportRequest, export_folder_uri, open_export, run_export, wait_for_export
from ddbmigrate.export.trigger import ensure_pitr, start_export
from ddbmigrate.sample import create_sample_table, sample_items

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders"
EXPORT_ARN = f"{TABLE_ARN}/export/01714557600000-5f0c1a2b"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def ddb() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _table() -> dict[str, Any]:
    return {"Table": {"TableName": "Orders", "TableArn": TABLE_ARN, "TableId": "12345a12-abcd-123a-ab12-1234abc12345"}}


def _pitr(enabled: bool, earliest: datetime | None = None) -> dict[str, Any]:
    description: dict[str, Any] = {"PointInTimeRecoveryStatus": "ENABLED" if enabled else "DISABLED"}
    if earliest is not None:
        description["EarliestRestorableDateTime"] = earliest
    return {"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED",
                                            "PointInTimeRecoveryDescription": description}}


def _description(status: str, **extra: Any) -> dict[str, Any]:
    return {"ExportDescription": {"ExportArn": EXPORT_ARN, "ExportStatus": status, "S3Bucket": "target-exports",
                                  "S3Prefix": "orders", **extra}}


# ----------------------------------------------------------------------------- PITR


def test_pitr_off_stops_with_the_fix_and_starts_nothing(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_response("describe_continuous_backups", _pitr(False), {"TableName": "Orders"})
    with pytest.raises(ExportError, match=r"point-in-time recovery is off for table 'Orders'.*--enable-pitr.*"
                                          r"update-continuous-backups --table-name Orders"):
        ensure_pitr(client, "Orders")


def test_enable_pitr_turns_it_on(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_response("describe_continuous_backups", _pitr(False), {"TableName": "Orders"})
    stub.add_response("update_continuous_backups", _pitr(True), {
        "TableName": "Orders", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
    assert ensure_pitr(client, "Orders", enable=True) is True


def test_export_time_is_checked_against_the_restorable_window(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    earliest = NOW - timedelta(days=3)
    for _ in range(3):
        stub.add_response("describe_continuous_backups", _pitr(True, earliest), {"TableName": "Orders"})
    with pytest.raises(ConfigError, match=r"--export-time: .* is in the future"):
        ensure_pitr(client, "Orders", export_time=NOW + timedelta(minutes=1), now=NOW)
    with pytest.raises(ConfigError, match=r"--export-time: .* is before the earliest restorable time"):
        ensure_pitr(client, "Orders", export_time=earliest - timedelta(seconds=1), now=NOW)
    assert ensure_pitr(client, "Orders", export_time=earliest, now=NOW) is False
    stub.add_response("describe_continuous_backups", _pitr(False), {"TableName": "Orders"})
    with pytest.raises(ConfigError, match=r"point-in-time recovery is off .* drop --export-time"):
        ensure_pitr(client, "Orders", enable=True, export_time=NOW - timedelta(hours=1), now=NOW)


# ----------------------------------------------------------------------------- the request


def test_export_request_goes_to_the_target_accounts_bucket_in_dynamodb_json(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    at = NOW - timedelta(hours=1)
    stub.add_response("export_table_to_point_in_time", _description("IN_PROGRESS"), {
        "TableArn": TABLE_ARN, "S3Bucket": "target-exports", "S3Prefix": "orders", "S3BucketOwner": "444455556666",
        "ExportFormat": "DYNAMODB_JSON", "ExportType": "FULL_EXPORT", "ExportTime": at, "ClientToken": ANY})
    request = ExportRequest(table="Orders", bucket="target-exports", prefix="orders", bucket_owner="444455556666",
                            export_time=at)
    assert start_export(client, request, TABLE_ARN)["ExportStatus"] == "IN_PROGRESS"


def test_refusals_from_dynamodb_become_actionable_errors(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_client_error("export_table_to_point_in_time", "InvalidExportTimeException", "too old")
    stub.add_client_error("export_table_to_point_in_time", "LimitExceededException", "300 exports")
    request = ExportRequest(table="Orders", bucket="target-exports")
    with pytest.raises(ConfigError, match=r"--export-time: DynamoDB refused it \(too old\)"):
        start_export(client, request, TABLE_ARN)
    with pytest.raises(ExportError, match="too many exports are running"):
        start_export(client, request, TABLE_ARN)


def test_request_options_are_validated_up_front() -> None:
    with pytest.raises(ConfigError, match="--bucket-owner: '12345' is not a 12-digit AWS account id"):
        ExportRequest(table="t", bucket="b", bucket_owner="12345")
    with pytest.raises(ConfigError, match="--export-time: give a time zone"):
        ExportRequest(table="t", bucket="b", export_time=datetime(2024, 1, 1))


# ----------------------------------------------------------------------------- waiting


def test_wait_polls_until_completed_without_really_sleeping(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_response("describe_export", _description("IN_PROGRESS"), {"ExportArn": EXPORT_ARN})
    stub.add_response("describe_export", _description("IN_PROGRESS"), {"ExportArn": EXPORT_ARN})
    stub.add_response("describe_export", _description(
        "COMPLETED", ExportManifest="orders/AWSDynamoDB/01714557600000-5f0c1a2b/manifest-summary.json", ItemCount=7),
        {"ExportArn": EXPORT_ARN})
    slept: list[float] = []
    polls: list[str] = []
    done = wait_for_export(client, EXPORT_ARN, poll_seconds=30, sleep=slept.append,
                           on_poll=lambda d, _elapsed: polls.append(d["ExportStatus"]))
    assert done["ItemCount"] == 7
    assert slept == [30, 30]
    assert polls == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]


def test_a_failed_export_is_raised_with_aws_reason_and_a_hint(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_response("describe_export", _description(
        "FAILED", FailureCode="S3AccessDenied", FailureMessage="Access Denied"), {"ExportArn": EXPORT_ARN})
    with pytest.raises(ExportError, match=r"FAILED: S3AccessDenied: Access Denied — the bucket policy must"):
        wait_for_export(client, EXPORT_ARN, sleep=lambda s: None)


def test_waiting_gives_up_at_the_timeout_and_says_how_to_resume(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    for _ in range(3):
        stub.add_response("describe_export", _description("IN_PROGRESS"), {"ExportArn": EXPORT_ARN})
    ticks = iter([0.0, 10.0, 20.0, 30.0])
    with pytest.raises(ExportError, match=f"still IN_PROGRESS after 30s.*ddbmigrate export wait {EXPORT_ARN}"):
        wait_for_export(client, EXPORT_ARN, timeout_seconds=25, sleep=lambda s: None, clock=lambda: next(ticks))


def test_folder_uri_comes_from_the_manifest_or_the_arn() -> None:
    base = _description("COMPLETED")["ExportDescription"]
    folder = "s3://target-exports/orders/AWSDynamoDB/01714557600000-5f0c1a2b/"
    assert export_folder_uri(base) == folder
    key = "orders/AWSDynamoDB/01714557600000-5f0c1a2b/manifest-summary.json"
    assert export_folder_uri({**base, "ExportManifest": key}) == folder
    assert export_folder_uri({**base, "ExportManifest": f"s3://target-exports/{key}"}) == folder
    assert export_folder_uri({**base, "S3Prefix": None}) == "s3://target-exports/AWSDynamoDB/01714557600000-5f0c1a2b/"


def test_run_export_on_aws_returns_the_folder_without_emulating(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_response("describe_table", _table(), {"TableName": TABLE_ARN})
    stub.add_response("describe_continuous_backups", _pitr(True), {"TableName": "Orders"})
    stub.add_response("export_table_to_point_in_time", _description("IN_PROGRESS"), {
        "TableArn": TABLE_ARN, "S3Bucket": "target-exports", "S3Prefix": "orders", "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT", "ClientToken": ANY})
    stub.add_response("describe_export", _description("COMPLETED", ItemCount=3), {"ExportArn": EXPORT_ARN})
    notes: list[str] = []
    outcome = run_export(Account(), ExportRequest(table=TABLE_ARN, bucket="target-exports", prefix="orders"),
                         wait=True, dynamodb_client=client, notify=notes.append, sleep=lambda s: None)
    assert outcome.folder_uri == "s3://target-exports/orders/AWSDynamoDB/01714557600000-5f0c1a2b/"
    assert (outcome.emulated, outcome.status, outcome.item_count, outcome.export_arn) == (False, "COMPLETED", 3, EXPORT_ARN)
    assert notes == []


# ----------------------------------------------------------------------------- DynamoDB Local


@pytest.fixture
def local_table(source_ddb: Any) -> Iterator[str]:
    name = f"export-trigger-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    for item in sample_items(5):
        source_ddb.put_item(TableName=name, Item=item)
    yield name
    source_ddb.delete_table(TableName=name)


@pytest.mark.integration
def test_dynamodb_local_has_no_export_api_so_the_export_is_emulated_and_said(
    source: Any, s3: Any, local_table: str, bucket: str
) -> None:
    notes: list[str] = []
    outcome = run_export(source, ExportRequest(table=local_table, bucket=bucket, prefix="auto"),
                         s3_client=s3, notify=notes.append)
    assert outcome.emulated and outcome.status == "COMPLETED"
    assert len(notes) == 1 and "UnknownOperationException" in notes[0] and "emulating" in notes[0]
    export = open_export(outcome.folder_uri, s3)
    assert outcome.folder_uri.startswith(f"s3://{bucket}/auto/AWSDynamoDB/")
    assert export.summary["exportArn"] == outcome.export_arn
    assert export.check().items == 5


@pytest.mark.integration
def test_fallback_can_be_forbidden_or_forced(source: Any, s3: Any, local_table: str, bucket: str) -> None:
    request = ExportRequest(table=local_table, bucket=bucket)
    with pytest.raises(ExportError, match="has no export API"):
        run_export(source, request, s3_client=s3, emulate=False)
    notes: list[str] = []
    forced = run_export(source, request, s3_client=s3, emulate=True, notify=notes.append)
    assert forced.emulated and notes == []
    assert open_export(forced.folder_uri, s3).item_count == 5


@pytest.mark.integration
def test_an_unknown_table_is_named(source: Any, s3: Any, bucket: str) -> None:
    with pytest.raises(ConfigError, match=r"--table: table 'no-such-table' not found in source \(profile=source"):
        run_export(source, ExportRequest(table="no-such-table", bucket=bucket), s3_client=s3)
