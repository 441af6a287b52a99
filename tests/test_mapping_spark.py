"""apply_mapping on real Spark: Glue's semantics, the AWS blog's example, every type, deep maps, odd names,
edited mappings; and the Spark JSON-reader behaviour the typed pass-through relies on."""

from __future__ import annotations

import json
from decimal import Context, Decimal
from typing import Any

import pytest
from chispa import assert_df_equality
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from item_strategies import items as item_strategy
from item_strategies import semantic_item

from ddbmigrate.digest import item_digest
from ddbmigrate.errors import InvalidItemError, MappingError
from ddbmigrate.mapping import CAST_FAILURES_COLUMN, MappingFile, build_mapping, row_to_item
from ddbmigrate.mapping.spark import apply_mapping, read_items, spark_schema
from ddbmigrate.sample import sample_items
from ddbmigrate.schema import conformance_error, infer_schema
from ddbmigrate.values import Item, item_to_json

pytestmark = pytest.mark.spark

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import types as T  # noqa: E402


def lines_of(items: list[Item]) -> list[str]:
    return [json.dumps({"Item": item_to_json(item)}, ensure_ascii=False) for item in items]


def frame(spark: SparkSession, items: list[Item], schema: dict[str, Any]) -> Any:
    return read_items(spark, lines_of(items), schema)


def string(name: str) -> T.StructField:
    return T.StructField(name, T.StringType(), True)


def struct(name: str, *fields: T.StructField) -> T.StructField:
    return T.StructField(name, T.StructType(list(fields)), True)


def round_trip(spark: SparkSession, items: list[Item], mapping: MappingFile | None = None) -> list[Item]:
    """items → export lines → explicit-schema read → apply_mapping → rows → items."""
    mapping = mapping or build_mapping(infer_schema(items))
    df = apply_mapping(frame(spark, items, mapping.schema), mapping, check_casts=True)
    return [row_to_item(row, mapping) for row in df.collect()]


# --------------------------------------------------------------------------- the reader behaviour we rely on


def test_spark_reads_an_object_into_a_string_field_as_its_raw_json(spark: SparkSession) -> None:
    value = {"L": [{"S": "Zoë \"q\" 東京"}, {"N": "1.50"}, {"N": "-1E-130"}, {"B": "AAE="}, {"M": {}},
                   {"L": []}, {"NULL": True}, {"BOOL": False}, {"SS": ["x", "y"]}]}
    line = json.dumps({"Item": {"history": value, "k": {"S": "plain"}}}, ensure_ascii=False)
    schema = T.StructType([struct("Item", string("history"), string("k"))])
    (row,) = spark.read.schema(schema).json(spark.sparkContext.parallelize([line])).collect()
    assert isinstance(row.Item.history, str)
    assert json.loads(row.Item.history) == value  # the typed value, numbers as their exact text
    assert json.loads(row.Item.k) == {"S": "plain"}


# --------------------------------------------------------------------------- the AWS blog's example


def test_the_aws_blog_mapping_gives_its_documented_shape(spark: SparkSession) -> None:
    """The 'Cross-account replication with Amazon DynamoDB' blog's rules, as written there (lower-case
    ``item``, relying on Glue's default case_sensitive=False) over an export-shaped frame."""
    items = [{"ID": {"S": "1"}, "date": {"M": {"day": {"S": "01"}, "month": {"S": "05"}}},
              "location": {"M": {"lat": {"S": "47.3"}, "lng": {"S": "8.5"}}}, "other": {"N": "1"}}]
    blog = [("item.ID.S", "string", "ID", "string"), ("item.date.M", "map", "date", "map"),
            ("item.location.M.lng.S", "string", "location.lng", "string"),
            ("item.location.M.lat.S", "string", "location.lat", "string")]
    actual = apply_mapping(frame(spark, items, infer_schema(items)), blog, case_sensitive=False)
    s_struct = T.StructType([string("S")])
    expected_schema = T.StructType([
        string("ID"),
        T.StructField("date", T.MapType(T.StringType(), s_struct, True), True),
        struct("location", string("lng"), string("lat")),
    ])
    expected = spark.createDataFrame(
        [("1", {"day": ("01",), "month": ("05",)}, ("8.5", "47.3"))], expected_schema)
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_case_insensitive_matching_refuses_ambiguity(spark: SparkSession) -> None:
    items = [{"Case": {"S": "a"}, "case": {"S": "b"}}]
    df = frame(spark, items, infer_schema(items))
    with pytest.raises(MappingError, match="matches 'Case', 'case' when case is ignored"):
        apply_mapping(df, [("Item.CASE.S", "string", "x", "string")], case_sensitive=False)
    with pytest.raises(MappingError, match="no field 'CASE' in Item"):
        apply_mapping(df, [("Item.CASE.S", "string", "x", "string")])


# --------------------------------------------------------------------------- generated mappings


@pytest.fixture(scope="module")
def sample() -> list[Item]:
    return list(sample_items(12))


