"""The local Glue runtime: argument parsing as Glue 5.0 does it, the awsglue shim, S3 sources on
moto, DynamicFrame and transforms on real Spark, the DynamoDB writer on DynamoDB Local, and Glue
scripts run end to end with ``run_script``."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality

from ddbmigrate.errors import ConfigError, ExportError, InvalidItemError, MappingError
from ddbmigrate.gluelocal import (
    AwsGlueStatus,
    awsglue_status,
    glue_argv,
    install_awsglue_shim,
    run_script,
    shim,
)
from ddbmigrate.gluelocal.context import GlueContext
from ddbmigrate.gluelocal.dynamicframe import DynamicFrame
from ddbmigrate.gluelocal.gluetypes import DecimalType, IntegerType, StringType, StructType
from ddbmigrate.gluelocal.job import Job
from ddbmigrate.gluelocal.staging import glob_to_regex, is_hidden
from ddbmigrate.gluelocal.transforms import (
    ApplyMapping,
    DropFields,
    DropNullFields,
    Filter,
    RenameField,
    ResolveChoice,
    SelectFields,
    Union,
)
from ddbmigrate.gluelocal.utils import GlueArgumentError, getResolvedOptions
from ddbmigrate.mapping import row_to_item

DATA = Path(__file__).parent / "data"

# The names Glue 5.0's awsglue/transforms/__init__.py exports (its ALL_TRANSFORMS).
GLUE_TRANSFORM_NAMES = {
    "Unbox", "RenameField", "DropFields", "SplitFields", "SelectFields", "SplitRows", "UnnestFrame",
    "Relationalize", "SelectFromCollection", "MapToCollection", "ErrorsAsDynamicFrame", "FlatMap",
    "DropNullFields", "Join", "ApplyMapping", "Repartition", "ResolveChoice", "Spigot", "Filter", "Map",
    "Coalesce", "Union",
}  # fmt: skip


@pytest.fixture(scope="module")
def spark(local_stack: Any, spark: Any) -> Any:
    """The shared session, requested after the local stack.

    Spark's Python workers inherit the environment the driver had when the JVM started; the
    DynamoDB writer builds its clients in those workers from the stack's ``AWS_CONFIG_FILE``, so
    the stack must be up first (in a full run the earlier integration modules see to that).
    """
    return spark


# --------------------------------------------------------------------------- getResolvedOptions


def _glue(*args: str) -> list[str]:
    return ["script.py", *args]


def test_resolves_requested_arguments_and_glue_own_ones() -> None:
    argv = _glue("--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--job-bookmark-option", "job-bookmark-disable",
                 "--TempDir", "s3://tmp/x", "--JOB_NAME", "copy", "--table", "orders", "--not_asked", "1")  # fmt: skip
    args = getResolvedOptions(argv, ["JOB_NAME", "table"])
    assert args == {
        "job_bookmark_option": "job-bookmark-disable",
        "job_bookmark_from": None,
        "job_bookmark_to": None,
        "JOB_ID": "j_1",
        "JOB_RUN_ID": "jr_1",
        "SECURITY_CONFIGURATION": None,
        "encryption_type": None,
        "enable_data_lineage": None,
        "RedshiftTempDir": "s3://tmp/x",
        "TempDir": "s3://tmp/x",
        "JOB_NAME": "copy",
        "table": "orders",
    }


def test_key_equals_value_dashes_and_negative_values() -> None:
    args = getResolvedOptions(_glue("--JOB_NAME=j", "--write-percent", "-1", "--x=a=b"), ["write-percent", "x"])
    # JOB_NAME is not one of the arguments Glue always returns: a script must ask for it.
    assert (args["write_percent"], args["x"], "JOB_NAME" in args) == ("-1", "a=b", False)


def test_missing_argument_is_named() -> None:
    with pytest.raises(GlueArgumentError, match="the following arguments are required: --table") as info:
        getResolvedOptions(_glue("--JOB_NAME", "j"), ["JOB_NAME", "table"])
    assert isinstance(info.value, ConfigError)


def test_reserved_arguments_fail_as_on_glue() -> None:
    with pytest.raises(RuntimeError, match="Using reserved arguments job-bookmark-option"):
        getResolvedOptions(_glue(), ["job-bookmark-option"])
    with pytest.raises(RuntimeError, match="Using reserved arguments --job-bookmark-from"):
        getResolvedOptions(_glue(), ["job-bookmark-from"])
    with pytest.raises(argparse.ArgumentError, match="conflicting option string: --JOB_ID"):
        getResolvedOptions(_glue(), ["JOB_ID"])
    with pytest.raises(GlueArgumentError, match="invalid choice"):
        getResolvedOptions(_glue("--job-bookmark-option", "on"), [])


def test_temp_dir_is_optional_and_mirrored() -> None:
    assert getResolvedOptions(_glue(), ["TempDir"])["TempDir"] is None
    args = getResolvedOptions(_glue("--RedshiftTempDir", "s3://r/"), ["TempDir"])
    assert (args["TempDir"], args["RedshiftTempDir"]) == ("s3://r/", "s3://r/")


def test_bookmark_options() -> None:
    legacy = getResolvedOptions(_glue("--continuation-option", "continuation-readonly"), [])
    assert legacy["job_bookmark_option"] == "job-bookmark-pause" and "continuation_option" not in legacy
    both = _glue("--continuation-option", "continuation-enabled", "--job-bookmark-option", "job-bookmark-disable")
    assert getResolvedOptions(both, [])["job_bookmark_option"] == "job-bookmark-disable"
    with pytest.raises(RuntimeError, match="Missing option or value for --job-bookmark-to"):
        getResolvedOptions(_glue("--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", "1"), [])
    with pytest.raises(RuntimeError, match="Invalid option"):
        getResolvedOptions(_glue("--job-bookmark-from", "1", "--job-bookmark-to", "2"), [])


def test_abbreviations_follow_glue_5_and_can_be_refused_like_glue_6() -> None:
    assert getResolvedOptions(_glue("--tab", "t"), ["table"])["table"] == "t"
    with pytest.raises(GlueArgumentError, match="--table"):
        getResolvedOptions(_glue("--tab", "t"), ["table"], allow_abbrev=False)


def test_glue_argv_adds_what_glue_always_passes() -> None:
    argv = glue_argv("jobs/copy.py", ["--table", "t", "--JOB_NAME=mine"])
    assert argv[0] == "jobs/copy.py" and argv[-3:] == ["--table", "t", "--JOB_NAME=mine"]
    args = getResolvedOptions(argv, ["JOB_NAME", "table"])
    assert args["JOB_NAME"] == "mine" and args["job_bookmark_option"] == "job-bookmark-disable"
    assert args["JOB_RUN_ID"].startswith("jr_") and args["JOB_ID"].startswith("j_")
    assert getResolvedOptions(glue_argv("jobs/copy.py", []), ["JOB_NAME"])["JOB_NAME"] == "copy"


# --------------------------------------------------------------------------- the shim


@pytest.fixture
def clean_awsglue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with no awsglue in sys.modules; put back whatever was there afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k == "awsglue" or k.startswith("awsglue.")}
    for key in saved:
        del sys.modules[key]
    monkeypatch.delenv("DDBMIGRATE_GLUELOCAL", raising=False)
    yield
    for key in [k for k in sys.modules if k == "awsglue" or k.startswith("awsglue.")]:
        del sys.modules[key]
    sys.modules.update(saved)


def _fake_awsglue(root: Path) -> None:
    """An importable ``awsglue`` package without Glue's JVM classes (the pip-installed library alone)."""
    package = root / "awsglue"
    package.mkdir()
    (package / "__init__.py").write_text("FAKE = True\n")
    (package / "context.py").write_text("class GlueContext:\n    FAKE = True\n")


