"""A crawled Glue Data Catalog table as a schema: Hive type strings parsed, normalised, turned into rules."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.errors import ConfigError, MappingError
from ddbmigrate.mapping import load_mapping
from ddbmigrate.mapping.catalog import (
    hive_to_spark,
    parse_table_name,
    schema_from_catalog,
    schema_from_columns,
)
from ddbmigrate.schema import infer_schema, passthrough_reasons

CRAWLED_ITEM = (
    "struct<pk:struct<s:string>,sk:struct<n:string>,active:struct<bool:boolean>,nothing:struct<null:boolean>,"
    "tags:struct<ss:array<string>>,blob:struct<b:string>,"
    "address:struct<m:struct<city:struct<s:string>,geo:struct<m:struct<lat:struct<n:string>,lon:struct<n:string>>>>>,"
    "history:struct<l:array<struct<s:string,n:string>>>,mixed:struct<s:string,n:string>,"
    "`dotted.name`:struct<s:string>>"
)
ITEMS_LIKE_IT = [{
    "pk": {"S": "a"}, "sk": {"N": "1"}, "active": {"BOOL": True}, "nothing": {"NULL": True}, "tags": {"SS": ["x"]},
    "blob": {"B": b"\x00"}, "address": {"M": {"city": {"S": "c"}, "geo": {"M": {"lat": {"N": "1"}, "lon": {"N": "2"}}}}},
    "history": {"L": [{"S": "x"}]}, "mixed": {"S": "x"}, "dotted.name": {"S": "d"},
}, {"mixed": {"N": "1"}}]


def test_hive_types_parse_to_spark_json() -> None:
    assert hive_to_spark("string") == "string"
    assert hive_to_spark("bigint") == "long"
    assert hive_to_spark("decimal(38, 10)") == "decimal(38,10)"
    assert hive_to_spark("array<struct<S:string>>") == {
        "type": "array", "containsNull": True,
        "elementType": {"type": "struct", "fields": [{"name": "S", "type": "string", "nullable": True, "metadata": {}}]}}
    assert hive_to_spark("map<string,int>") == {"type": "map", "keyType": "string", "valueType": "integer",
                                                "valueContainsNull": True}
    odd = hive_to_spark("STRUCT<`a.b`: STRING, `x``y`: BOOLEAN, with space: STRING, ünï: STRING>")
    assert [f["name"] for f in odd["fields"]] == ["a.b", "x`y", "with space", "ünï"]
    assert hive_to_spark("struct<>") == {"type": "struct", "fields": []}


@pytest.mark.parametrize(
    ("text", "message"),
    [("struct<a:string", "expected '>'"), ("strng", "unknown Hive type 'strng'"), ("struct<`a:string>", "unclosed backtick"),
     ("array<string> x", "unexpected text after the type"), ("struct<a>", "expected 'name:type'")],
)
def test_bad_hive_types_name_the_position(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        hive_to_spark(text, where="Glue table db.t column 'item'")


def test_a_crawled_table_becomes_the_same_schema_as_a_local_crawl() -> None:
    schema = schema_from_columns([{"Name": "item", "Type": CRAWLED_ITEM}])
    assert schema == infer_schema(ITEMS_LIKE_IT)
    assert passthrough_reasons(schema) == {"Item.history": "L", "Item.mixed": "N, S"}


def test_a_table_that_is_not_a_crawled_export_is_refused() -> None:
    with pytest.raises(MappingError, match=r"expected one column 'item'.*found 'id', 'name'"):
        schema_from_columns([{"Name": "id", "Type": "string"}, {"Name": "name", "Type": "string"}], where="t")


def test_table_names() -> None:
    assert parse_table_name("db.orders_export_data") == ("db", "orders_export_data")
    assert parse_table_name("db.a.b") == ("db", "a.b")
    with pytest.raises(ConfigError, match=r"is not DB\.TABLE"):
        parse_table_name("orders")


@pytest.mark.integration
def test_generate_from_the_catalog(target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    glue = target.client("glue")
    database = f"migration_{uuid.uuid4().hex[:6]}"
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={
        "Name": "orders_export_data", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "json"},
        "StorageDescriptor": {"Columns": [{"Name": "item", "Type": CRAWLED_ITEM}],
                              "Location": "s3://b/p/AWSDynamoDB/01700000000000-0a1b2c3d/data/"},
    })
    assert schema_from_catalog(glue, database, "orders_export_data") == infer_schema(ITEMS_LIKE_IT)

    out = tmp_path / "orders.json"
    code = main(["mapping", "generate", "--catalog", f"{database}.orders_export_data", "--out", str(out),
                 "--profile", "target"])
    assert code == 0, capsys.readouterr().err
    mapping = load_mapping(out)
    assert mapping.source == {"catalog": f"{database}.orders_export_data"}
    assert ("Item.address.M.geo.M.lat.N", "string", "address.geo.lat", "string") in mapping.glue_tuples()
    assert ("Item.`dotted.name`.S", "string", "`dotted.name`", "string") in mapping.glue_tuples()

    capsys.readouterr()
    code = main(["mapping", "generate", "--catalog", f"{database}.missing", "--out", str(out), "--profile", "target"])
    assert code == 13  # AwsNotFound: Glue answered EntityNotFoundException
    assert f"Glue table {database}.missing not found" in capsys.readouterr().err
