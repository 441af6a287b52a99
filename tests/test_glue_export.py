"""gluelocal's DynamoDB export connector: its options and refusals, reading a past export
(``dynamodb.export=s3``), and the row shapes Glue documents for the raw export, ``unnestDDBJson``
and ``simplifyDDBJson`` (Glue's own examples, built from real items through a real export layout).

The PITR refusal needs a table with point-in-time recovery *off* as AWS reports it; DynamoDB Local
has no PITR API (it answers ``UnknownOperationException``), so that one case uses botocore's
Stubber against the real service model.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.export import emulate_export
from ddbmigrate.gluelocal.dynamodb_export import ExportSourceOptions, export_folder

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders"
GLUE_DOC_ITEM = {  # the item behind Glue's simplifyDDBJson example schema
    "pk": {"S": "k"},
    "parentMap": {"M": {"childMap": {"M": {"appName": {"S": "app"}, "packageName": {"S": "pkg"},
                                           "updatedAt": {"N": "1700000000"}}}}},
    "strings": {"SS": ["a", "b"]}, "numbers": {"NS": ["1", "2"]}, "binaries": {"BS": [b"\x01"]},
    "isDDBJson": {"BOOL": True}, "nullValue": {"NULL": True},
    "ColD": {"L": [{"S": "x"}]},
}  # fmt: skip


def _options(**extra: Any) -> dict[str, Any]:
    return {"dynamodb.export": "ddb", "dynamodb.tableArn": TABLE_ARN, "dynamodb.s3.bucket": "b", **extra}


@pytest.mark.parametrize(("options", "message"), [
    (_options(**{"dynamodb.input.tableName": "t"}),
     r"^unknown DynamoDB export connector option 'dynamodb\.input\.tableName'; Glue's export connector has"),
    (_options(**{"dynamodb.region": "eu-west-1"}), r"^unknown DynamoDB export connector option 'dynamodb\.region'"),
    ({"dynamodb.export": "ddb", "dynamodb.s3.bucket": "b"}, r"^dynamodb\.tableArn is required"),
    (_options(**{"dynamodb.export": "table"}), r"^dynamodb\.export: expected 'ddb' .* or 's3' .*, got 'table'$"),
    (_options(**{"dynamodb.unnestDDBJson": True, "dynamodb.simplifyDDBJson": "true"}),
     r"^dynamodb\.unnestDDBJson and dynamodb\.simplifyDDBJson are both true"),
    (_options(**{"dynamodb.unnestDDBJson": "yes"}), r"^dynamodb\.unnestDDBJson: expected true or false, got 'yes'$"),
    (_options(**{"dynamodb.s3.bucketOwner": "me"}), r"^dynamodb\.s3\.bucketOwner: 'me' is not a 12-digit"),
    (_options(**{"dynamodb.exportTime": "2024-05-01T12:00:00"}), r"^dynamodb\.exportTime: .* has no time zone"),
    ({"dynamodb.export": "s3", "dynamodb.tableArn": TABLE_ARN}, r"^dynamodb\.s3\.bucket is required locally"),
])  # fmt: skip
def test_options_glue_does_not_have_or_cannot_take_are_refused_in_one_line(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        ExportSourceOptions.from_glue_options(options)
    assert "\n" not in str(caught.value)


def test_options_as_glue_spells_them_any_case() -> None:
    options = ExportSourceOptions.from_glue_options({
        "dynamodb.export": "S3", "DYNAMODB.TABLEARN": TABLE_ARN, "dynamodb.s3.bucket": "b", "dynamodb.s3.prefix": "p/",
        "dynamodb.s3.bucketOwner": "123456789012", "dynamodb.simplifyDDBJson": True, "dynamodb.sts.roleArn": "arn:r",
        "dynamodb.exportTime": "2024-05-01T12:00:00Z",
    })  # fmt: skip
    assert (options.mode, options.prefix, options.bucket_owner, options.simplify, options.unnest) == ("s3", "p/", "123456789012", True, False)
    assert (options.region, options.session_name, options.export_time.isoformat()) == (
        "eu-west-1", "glue-dynamodb-read-sts-session", "2024-05-01T12:00:00+00:00")


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_export_ddb_on_a_table_without_pitr_is_refused_naming_the_option_and_table(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("describe_table", {"Table": {"TableName": "Orders", "TableArn": TABLE_ARN}}, {"TableName": TABLE_ARN})
    stub.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}},
        {"TableName": "Orders"})  # fmt: skip
    options = ExportSourceOptions.from_glue_options(_options())
    with pytest.raises(ExportError) as caught:
        export_folder(Account(region="eu-west-1", label="source"), options, dynamodb_client=client)
    text = str(caught.value)
    assert text.startswith(f"dynamodb.export=ddb: point-in-time recovery is off for table {TABLE_ARN}")
    assert "update-continuous-backups --table-name Orders" in text and "\n" not in text
    # Nothing was started: the Stubber would fail on an unexpected ExportTableToPointInTime.


# ----------------------------------------------------------------------------- reading a past export


@pytest.fixture(scope="module")
def exported(source: Any, source_ddb: Any, s3: Any) -> Iterator[tuple[str, str, str]]:
    """(bucket, table ARN, export folder URI): an export of one table holding Glue's example items."""
    name = f"glue-export-{uuid.uuid4().hex[:8]}"
    source_ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    source_ddb.put_item(TableName=name, Item=GLUE_DOC_ITEM)
    source_ddb.put_item(TableName=name, Item={"pk": {"S": "m"}, "mixed": {"N": "7"}})
    source_ddb.put_item(TableName=name, Item={"pk": {"S": "n"}, "mixed": {"S": "seven"}})
    bucket = f"glue-export-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    arn = source_ddb.describe_table(TableName=name)["Table"]["TableArn"]
    older = emulate_export(source, name, s3, bucket, "exports", data_files=2)
    source_ddb.put_item(TableName=name, Item={"pk": {"S": "late"}})
    folder = emulate_export(source, name, s3, bucket, "exports", data_files=2)
    assert older != folder
    yield bucket, arn, folder
    source_ddb.delete_table(TableName=name)