def test_shim_registers_awsglue_when_absent(clean_awsglue: None) -> None:
    assert awsglue_status() is AwsGlueStatus.ABSENT
    assert install_awsglue_shim() is True
    import awsglue
    import awsglue.context
    import awsglue.transforms
    from awsglue.utils import getResolvedOptions as resolved

    assert awsglue.context.GlueContext is GlueContext and awsglue.DynamicFrame is DynamicFrame
    assert resolved is getResolvedOptions
    assert set(awsglue.transforms.__all__) == GLUE_TRANSFORM_NAMES
    namespace: dict[str, Any] = {}
    exec("from awsglue.transforms import *", namespace)
    assert set(namespace) - {"__builtins__"} == GLUE_TRANSFORM_NAMES
    assert awsglue_status() is AwsGlueStatus.SHIM and install_awsglue_shim() is True


@pytest.mark.integration
@pytest.mark.spark
def test_real_awsglue_without_glue_jvm_classes_is_replaced(
    clean_awsglue: None, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_awsglue(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert awsglue_status() is AwsGlueStatus.NO_GLUE_JVM
    assert install_awsglue_shim() is True
    import awsglue.context

    assert awsglue.context.GlueContext is GlueContext


@pytest.mark.integration
@pytest.mark.spark
def test_real_awsglue_wins_when_its_jvm_classes_load(
    clean_awsglue: None, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Point the probe at a class this JVM has, standing in for Glue's jars on the class path.
    assert shim.jvm_has_class(spark.sparkContext, "org.apache.spark.SparkContext")
    assert not shim.jvm_has_class(spark.sparkContext, shim.GLUE_CONTEXT_CLASS)
    monkeypatch.setattr(shim, "GLUE_CONTEXT_CLASS", "org.apache.spark.SparkContext")
    _fake_awsglue(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert awsglue_status() is AwsGlueStatus.WORKING
    assert install_awsglue_shim() is False
    import awsglue.context

    assert getattr(awsglue.context.GlueContext, "FAKE", False)


def test_environment_forces_or_forbids_the_shim(clean_awsglue: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDBMIGRATE_GLUELOCAL", "0")
    assert install_awsglue_shim() is False and "awsglue" not in sys.modules
    monkeypatch.setenv("DDBMIGRATE_GLUELOCAL", "maybe")
    with pytest.raises(ConfigError, match="DDBMIGRATE_GLUELOCAL"):
        install_awsglue_shim()
    monkeypatch.setenv("DDBMIGRATE_GLUELOCAL", "1")
    assert install_awsglue_shim() is True and awsglue_status() is AwsGlueStatus.SHIM


# --------------------------------------------------------------------------- S3 sources


def test_glob_and_hidden_rules() -> None:
    assert glob_to_regex("**.gz").fullmatch("s3://b/a/b/c.json.gz")
    assert glob_to_regex("data/*.json").fullmatch("data/x.json")
    assert not glob_to_regex("data/*.json").fullmatch("data/sub/x.json")
    assert glob_to_regex("part-[0-9]?.json").fullmatch("part-12.json")
    assert is_hidden("_started") and is_hidden("sub/.tmp/x") and not is_hidden("year=2024/x.json")
    assert is_hidden("_temporary/x") and not is_hidden("_a=1/x")


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def _lines(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture
def json_bucket(s3: Any, bucket: str) -> str:
    """``data/``: plain and gzipped JSON lines, a hidden file, a file one folder down."""
    _put(s3, bucket, "data/a.json", _lines({"id": 1, "name": "one"}, {"id": 2, "name": "two"}))
    _put(s3, bucket, "data/b.json.gz", gzip.compress(_lines({"id": 3, "name": "three"})))
    _put(s3, bucket, "data/_started", b"not json at all")
    _put(s3, bucket, "data/sub/c.json", _lines({"id": 4, "name": "four"}))
    _put(s3, bucket, "data/sub/", b"")
    return bucket


def _ids(frame: DynamicFrame) -> list[int]:
    return sorted(r["id"] for r in frame.toDF().collect())


@pytest.mark.integration
@pytest.mark.spark
def test_reads_json_and_gzip_from_s3(spark: Any, target: Any, json_bucket: str) -> None:
    glue = GlueContext(spark.sparkContext, account=target)
    frame = glue.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [f"s3://{json_bucket}/data/"]},
        format="json", format_options={"multiline": False}, transformation_ctx="source",
    )  # fmt: skip
    assert _ids(frame) == [1, 2, 3] and frame.count() == 3
    assert frame.name == json_bucket.replace(".", "") + "data"
    everything = glue.create_dynamic_frame_from_options(
        "s3", {"paths": [f"s3://{json_bucket}/data"], "recurse": True}, format="json"
    )
    assert _ids(everything) == [1, 2, 3, 4]
    without_gz = glue.create_dynamic_frame.from_options(
        "s3", {"paths": [f"s3://{json_bucket}/data/"], "recurse": "true", "exclusions": '["**.gz"]'}, "json"
    )
    assert _ids(without_gz) == [1, 2, 4]
    one = glue.create_data_frame.from_options("s3", {"paths": [f"s3://{json_bucket}/data/sub/c.json"]}, format="json")
    assert [r["name"] for r in one.collect()] == ["four"]


@pytest.mark.integration
@pytest.mark.spark
def test_compression_type_and_multiline(spark: Any, target: Any, s3: Any, bucket: str) -> None:
    _put(s3, bucket, "gz/part-0", gzip.compress(_lines({"id": 7})))
    _put(s3, bucket, "ml/doc.json", b'{\n  "id": 8,\n  "tags": ["a", "b"]\n}\n')
    glue = GlueContext(spark, account=target)
    gz = glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/gz/"], "compressionType": "gzip"}, "json")
    assert _ids(gz) == [7]
    doc = glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/ml/"]}, "json", {"multiLine": True})
    assert [(r["id"], r["tags"]) for r in doc.toDF().collect()] == [(8, ["a", "b"])]


@pytest.mark.integration
@pytest.mark.spark
def test_bad_sources_are_named(spark: Any, target: Any, bucket: str, unique_name: Any) -> None:
    glue = GlueContext(spark, account=target)
    missing = unique_name("nobucket")
    with pytest.raises(ConfigError, match=f"cannot list s3://{missing}/x/"):
        glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{missing}/x/"]}, "json")
    with pytest.raises(ConfigError, match=r"'groupFilesBy'.*not supported"):
        glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/"], "groupFilesBy": "x"}, "json")
    with pytest.raises(ConfigError, match="'jsonPath'"):
        glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/"]}, "json", {"jsonPath": "$.x"})
    with pytest.raises(ConfigError, match="format 'csv'"):
        glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/"]}, "csv")
    with pytest.raises(ConfigError, match=r"^from_catalog: Glue table d\.t not found in target"):
        glue.create_dynamic_frame.from_catalog(database="d", table_name="t")
    with pytest.raises(ConfigError, match=r"GlueContext\.purge_s3_path"):
        glue.purge_s3_path(f"s3://{bucket}/")
    empty = glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/nothing/"]}, "json")
    assert empty.count() == 0


@pytest.mark.integration
@pytest.mark.spark
def test_malformed_json_fails_naming_file_and_line(spark: Any, target: Any, s3: Any, bucket: str) -> None:
    # Spark's default (PERMISSIVE) would return a row of nulls and the raw line in _corrupt_record.
    _put(s3, bucket, "in/good.json", _lines({"id": 1}))
    _put(s3, bucket, "in/bad.json.gz", gzip.compress(b'{"id": 2}\n\n{"id": "secret-value"\n'))
    glue = GlueContext(spark, account=target)
    with pytest.raises(ConfigError, match=rf"s3://{bucket}/in/bad\.json\.gz line 3: not valid JSON") as info:
        glue.create_dynamic_frame.from_options("s3", {"paths": [f"s3://{bucket}/in/"]}, "json")
    assert "secret-value" not in str(info.value)


@pytest.mark.integration
@pytest.mark.spark
def test_reads_local_and_file_uri_paths(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_bytes(_lines({"id": 1}))
    (tmp_path / "in" / "b.json.gz").write_bytes(gzip.compress(_lines({"id": 2})))
    (tmp_path / "in" / ".hidden.json").write_bytes(_lines({"id": 99}))
    glue = GlueContext(spark)
    frame = glue.create_dynamic_frame.from_options("s3", {"paths": [str(tmp_path / "in")]}, "json")
    assert _ids(frame) == [1, 2]
    spark.createDataFrame([(5, "x")], "id long, v string").write.parquet(str(tmp_path / "pq"))
    parquet = glue.create_dynamic_frame.from_options("s3", {"paths": [(tmp_path / "pq").as_uri()]}, "parquet")
    assert _ids(parquet) == [5]


# --------------------------------------------------------------------------- DynamicFrame


@pytest.fixture
def glue(spark: Any) -> GlueContext:
    return GlueContext(spark.sparkContext)


NESTED_SCHEMA = "pk string, n int, price decimal(38,10), `a.b` struct<`c.d`: string, e: long>, tags array<string>"


@pytest.fixture
def nested(spark: Any) -> Any:
    return spark.createDataFrame(
        [("k1", 1, Decimal("1.5"), ("x", 10), ["t"]), ("k2", None, None, None, [])], NESTED_SCHEMA
    )


@pytest.mark.integration
@pytest.mark.spark
def test_from_df_to_df_round_trip(glue: GlueContext, nested: Any) -> None:
    frame = DynamicFrame.fromDF(nested, glue, "orders")
    assert frame.toDF() is nested and frame.name == "orders" and frame.glue_ctx is glue
    assert frame.count() == 2 and frame.errorsCount() == 0
    assert_df_equality(DynamicFrame.fromDF(frame.toDF(), glue, "again").toDF(), nested)
    with pytest.raises(ConfigError, match="wraps a Spark DataFrame"):
        DynamicFrame(object(), glue, "x")


@pytest.mark.integration
@pytest.mark.spark
def test_schema_and_print_schema_as_glue(glue: GlueContext, nested: Any, capsys: pytest.CaptureFixture[str]) -> None:
    frame = DynamicFrame.fromDF(nested, glue, "orders")
    schema = frame.schema()
    assert isinstance(schema, StructType) and [f.name for f in schema] == ["pk", "n", "price", "a.b", "tags"]
    assert schema.getField("pk").dataType == StringType() and schema.getField("n").dataType == IntegerType()
    assert schema.getField("price").dataType == DecimalType(38, 10)
    assert schema.getField("a.b").dataType.jsonValue()["fields"][0]["name"] == "c.d"
    frame.printSchema()
    assert capsys.readouterr().out == (
        "root\n"
        "|-- pk: string\n"
        "|-- n: int\n"
        "|-- price: decimal\n"
        "|-- a.b: struct\n"
        "|    |-- c.d: string\n"
        "|    |-- e: long\n"
        "|-- tags: array\n"
        "|    |-- element: string\n"
    )
    frame.show(1)
    assert json.loads(capsys.readouterr().out) == {"pk": "k1", "n": 1, "price": 1.5, "a.b": {"c.d": "x", "e": 10}, "tags": ["t"]}


@pytest.mark.integration
@pytest.mark.spark
def test_field_transforms_reach_into_structs(glue: GlueContext, nested: Any) -> None:
    frame = DynamicFrame.fromDF(nested, glue, "orders")
    selected = SelectFields.apply(frame=frame, paths=["pk", "`a.b`.e"]).toDF()
    assert selected.schema.simpleString() == "struct<pk:string,a.b:struct<e:bigint>>"
    assert [tuple(r) for r in selected.collect()] == [("k1", (10,)), ("k2", None)]
    dropped = DropFields.apply(frame=frame, paths=["n", "`a.b`.`c.d`", "no.such"]).toDF()
    assert dropped.columns == ["pk", "price", "a.b", "tags"] and dropped.schema["a.b"].dataType.names == ["e"]
    renamed = RenameField.apply(frame=frame, old_name="`a.b`.e", new_name="`a.b`.count").toDF()
    assert renamed.schema["a.b"].dataType.names == ["c.d", "count"]
    assert renamed.select("`a.b`.count").collect()[0][0] == 10
    top = frame.rename_field("pk", "id").toDF()
    assert top.columns[0] == "id"
    cast = ResolveChoice.apply(frame=frame, specs=[("n", "cast:long"), ("`a.b`.e", "cast:string")]).toDF()
    assert cast.schema["n"].dataType.simpleString() == "bigint"
    assert cast.schema["a.b"].dataType["e"].dataType.simpleString() == "string"


@pytest.mark.integration
@pytest.mark.spark
def test_filter_drop_null_fields_union_and_unsupported(
    spark: Any, glue: GlueContext, nested: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = DynamicFrame.fromDF(nested, glue, "orders")
    kept = Filter.apply(frame=frame, f=lambda rec: rec["a.b"]["e"] > 5).toDF()  # k2: TypeError → dropped, as on Glue
    assert [r["pk"] for r in kept.collect()] == ["k1"]
    from pyspark.sql import functions as F
    from pyspark.sql.types import NullType

    with_null = DynamicFrame.fromDF(nested.withColumn("empty", F.lit(None).cast(NullType())), glue, "n")
    assert DropNullFields.apply(frame=with_null).toDF().columns == nested.columns
    assert "null_fields ['empty']" in capsys.readouterr().out
    both = frame.union(DynamicFrame.fromDF(spark.createDataFrame([("k3",)], "pk string"), glue, "x"))
    assert sorted(r["pk"] for r in both.toDF().collect()) == ["k1", "k2", "k3"]
    with pytest.raises(ConfigError, match=r"Union transform fails on AWS Glue 5\.0"):
        Union.apply(frame1=frame, frame2=frame)
    with pytest.raises(ConfigError, match=r"DynamicFrame\.relationalize is not supported"):
        frame.relationalize("root", "s3://x/")
    with pytest.raises(AttributeError):
        frame.no_such_method  # noqa: B018


@pytest.mark.integration
@pytest.mark.spark
def test_apply_mapping_case_sensitive(spark: Any, glue: GlueContext) -> None:
    df = spark.createDataFrame([("a", "b", "1.50")], "Name string, name string, price string")
    frame = DynamicFrame.fromDF(df, glue, "people")
    mapped = ApplyMapping.apply(
        frame=frame,
        mappings=[("Name", "string", "upper", "string"), ("name", "string", "lower", "string"),
                  ("price", "string", "cost.amount", "decimal(10,2)")],
        case_sensitive=True,
        transformation_ctx="map",
    )  # fmt: skip
    expected = spark.createDataFrame([("a", "b", (Decimal("1.50"),))], "upper string, lower string, cost struct<amount: decimal(10,2)>")
    assert_df_equality(mapped.toDF(), expected, ignore_nullable=True)
    assert mapped.name == "people"
    # Glue's default is case-insensitive: a unique match in another case is found.
    single = DynamicFrame.fromDF(spark.createDataFrame([("x",)], "Title string"), glue, "t")
    assert single.apply_mapping([("title", "string", "t", "string")]).toDF().collect()[0]["t"] == "x"
    with pytest.raises(MappingError, match="4-tuple"):
        frame.apply_mapping([("Name", "upper")])
    with pytest.raises(MappingError, match="must be a tuple"):
        frame.apply_mapping([["Name", "string", "upper", "string"]])


# --------------------------------------------------------------------------- rows → items


def test_row_to_item_follows_glue_writer_types() -> None:
    import datetime as dt

    from pyspark.sql import Row

    row = Row(
        pk="k", n=3, d=Decimal("1.50"), f=0.1, ok=True, b=bytearray(b"\x00\x01"), day=dt.date(2024, 1, 31),
        tags=["a", None], nested=Row(x=1, gone=None), m={"k": 1.5}, empty="", missing=None,
    )  # fmt: skip
    assert row_to_item(row, None) == {
        "pk": {"S": "k"}, "n": {"N": "3"}, "d": {"N": "1.50"}, "f": {"N": "0.1"}, "ok": {"BOOL": True},
        "b": {"B": b"\x00\x01"}, "day": {"S": "2024-01-31"}, "tags": {"L": [{"S": "a"}, {"NULL": True}]},
        "nested": {"M": {"x": {"N": "1"}}}, "m": {"M": {"k": {"N": "1.5"}}}, "empty": {"S": ""},
    }  # fmt: skip
    with pytest.raises(InvalidItemError, match=r"frame partition 0 row 3: attribute 'price': NaN") as info:
        row_to_item({"price": float("nan")}, None, where="frame partition 0 row 3")
    assert "nan" not in str(info.value).split("NaN")[0]
    with pytest.raises(InvalidItemError, match="row: attribute 'big': N is outside DynamoDB's range"):
        row_to_item({"big": 1e300}, None)


# --------------------------------------------------------------------------- Job and run_script


@pytest.mark.integration
@pytest.mark.spark
def test_job_init_commit(glue: GlueContext, spark: Any, caplog: pytest.LogCaptureFixture) -> None:
    job = Job(glue)
    assert not job.isInitialized()
    caplog.set_level("INFO", logger="ddbmigrate.gluelocal")
    job.init("nightly", {"JOB_RUN_ID": "jr_9", "job_bookmark_option": "job-bookmark-enable"})
    job.commit()
    assert job.isInitialized() and Job(spark).isInitialized() is False
    text = caplog.text
    assert "job nightly started (run jr_9)" in text and "bookmarks are not supported" in text and "committed" in text
    with pytest.raises(ConfigError, match="cannot init Job instance"):
        Job("not a context")


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"job_{uuid.uuid4().hex[:6]}.py"
    path.write_text(body)
    return path


@pytest.mark.integration
@pytest.mark.spark
def test_run_script_sets_argv_shares_spark_and_returns_exit_codes(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seen.json"
    script = _script(tmp_path, f'''
import json, sys
from awsglue.utils import getResolvedOptions
from awsglue.context import GlueContext
from pyspark.context import SparkContext
args = getResolvedOptions(sys.argv, ["JOB_NAME", "table"])
sc = SparkContext()
glue = GlueContext(sc)
n = glue.spark_session.range(3).count()
sc.stop()
json.dump({{"argv": sys.argv, "args": args, "n": n, "same": sc is SparkContext.getOrCreate()}}, open({str(out)!r}, "w"))
''')  # fmt: skip
    assert run_script(script, ["--table", "orders"], spark=spark) == 0
    seen = json.loads(out.read_text())
    assert seen["args"]["table"] == "orders" and seen["args"]["JOB_NAME"] == script.stem
    assert seen["args"]["JOB_RUN_ID"].startswith("jr_local_") and seen["argv"][0] == str(script)
    assert seen["n"] == 3 and seen["same"] is True
    assert spark.range(2).count() == 2  # the script's sc.stop() left the caller's session running
    assert sys.argv[0] != str(script)

    assert run_script(_script(tmp_path, "import sys\nsys.exit(3)\n"), [], spark=spark) == 3
    assert run_script(_script(tmp_path, "raise SystemExit('bad input')\n"), [], spark=spark) == 1
    assert run_script(_script(tmp_path, "raise ValueError('boom')\n"), [], spark=spark) == 1
    missing = _script(tmp_path, "import sys\nfrom awsglue.utils import getResolvedOptions\ngetResolvedOptions(sys.argv, ['table'])\n")
    assert run_script(missing, [], spark=spark) == 2  # as argparse exits in Glue's getResolvedOptions
    err = capsys.readouterr().err
    assert "bad input" in err and "ValueError: boom" in err and "the following arguments are required: --table" in err
    # our own errors are actionable as they are: one line and their exit code, no traceback
    ours = _script(tmp_path, "from ddbmigrate.errors import ExportError\nraise ExportError('data/x.json.gz: not gzip')\n")
    assert run_script(ours, [], spark=spark) == ExportError.exit_code
    err = capsys.readouterr().err
    assert err == f"{ours.name}: error: data/x.json.gz: not gzip\n"
    with pytest.raises(ConfigError, match="does not exist"):
        run_script(tmp_path / "nope.py", [], spark=spark)


# --------------------------------------------------------------------------- DynamoDB writes (the sink)


def _create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _scan(client: Any, name: str) -> dict[str, dict[str, Any]]:
    items = client.scan(TableName=name, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: item for item in items}


@pytest.mark.integration
@pytest.mark.spark
def test_write_dynamic_frame_to_dynamodb(
    local_stack: Any, spark: Any, target_ddb: Any, unique_name: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "target")
    table = unique_name("gl-write")
    _create_table(target_ddb, table)
    df = spark.createDataFrame(
        [("a", 1, Decimal("2.50"), True, b"\x00", ["x", None], ("lisbon", None), {"k": 1}, None),
         ("b", None, None, False, None, [], None, {}, "")],
        "pk string, n long, d decimal(10,2), ok boolean, bin binary, l array<string>, "
        "addr struct<city: string, zip: string>, m map<string,int>, s string",
    )  # fmt: skip
    glue = GlueContext(spark)
    frame = DynamicFrame.fromDF(df, glue, "people")
    errors = glue.write_dynamic_frame.from_options(
        frame=frame, connection_type="dynamodb",
        connection_options={"dynamodb.output.tableName": table, "dynamodb.throughput.write.percent": "1.0"},
    )  # fmt: skip
    assert errors.name == "people_errors" and errors.count() == 0
    assert errors.sink_stats.written == 2 and errors.sink_stats.dead_lettered == 0
    assert _scan(target_ddb, table) == {
        "a": {"pk": {"S": "a"}, "n": {"N": "1"}, "d": {"N": "2.5"}, "ok": {"BOOL": True}, "bin": {"B": b"\x00"},
              "l": {"L": [{"S": "x"}, {"NULL": True}]}, "addr": {"M": {"city": {"S": "lisbon"}}},
              "m": {"M": {"k": {"N": "1"}}}},
        "b": {"pk": {"S": "b"}, "ok": {"BOOL": False}, "l": {"L": []}, "m": {"M": {}}, "s": {"S": ""}},
    }  # fmt: skip
    with pytest.raises(ConfigError, match="writing to connection_type 's3'"):
        glue.write_dynamic_frame_from_options(frame, "s3", {"path": "s3://x/"}, format="json")


@pytest.mark.integration
@pytest.mark.spark
def test_items_that_cannot_be_written_fail_the_write(
    local_stack: Any, spark: Any, target: Any, target_ddb: Any, unique_name: Any, tmp_path: Path
) -> None:
    from ddbmigrate.errors import SinkError

    table = unique_name("gl-dead")
    _create_table(target_ddb, table)
    df = spark.createDataFrame([("ok", "v"), (None, "secret-value")], "pk string, v string").coalesce(1)
    # As on Glue: an item DynamoDB can never accept fails the write, named by origin and attribute.
    glue = GlueContext(spark, account=target)
    sink = glue.getSink(connection_type="dynamodb", **{"dynamodb.output.tableName": table})
    with pytest.raises(SinkError, match=r"rows partition 0 row 1 cannot be written: .*'pk'") as info:
        sink.writeFrame(DynamicFrame.fromDF(df, glue, "rows"))
    assert "secret-value" not in str(info.value)
    # With a dead-letter location, the rest is written, the item is kept with its reason, the write fails.
    dead = tmp_path / "dead"
    glue = GlueContext(spark, account=target, dead_letter=str(dead))
    with pytest.raises(SinkError, match=r"1 item\(s\) of rows could not be written .* dead-lettered to"):
        glue.write_dynamic_frame.from_options(DynamicFrame.fromDF(df, glue, "rows"), "dynamodb",
                                              {"dynamodb.output.tableName": table})  # fmt: skip
    assert set(_scan(target_ddb, table)) == {"ok"}
    letters = [json.loads(line) for f in sorted(dead.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    assert [(d["origin"], d["item"]) for d in letters] == [("rows partition 0 row 1", {"v": {"S": "secret-value"}})]
    assert "'pk'" in letters[0]["reason"]


@pytest.mark.integration
def test_glue_studio_script_runs_end_to_end(
    local_stack: Any, s3: Any, bucket: str, target_ddb: Any, unique_name: Any
) -> None:
    """The Glue Studio-shaped script, unchanged, in a fresh process: ``python -m ddbmigrate.gluelocal``."""
    import os
    import subprocess

    records = [
        {"Item": {"pk": {"S": "k1"}, "Pk": {"S": "upper"}, "qty": {"N": "3"}, "price": {"N": "9.99"},
                  "address": {"M": {"city": {"S": "Porto"}}}, "active": {"BOOL": True}}},
        {"Item": {"pk": {"S": "k2"}, "qty": {"N": "12345678901"}, "price": {"N": "0.5"}, "active": {"BOOL": False}}},
    ]  # fmt: skip
    _put(s3, bucket, "export/data/part-0.json.gz", gzip.compress(_lines(records[0])))
    _put(s3, bucket, "export/data/more/part-1.json", _lines(records[1]))
    table = unique_name("gl-studio")
    _create_table(target_ddb, table)
    env = {**os.environ, "AWS_PROFILE": "target", "PYTHONPATH": str(DATA.parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "ddbmigrate.gluelocal", str(DATA / "glue_studio_script.py"),
         "--input_path", f"s3://{bucket}/export/data/", "--target_table", table, "--write_percent", "1.0"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mapped 2 records" in result.stdout
    assert _scan(target_ddb, table) == {
        "k1": {"pk": {"S": "k1"}, "Pk": {"S": "upper"}, "qty": {"N": "3"}, "price": {"N": "9.99"},
               "address": {"M": {"city": {"S": "Porto"}}}, "active": {"BOOL": True}},
        "k2": {"pk": {"S": "k2"}, "qty": {"N": "12345678901"}, "price": {"N": "0.5"}, "active": {"BOOL": False}},
    }  # fmt: skip