def test_every_dynamodb_type_round_trips(spark: SparkSession, sample: list[Item]) -> None:
    back = round_trip(spark, sample)
    assert len(back) == len(sample)
    for source, target in zip(sample, back, strict=True):
        assert semantic_item(target) == semantic_item(source)


def test_generated_columns_have_native_types(spark: SparkSession, sample: list[Item]) -> None:
    mapping = build_mapping(infer_schema(sample))
    df = apply_mapping(frame(spark, sample, mapping.schema), mapping)
    types = {f.name: f.dataType for f in df.schema.fields}
    assert types["pk"] == T.StringType() and types["sk"] == T.StringType()
    assert types["active"] == T.BooleanType() and types["nothing"] == T.BooleanType()
    assert types["tags"] == T.ArrayType(T.StringType(), True)
    assert types["history"] == T.StringType()  # typed pass-through
    assert types["address"] == T.StructType([string("city"), struct("geo", string("lat"), string("lon"))])
    assert CAST_FAILURES_COLUMN not in types


def test_maps_nested_ten_deep_become_nested_structs(spark: SparkSession, sample: list[Item]) -> None:
    mapping = build_mapping(infer_schema(sample))
    actual = apply_mapping(frame(spark, sample[:1], mapping.schema), mapping).select("deep")
    inner: T.StructField = string("level10")
    value: Any = "bottom"
    for level in range(9, -1, -1):
        name = f"level{level}" if level else "deep"
        inner = struct(name, inner, string("n"))
        value = (value, str(9 - level))
    expected = spark.createDataFrame([(value,)], T.StructType([inner]))
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_odd_names_come_out_right(spark: SparkSession, sample: list[Item]) -> None:
    mapping = build_mapping(infer_schema(sample))
    columns = ["dotted.name", "with space", "ünïcödé_属性", "Case", "case"]
    actual = apply_mapping(frame(spark, sample[:1], mapping.schema), mapping).select(*[f"`{c}`" for c in columns])
    expected = spark.createDataFrame([("dots are literal", "42", "unicode name", "upper", "lower")],
                                     T.StructType([string(c) for c in columns]))
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_more_than_thirty_levels_of_nesting(spark: SparkSession) -> None:
    value: dict[str, Any] = {"S": "bottom"}
    for level in range(31):
        value = {"M": {f"l{level}.x" if level % 2 else f"L{level}": value}}
    items: list[Item] = [{"pk": {"S": "a"}, "deep": value}, {"pk": {"S": "b"}}]
    mapping = build_mapping(infer_schema(items))
    (rule,) = [r for r in mapping.rules if r.target[0] == "deep"]
    assert len(rule.target) == 32
    df = apply_mapping(frame(spark, items, mapping.schema), mapping)
    rows = sorted(df.collect(), key=lambda r: r.pk)
    assert rows[1].deep is None  # no values under it: no struct, as in a DynamicFrame
    assert [row_to_item(r, mapping) for r in rows] == items


def test_structs_are_null_when_nothing_under_them_exists(spark: SparkSession) -> None:
    items = [{"pk": {"S": "a"}, "m": {"M": {"x": {"S": "1"}}}}, {"pk": {"S": "b"}}]
    mapping = build_mapping(infer_schema(items))
    rows = {r.pk: r for r in apply_mapping(frame(spark, items, mapping.schema), mapping).collect()}
    assert rows["a"].m.x == "1" and rows["b"].m is None


# --------------------------------------------------------------------------- edits


def test_an_edited_mapping_gives_the_edited_shape(spark: SparkSession, sample: list[Item]) -> None:
    """The generated file, edited: every rule but five dropped, 'name' renamed into a new map,
    'balance' and 'sk' retyped."""
    generated = build_mapping(infer_schema(sample))
    rules = [list(r) for r in generated.mappings if r[2] in ("pk", "sk", "name", "balance", "address.city")]
    for rule in rules:
        if rule[2] == "name":
            rule[2] = "profile.full_name"
        if rule[2] == "balance":
            rule[3] = "decimal(38,20)"
        if rule[2] == "sk":
            rule[3] = "long"
    edited = MappingFile(tuple(tuple(r) for r in rules), generated.schema)
    actual = apply_mapping(frame(spark, sample[:2], edited.schema), edited)

    expected_schema = T.StructType([
        struct("address", string("city")), T.StructField("balance", T.DecimalType(38, 20), True),
        struct("profile", string("full_name")), string("pk"), T.StructField("sk", T.LongType(), True),
    ])
    expected = spark.createDataFrame(
        [((i["address"]["M"]["city"]["S"],), Decimal(i["balance"]["N"]).quantize(Decimal("1E-20"), context=Context(prec=38)),
          (i["name"]["S"],), i["pk"]["S"], int(i["sk"]["N"])) for i in sample[:2]], expected_schema)
    assert_df_equality(actual, expected, ignore_nullable=True, ignore_row_order=True)

    for source, item in zip(sample[:2], sorted((row_to_item(r, edited) for r in actual.collect()),
                                              key=lambda i: i["sk"]["N"]), strict=True):
        assert item == {
            "pk": source["pk"], "sk": source["sk"], "address": {"M": {"city": source["address"]["M"]["city"]}},
            "profile": {"M": {"full_name": source["name"]}}, "balance": item["balance"],
        }
        assert Decimal(item["balance"]["N"]) == Decimal(source["balance"]["N"])  # 20 decimals hold it exactly


