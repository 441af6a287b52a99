"""``crawl --register`` writes the table the Glue crawler writes (moto's Glue), and the local
runtime's ``from_catalog`` reads it with its catalog schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.errors import ConfigError
from ddbmigrate.export import emulate_export
from ddbmigrate.mapping import load_mapping
from ddbmigrate.mapping.catalog import schema_from_catalog
from ddbmigrate.mapping.register import HiveTypeAccumulator, hive_type_string
from ddbmigrate.schema import infer_schema
from tests.tables import EVERY_TYPE_ITEMS as ITEMS


def test_crawler_json_inference_merges_as_the_crawler_does() -> None:
    acc = HiveTypeAccumulator()
    acc.add({"Item": {"a": {"S": "x"}, "l": {"L": []}}}, 10)
    acc.add({"Item": {"a": {"N": "1"}, "l": {"L": [{"S": "x"}]}, "odd name": {"BOOL": True}}}, 20)
    assert acc.keys == ["Item"] and acc.records == 2
    assert acc.columns() == [{"Name": "item", "Type": "struct<a:struct<S:string,N:string>,"
                                                       "l:struct<L:array<struct<S:string>>>,`odd name`:struct<BOOL:boolean>>"}]
    assert hive_type_string(("array", None)) == "array<string>"


@pytest.fixture(scope="module")
def registered(source: Any, source_ddb: Any, s3: Any, target: Any) -> Iterator[tuple[str, str, str]]:
    """ITEMS exported (emulated) into the target's bucket and registered as ``<db>.orders_export_data``."""
    table, bucket = f"cat-{uuid.uuid4().hex[:8]}", f"cat-{uuid.uuid4().hex[:8]}"
    source_ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    for item in ITEMS:
        source_ddb.put_item(TableName=table, Item=item)
    s3.create_bucket(Bucket=bucket)
    uri = emulate_export(source, table, s3, bucket, "exports", data_files=2)
    database = f"migration_{uuid.uuid4().hex[:6]}"
    assert main(["crawl", uri, "--register", f"{database}.orders_export_data", "--profile", "target"]) == 0
    yield uri, database, "orders_export_data"
    source_ddb.delete_table(TableName=table)


@pytest.mark.integration
def test_register_writes_the_crawlers_table(registered: tuple[str, str, str], target: Any) -> None:
    uri, database, name = registered
    glue = target.client("glue")
    table = glue.get_table(DatabaseName=database, Name=name)["Table"]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == uri.rstrip("/") + "/data/"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert sd["SerdeInfo"] == {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {"paths": "Item"}}
    assert sd["Compressed"] is False and table["TableType"] == "EXTERNAL_TABLE" and table.get("PartitionKeys", []) == []
    params = table["Parameters"]
    assert {k: params[k] for k in ("classification", "compressionType", "typeOfData", "recordCount", "objectCount")} == {
        "classification": "json", "compressionType": "gzip", "typeOfData": "file", "recordCount": "2", "objectCount": "2"}
    assert int(params["sizeKey"]) > 0 and int(params["averageRecordSize"]) > 0 and params["UPDATED_BY_CRAWLER"]
    assert sd["Parameters"] == params
    [column] = sd["Columns"]
    assert column["Name"] == "item"
    assert "address:struct<M:struct<city:struct<S:string>,geo:struct<M:struct<lat:struct<N:string>>>>>" in column["Type"]
    assert "`dotted.name`:struct<S:string>" in column["Type"] and "tags:struct<SS:array<string>>" in column["Type"]
    # The catalog's schema is the local crawl's (no map here is ever empty, the one thing a catalog cannot tell).
    assert schema_from_catalog(glue, database, name) == infer_schema(ITEMS)


