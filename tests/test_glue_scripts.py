"""The corpus in tests/data/glue_scripts/: Glue scripts as people have them, run unchanged through
``run_script`` on the local stack; the target's items compared one by one with what Glue gives for
that shape — exact where Glue is exact, lossy where Glue is lossy (and ``verify`` names each loss)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.errors import AwsNotFound, ConfigError
from ddbmigrate.export import emulate_export
from ddbmigrate.gluelocal import run_script
from ddbmigrate.values import Item
from tests.tables import EVERY_TYPE_ITEMS as ITEMS

pytestmark = [pytest.mark.integration, pytest.mark.spark]

SCRIPTS = Path(__file__).parent / "data" / "glue_scripts"


def _table(client: Any, name: str) -> str:
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    return name


def _items(client: Any, name: str) -> dict[str, Item]:
    return {i["pk"]["S"]: i for i in client.scan(TableName=name, ConsistentRead=True)["Items"]}


@pytest.fixture(scope="module")
def source_table(source_ddb: Any) -> Iterator[str]:
    name = _table(source_ddb, f"scripts-{uuid.uuid4().hex[:8]}")
    for item in ITEMS:
        source_ddb.put_item(TableName=name, Item=item)
    yield name
    source_ddb.delete_table(TableName=name)


def _sorted_sets(item: Item) -> Item:
    return {k: ({t: sorted(v)} if t in ("SS", "NS", "BS") else {t: v}) for k, v in item.items() for t, v in [next(iter(v.items()))]}


def test_catalog_source_apply_mapping_dynamodb_sink(
    source: Any, source_table: str, s3: Any, bucket: str, target_ddb: Any, spark: Any, unique_name: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "target")
    uri = emulate_export(source, source_table, s3, bucket, "exports", data_files=2)
    database = f"scripts_{uuid.uuid4().hex[:6]}"
    assert main(["crawl", uri, "--register", f"{database}.orders_export_data", "--profile", "target"]) == 0
    target_table = _table(target_ddb, unique_name("shape1"))
    code = run_script(SCRIPTS / "catalog_to_dynamodb.py", ["--database", database, "--table_name", "orders_export_data",
                                                           "--target_table", target_table], spark=spark)
    assert code == 0
    # ApplyMapping is exact: each rule's target type decides the written type. The hand-written
    # rules make 'price' a string (so S, not N) and the set a list (L, not SS) — Glue's losses, kept.
    assert {k: _sorted_sets(v) for k, v in _items(target_ddb, target_table).items()} == {
        "a": {"pk": {"S": "a"}, "qty": {"N": "3"}, "price": {"S": "12345678901234567890.123456789"}, "ok": {"BOOL": True},
              "tags": {"L": [{"S": "x"}, {"S": "y"}]}, "address": {"M": {"city": {"S": "Porto"}}}},
        "b": {"pk": {"S": "b"}, "qty": {"N": "12345678901"}, "ok": {"BOOL": False}, "address": {"M": {"city": {"S": "Lisboa"}}}},
    }  # fmt: skip
    # An unknown catalog table: one line naming it and how to register it (Glue's EntityNotFound: exit 13).
    capsys.readouterr()
    code = run_script(SCRIPTS / "catalog_to_dynamodb.py", ["--database", database, "--table_name", "nope",
                                                           "--target_table", target_table], spark=spark)
    assert code == AwsNotFound.exit_code
    assert (f"catalog_to_dynamodb.py: error: from_catalog: Glue table {database}.nope not found in target (profile=target); "
            f"register it with 'ddbmigrate crawl EXPORT_URI --register {database}.nope'") in capsys.readouterr().err


def test_scan_connector_table_copy_with_explicit_sink_credentials(
    source_table: str, target_ddb: Any, spark: Any, unique_name: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The script names accounts by role ARN and region; locally they resolve to the stack's profiles.
    monkeypatch.setenv("AWS_PROFILE", "target")
    monkeypatch.setenv("DDBMIGRATE_GLUELOCAL_ACCOUNTS", "111111111111=source,us-east-1=target")
    target_table = _table(target_ddb, unique_name("shape2"))
    code = run_script(SCRIPTS / "scan_table_copy.py", [
        "--source_table", source_table, "--source_role_arn", "arn:aws:iam::111111111111:role/glue-reader",
        "--source_region", "eu-west-1", "--target_table", target_table, "--target_region", "us-east-1",
        "--target_access_key_id", "AKIDEXPLICIT00000001", "--target_secret_access_key", "explicit-secret",
    ], spark=spark)
    assert code == 0, capsys.readouterr().err[-2000:]
    assert "read 2 items" in capsys.readouterr().out
    got = _items(target_ddb, target_table)
    a, b = got["a"], got["b"]
    # Exact: S, whole N within long, BOOL, B, M of those.
    assert {k: a[k] for k in ("pk", "qty", "ok", "blob", "dotted.name")} == {k: ITEMS[0][k] for k in ("pk", "qty", "ok", "blob", "dotted.name")}
    assert b["qty"] == {"N": "12345678901"} and b["address"] == {"M": {"city": {"S": "Lisboa"}}}
    # Lossy, as Glue's reader is: sets become lists, a non-whole N a double, NULL vanishes,
    # a field of two types (and a mixed list) becomes DynamoDB JSON text.
    assert a["tags"] == {"L": [{"S": "x"}, {"S": "y"}]}
    assert [Decimal(v["N"]) for v in a["nums"]["L"]] == [Decimal(1), Decimal("2.5")]
    assert Decimal(a["price"]["N"]) == Decimal(repr(float("12345678901234567890.123456789")))
    assert "nothing" not in a
    assert a["mixed"] == {"S": '{"S":"text"}'} and b["mixed"] == {"S": '{"N":"7"}'}
    assert a["history"] == {"L": [{"S": '{"S":"x"}'}, {"S": '{"N":"1"}'}]}
    assert a["address"] == {"M": {"city": {"S": "Porto"}, "geo": {"M": {"lat": {"N": "41.1"}}}}}
    # verify names each such difference (paths and types, never values).
    code = main(["verify", "--source-table", source_table, "--source-profile", "source",
                 "--target-table", target_table, "--target-profile", "target"])
    report = capsys.readouterr()
    assert code != 0
    text = report.out + report.err
    for expected in ("attribute 'tags': SS in source, L in target", "attribute 'nums': NS in source, L in target",
                     "attribute 'nothing': missing in target", "attribute 'mixed'", "attribute 'price'"):
        assert expected in text, text[-3000:]


def test_scan_connector_refusals(spark: Any, target: Any) -> None:
    from ddbmigrate.gluelocal.context import GlueContext

    glue = GlueContext(spark, account=target)
    with pytest.raises(ConfigError, match=r"^dynamodb\.input\.tableName is required"):
        glue.create_dynamic_frame.from_options("dynamodb", {"dynamodb.splits": "2"})
    with pytest.raises(ConfigError, match=r"^unknown DynamoDB scan connector option 'dynamodb\.input\.filter'; Glue's scan connector has"):
        glue.create_dynamic_frame.from_options("dynamodb", {"dynamodb.input.tableName": "t", "dynamodb.input.filter": "x"})
    with pytest.raises(ConfigError, match=r"dynamodb\.throughput\.read\.percent"):
        glue.create_dynamic_frame.from_options("dynamodb", {"dynamodb.input.tableName": "t",
                                                            "dynamodb.throughput.read.percent": "3"})


def test_export_connector_unnest_ddb_json_into_dynamodb_sink(
    source_ddb: Any, source_table: str, bucket: str, target_ddb: Any, spark: Any, unique_name: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # DynamoDB Local has no export API: the connector's export is emulated (same files as AWS's).
    monkeypatch.setenv("AWS_PROFILE", "target")
    monkeypatch.setenv("DDBMIGRATE_GLUELOCAL_ACCOUNTS", "111111111111=source")
    table_arn = source_ddb.describe_table(TableName=source_table)["Table"]["TableArn"]
    target_table = _table(target_ddb, unique_name("shape3"))
    code = run_script(SCRIPTS / "export_connector.py", [
        "--source_table_arn", table_arn, "--source_role_arn", "arn:aws:iam::111111111111:role/glue-export",
        "--export_bucket", bucket, "--export_prefix", "temporary/ddbexport/", "--target_table", target_table,
    ], spark=spark)
    assert code == 0, capsys.readouterr().err[-2000:]
    assert "exported 2 items" in capsys.readouterr().out
    got = {k: _sorted_sets(v) for k, v in _items(target_ddb, target_table).items()}
    # Exact: S, BOOL, names with dots.
    # Lossy, as Glue documents unnestDDBJson: N and B stay the export's text (written as S), sets
    # become lists, NULL vanishes, a map is flattened into 'parent.child' attributes, a list keeps
    # its elements as DynamoDB JSON (written as maps), a field of two types stays DynamoDB JSON.
    assert got == {
        "a": {"pk": {"S": "a"}, "qty": {"S": "3"}, "price": {"S": "12345678901234567890.123456789"}, "ok": {"BOOL": True},
              "blob": {"S": "AP8="}, "tags": {"L": [{"S": "x"}, {"S": "y"}]}, "nums": {"L": [{"S": "1"}, {"S": "2.5"}]},
              "address.city": {"S": "Porto"}, "address.geo.lat": {"S": "41.1"},
              "history": {"L": [{"M": {"S": {"S": "x"}}}, {"M": {"N": {"S": "1"}}}]}, "dotted.name": {"S": "d"},
              "mixed": {"M": {"S": {"S": "text"}}}},
        "b": {"pk": {"S": "b"}, "qty": {"S": "12345678901"}, "ok": {"BOOL": False}, "mixed": {"M": {"N": {"S": "7"}}},
              "address.city": {"S": "Lisboa"}},
    }  # fmt: skip
    # verify names each such difference (paths and types, never values).
    code = main(["verify", "--source-table", source_table, "--source-profile", "source",
                 "--target-table", target_table, "--target-profile", "target"])
    report = capsys.readouterr()
    assert code != 0
    text = report.out + report.err
    for expected in ("attribute 'qty': N in source, S in target", "attribute 'blob': B in source, S in target",
                     "attribute 'tags': SS in source, L in target", "attribute 'nothing': missing in target",
                     "attribute 'address': missing in target", "attribute 'mixed'", "attribute 'history'"):
        assert expected in text, text[-3000:]