def _read(spark: Any, source: Any, bucket: str, arn: str, prefix: str, **extra: Any) -> Any:
    from ddbmigrate.gluelocal.context import GlueContext

    glue = GlueContext(spark, account=source)
    return glue.create_dynamic_frame.from_options("dynamodb", {
        "dynamodb.export": "s3", "dynamodb.tableArn": arn, "dynamodb.s3.bucket": bucket, "dynamodb.s3.prefix": prefix,
        **extra})  # fmt: skip


def test_export_s3_reads_the_newest_export_below_the_prefix_as_the_raw_item_column(
    spark: Any, source: Any, exported: tuple[str, str, str],
) -> None:
    bucket, arn, folder = exported
    frame = _read(spark, source, bucket, arn, "exports")
    assert frame.toDF().columns == ["Item"] and frame.count() == 4  # the newer export has 'late'
    by_key = {r["Item"]["pk"]["S"]: r["Item"] for r in frame.toDF().collect()}
    assert by_key["k"]["isDDBJson"]["BOOL"] is True and by_key["k"]["numbers"]["NS"] == ["1", "2"]
    # The folder itself works too, and a name that is not the export's table is refused.
    assert _read(spark, source, bucket, arn, folder.split("/", 3)[3]).count() == 4
    with pytest.raises(ConfigError, match=r"^dynamodb\.export=s3: no completed export of table other at "):
        _read(spark, source, bucket, arn.rsplit("/", 1)[0] + "/other", "exports")


def test_simplify_ddb_json_gives_glues_documented_schema(spark: Any, source: Any, exported: tuple[str, str, str]) -> None:
    bucket, arn, _ = exported
    frame = _read(spark, source, bucket, arn, "exports", **{"dynamodb.simplifyDDBJson": "true"})
    types = {f.name: f.dataType.simpleString() for f in frame.toDF().schema.fields}
    # Glue's example (docs: "Simplifying usage of DynamoDB export JSON"), field for field.
    assert types["parentMap"] == "struct<childMap:struct<appName:string,packageName:string,updatedAt:string>>"
    assert (types["strings"], types["numbers"], types["binaries"]) == ("array<string>",) * 3
    assert (types["isDDBJson"], types["nullValue"], types["ColD"]) == ("boolean", "void", "array<string>")
    # A field of two types across items is left as DynamoDB JSON (Glue would make it a choice).
    assert types["mixed"] == "struct<N:string,S:string>"
    row = {r["pk"]: r for r in frame.toDF().collect()}["k"]
    assert row["parentMap"]["childMap"]["updatedAt"] == "1700000000" and row["binaries"] == ["AQ=="]
    # The same transform as a DynamicFrame method on the raw frame.
    raw = _read(spark, source, bucket, arn, "exports")
    assert raw.simplify_ddb_json().toDF().schema == frame.toDF().schema


def test_unnest_ddb_json_gives_glues_documented_shape(spark: Any, source: Any, exported: tuple[str, str, str]) -> None:
    bucket, arn, _ = exported
    frame = _read(spark, source, bucket, arn, "exports").unnest_ddb_json()
    types = {f.name: f.dataType.simpleString() for f in frame.toDF().schema.fields}
    # Glue's example (DynamicFrame.unnest_ddb_json): S and N become strings, L an array of its
    # elements still in DynamoDB JSON; maps are flattened into dotted columns.
    assert (types["pk"], types["ColD"]) == ("string", "array<struct<S:string>>")
    assert "parentMap" not in types
    assert types["parentMap.childMap.updatedAt"] == "string" and types["isDDBJson"] == "boolean"
    row = {r["pk"]: r for r in frame.toDF().collect()}["k"]
    assert row["parentMap.childMap.appName"] == "app" and row["strings"] == ["a", "b"]