@pytest.mark.integration
def test_mapping_generate_from_the_registered_table(
    registered: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, database, name = registered
    from_catalog, from_export = tmp_path / "catalog.json", tmp_path / "export.json"
    assert main(["mapping", "generate", "--catalog", f"{database}.{name}", "--out", str(from_catalog),
                 "--profile", "target"]) == 0, capsys.readouterr().err
    assert main(["mapping", "generate", "--export", uri, "--out", str(from_export), "--profile", "target"]) == 0
    assert load_mapping(from_catalog).glue_tuples() == load_mapping(from_export).glue_tuples()
    # Registering again updates the table in place.
    assert main(["crawl", uri, "--register", f"{database}.{name}", "--profile", "target"]) == 0


@pytest.mark.integration
def test_register_refusals(registered: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    uri, _database, _name = registered
    assert main(["crawl", uri, "--register", "no_dot", "--profile", "target"]) == ConfigError.exit_code
    assert "--register: 'no_dot' is not DB.TABLE" in capsys.readouterr().err
    assert main(["crawl", uri, "--profile", "target"]) == ConfigError.exit_code
    assert "give --out FILE, --register DB.TABLE, or both" in capsys.readouterr().err


# --------------------------------------------------------------------------- from_catalog


@pytest.mark.integration
@pytest.mark.spark
def test_from_catalog_reads_with_the_catalog_schema(
    registered: tuple[str, str, str], spark: Any, target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ddbmigrate.gluelocal.context import GlueContext

    _uri, database, name = registered
    glue = GlueContext(spark, account=target)
    frame = glue.create_dynamic_frame.from_catalog(database=database, table_name=name, transformation_ctx="src")
    df = frame.toDF()
    assert df.columns == ["item"]
    item_type = df.schema["item"].dataType
    # The crawler typed 'address' a struct: it stays that struct (Spark's inference would agree here,
    # but 'mixed' is struct<S,N> only because the catalog says so).
    assert item_type["address"].dataType.simpleString() == "struct<M:struct<city:struct<S:string>,geo:struct<M:struct<lat:struct<N:string>>>>>"
    assert sorted(f.simpleString() for f in item_type["mixed"].dataType.fields) == ["N:string", "S:string"]
    rows = {r["item"]["pk"]["S"]: r["item"] for r in df.collect()}
    assert rows["a"]["price"]["N"] == "12345678901234567890.123456789" and rows["b"]["mixed"]["N"] == "7"
    assert rows["a"]["history"]["L"][1]["N"] == "1" and rows["b"]["blob"] is None
    assert frame.name == name
    # Glue's simplify_ddb_json works on the crawler's lower-cased 'item' column as on an export's 'Item'.
    simplified = frame.simplify_ddb_json().toDF()
    assert simplified.schema["address"].dataType.simpleString() == "struct<city:string,geo:struct<lat:string>>"
    assert {r["pk"]: r["qty"] for r in simplified.collect()} == {"a": "3", "b": "12345678901"}
    df2 = glue.create_data_frame.from_catalog(database=database, table_name=name)
    assert df2.count() == 2
    assert glue.create_dynamic_frame_from_catalog(database, name).count() == 2
    mapped = frame.apply_mapping([("item.pk.S", "string", "pk", "string"), ("item.price.N", "string", "price", "decimal(38,9)")],
                                 case_sensitive=True).toDF()
    assert {r["pk"]: r["price"] for r in mapped.collect()} == {"a": Decimal("12345678901234567890.123456789"), "b": None}


@pytest.mark.integration
@pytest.mark.spark
def test_from_catalog_refusals(registered: tuple[str, str, str], spark: Any, target: Any) -> None:
    from ddbmigrate.gluelocal.context import GlueContext

    _uri, database, name = registered
    glue = GlueContext(spark, account=target)
    with pytest.raises(ConfigError, match=rf"^from_catalog: Glue table {database}\.missing not found in .*target"):
        glue.create_dynamic_frame.from_catalog(database=database, table_name="missing")
    with pytest.raises(ConfigError, match=r"^push_down_predicate: .* has no partition keys"):
        glue.create_dynamic_frame.from_catalog(database=database, table_name=name, push_down_predicate="year='2024'")
    with pytest.raises(ConfigError, match=r"^additional_options: 'jsonPath' is not supported"):
        glue.create_dynamic_frame.from_catalog(database=database, table_name=name, additional_options={"jsonPath": "$"})


@pytest.mark.integration
@pytest.mark.spark
def test_from_catalog_reads_a_partitioned_table_and_push_down_predicate_selects_partitions(
    spark: Any, target: Any, s3: Any, bucket: str,
) -> None:
    """A Hive-partitioned JSON table (as a crawler registers ``year=…/month=…`` folders): each
    partition's location is read, its keys become columns of their catalog types, and the
    predicate picks partitions by key before reading — a partition it excludes is not read."""
    from ddbmigrate.gluelocal.context import GlueContext

    glue_client = target.client("glue")
    database, name = f"parts_{uuid.uuid4().hex[:6]}", "events"
    glue_client.create_database(DatabaseInput={"Name": database})
    sd = {"Columns": [{"Name": "id", "Type": "string"}, {"Name": "n", "Type": "int"}],
          "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
          "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}
    glue_client.create_table(DatabaseName=database, TableInput={
        "Name": name, "Parameters": {"classification": "json"}, "StorageDescriptor": {**sd, "Location": f"s3://{bucket}/events/"},
        "PartitionKeys": [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "int"}]})  # fmt: skip
    for year, month in (("2024", "11"), ("2024", "12"), ("2025", "1")):
        s3.put_object(Bucket=bucket, Key=f"events/year={year}/month={month}/part-0.json",
                      Body=f'{{"id": "{year}-{month}", "n": {month}}}\n'.encode())
        glue_client.create_partition(DatabaseName=database, TableName=name, PartitionInput={
            "Values": [year, month], "StorageDescriptor": {**sd, "Location": f"s3://{bucket}/events/year={year}/month={month}/"}})
    # A partition holding a malformed line: only a read that selects it fails.
    s3.put_object(Bucket=bucket, Key="events/year=2023/month=1/part-0.json", Body=b"{not json\n")
    glue_client.create_partition(DatabaseName=database, TableName=name, PartitionInput={
        "Values": ["2023", "1"], "StorageDescriptor": {**sd, "Location": f"s3://{bucket}/events/year=2023/month=1/"}})
    glue = GlueContext(spark, account=target)
    with pytest.raises(ConfigError, match=r"events/year=2023/month=1/part-0\.json line 1"):
        glue.create_dynamic_frame.from_catalog(database=database, table_name=name)
    everything = glue.create_dynamic_frame.from_catalog(database=database, table_name=name,
                                                        push_down_predicate="year >= '2024'").toDF()
    assert everything.columns == ["id", "n", "year", "month"]
    assert dict(everything.dtypes)["month"] == "int"
    assert sorted((r["id"], r["year"], r["month"]) for r in everything.collect()) == [
        ("2024-11", "2024", 11), ("2024-12", "2024", 12), ("2025-1", "2025", 1)]
    picked = glue.create_dynamic_frame.from_catalog(database=database, table_name=name,
                                                    push_down_predicate="year = '2024' and month > 11").toDF()
    assert [r["id"] for r in picked.collect()] == ["2024-12"]
    with pytest.raises(ConfigError, match=r"^push_down_predicate: \"id = 'x'\" cannot be evaluated on the partition keys "
                                          rf"of Glue table {database}\.events \(year, month\)") as caught:
        glue.create_dynamic_frame.from_catalog(database=database, table_name=name, push_down_predicate="id = 'x'")
    assert "\n" not in str(caught.value)