def test_every_type_lands_in_its_column(spark: SparkSession, sample: list[Item]) -> None:
    """One item's top-level scalar, set and pass-through columns, as the generated rules put them:
    N stays its text, B its base64 text, sets arrays, a list its DynamoDB JSON."""
    mapping = build_mapping(infer_schema(sample))
    names = ["pk", "sk", "precise", "tiny", "huge", "blob", "active", "nothing", "tags", "scores", "keys",
             "empty_string", "empty_binary"]
    actual = apply_mapping(frame(spark, sample[:1], mapping.schema), mapping).select(*names, "history")
    source = item_to_json(sample[0])
    values = [next(iter(source[n].values())) for n in names]
    schema = T.StructType([actual.schema[n] for n in names] + [string("history")])
    expected = spark.createDataFrame([(*values, json.dumps(source["history"], separators=(",", ":")))], schema)
    assert [actual.schema[n].dataType.simpleString() for n in names] == [
        "string", "string", "string", "string", "string", "string", "boolean", "boolean",
        "array<string>", "array<string>", "array<string>", "string", "string"]
    assert_df_equality(actual, expected, ignore_nullable=True, ignore_metadata=True)


def test_a_cast_that_loses_the_value_is_marked_not_dropped(spark: SparkSession, sample: list[Item]) -> None:
    generated = build_mapping(infer_schema(sample))
    rules = [("Item.pk.S", "string", "pk", "string"), ("Item.precise.N", "string", "precise", "decimal(10,2)")]
    edited = MappingFile(rules, generated.schema)
    (row,) = apply_mapping(frame(spark, sample[:1], edited.schema), edited, check_casts=True).collect()
    assert row.precise is None
    assert row[CAST_FAILURES_COLUMN] == ["precise"]
    with pytest.raises(InvalidItemError, match="target\\(s\\) 'precise'"):
        row_to_item(row, edited)


def test_errors_name_the_rule(spark: SparkSession, sample: list[Item]) -> None:
    df = frame(spark, sample[:1], infer_schema(sample))
    with pytest.raises(MappingError, match=r"mappings\[1\] source 'Item.nope.S': no field 'nope' in Item"):
        apply_mapping(df, [("Item.pk.S", "string", "pk", "string"), ("Item.nope.S", "string", "x", "string")])
    with pytest.raises(MappingError, match=r"mappings\[0\] 'Item.pk.S' → array: the source is string"):
        apply_mapping(df, [("Item.pk.S", "string", "pk", "array")])
    with pytest.raises(MappingError, match="both write target 'x'"):
        apply_mapping(df, [("Item.pk.S", "string", "x", "string"), ("Item.sk.N", "string", "x", "string")])
    with pytest.raises(MappingError, match="no rules"):
        apply_mapping(df, [])


def test_conformance_check_guards_what_the_reader_would_silently_null(spark: SparkSession) -> None:
    """Read with a schema that expects N, an S value becomes null without a word: that is why the
    job checks conformance first."""
    schema = infer_schema([{"price": {"N": "1"}}])
    odd: Item = {"price": {"S": "cheap"}}
    (row,) = frame(spark, [odd], schema).collect()
    assert row.Item.price.N is None
    assert conformance_error(odd, schema) is not None


def test_spark_schema_matches_the_saved_json(sample: list[Item]) -> None:
    schema = infer_schema(sample)
    assert spark_schema(schema).jsonValue() == schema


# --------------------------------------------------------------------------- any items


@given(st.lists(item_strategy, min_size=1, max_size=6))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                HealthCheck.function_scoped_fixture])
def test_any_items_round_trip_through_generated_rules(spark: SparkSession, items: list[Item]) -> None:
    back = round_trip(spark, items)
    assert sorted(map(item_digest, back)) == sorted(map(item_digest, items))  # equal as DynamoDB compares


def test_case_sensitive_names_for_the_block_then_the_sessions_own_setting(spark) -> None:
    from ddbmigrate.mapping.spark import case_sensitive_names

    spark.conf.set("spark.sql.caseSensitive", "false")
    try:
        frame = spark.createDataFrame([("upper", "lower")], ["Case", "case"])
        with case_sensitive_names(spark):
            assert frame.select("Case").first()[0] == "upper"  # ambiguous without it
            assert spark.conf.get("spark.sql.caseSensitive") == "true"
        assert spark.conf.get("spark.sql.caseSensitive") == "false"
    finally:
        spark.conf.set("spark.sql.caseSensitive", "true")  # the shared session's setting (conftest)
