"""Schema inference (the local crawler's core), normalisation, conformance, paths and schema files."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbmigrate.errors import InvalidItemError, MappingError
from ddbmigrate.sample import sample_item, sample_items
from ddbmigrate.schema import (
    PASSTHROUGH_METADATA,
    SCHEMA_FORMAT,
    attribute_fields,
    conformance_error,
    infer_schema,
    join_path,
    load_schema,
    normalize_schema,
    passthrough_reasons,
    quote_name,
    save_schema,
    split_path,
)
from ddbmigrate.values import item_to_json


def attr(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The field of attribute ``name`` in a schema."""
    (found,) = [f for f in attribute_fields(schema) if f["name"] == name]
    return found


def tag_struct(tag: str, type_: Any) -> dict[str, Any]:
    return {"type": "struct", "fields": [{"name": tag, "type": type_, "nullable": True, "metadata": {}}]}


STRINGS = {"type": "array", "elementType": "string", "containsNull": True}


# --------------------------------------------------------------------------- inference


def test_every_scalar_and_set_type_gets_its_column_type() -> None:
    schema = infer_schema(sample_items(6))
    expected = {
        "pk": tag_struct("S", "string"), "sk": tag_struct("N", "string"), "balance": tag_struct("N", "string"),
        "blob": tag_struct("B", "string"), "active": tag_struct("BOOL", "boolean"),
        "nothing": tag_struct("NULL", "boolean"), "tags": tag_struct("SS", STRINGS),
        "scores": tag_struct("NS", STRINGS), "keys": tag_struct("BS", STRINGS),
        "empty_string": tag_struct("S", "string"), "empty_binary": tag_struct("B", "string"),
    }
    for name, type_ in expected.items():
        assert attr(schema, name)["type"] == type_, name


def test_numbers_are_never_typed_as_floating_point() -> None:
    text = json.dumps(infer_schema(sample_items(10)))
    assert '"double"' not in text and '"float"' not in text and '"decimal' not in text


def test_nested_maps_become_nested_structs_ten_deep() -> None:
    schema = infer_schema(sample_items(2))
    level = attr(schema, "deep")
    for depth in range(1, 11):
        (m,) = level["type"]["fields"]
        assert m["name"] == "M"
        members = {f["name"]: f for f in m["type"]["fields"]}
        assert members["n"]["type"] == tag_struct("N", "string")
        level = members[f"level{depth}"]
    assert level["type"] == tag_struct("S", "string")


def test_address_map_members_are_attribute_structs() -> None:
    address = attr(infer_schema(sample_items(2)), "address")
    (m,) = address["type"]["fields"]
    city, geo = m["type"]["fields"]
    assert (city["name"], city["type"]) == ("city", tag_struct("S", "string"))
    assert [f["name"] for f in geo["type"]["fields"][0]["type"]["fields"]] == ["lat", "lon"]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([{"L": []}], "L"),
        ([{"L": [{"S": "a"}, {"N": "1"}]}], "L"),
        ([{"S": "a"}, {"N": "1"}], "N, S"),
        ([{"BOOL": True}, {"NULL": True}], "BOOL, NULL"),
        ([{"SS": ["a"]}, {"NS": ["1"]}], "NS, SS"),
        ([{"M": {"a": {"S": "x"}}}, {"M": {}}], "empty M"),
        ([{"M": {}}], "empty M"),
        ([{"M": {"a": {"S": "x"}}}, {"S": "x"}], "M, S"),
    ],
)
def test_what_a_column_cannot_carry_becomes_a_typed_passthrough(values: list[dict[str, Any]], reason: str) -> None:
    schema = infer_schema([{"pk": {"S": str(i)}, "v": v} for i, v in enumerate(values)])
    field = attr(schema, "v")
    assert field["type"] == "string"
    assert field["metadata"] == {PASSTHROUGH_METADATA: reason}
    assert passthrough_reasons(schema) == {"Item.v": reason}


def test_passthrough_is_as_deep_as_possible_inside_maps() -> None:
    items = [{"a": {"M": {"keep": {"S": "x"}, "list": {"L": [{"S": "y"}]}}}},
             {"a": {"M": {"keep": {"S": "z"}, "list": {"N": "1"}}}}]
    schema = infer_schema(items)
    members = {f["name"]: f["type"] for f in attr(schema, "a")["type"]["fields"][0]["type"]["fields"]}
    assert members == {"keep": tag_struct("S", "string"), "list": "string"}
    assert passthrough_reasons(schema) == {"Item.a.M.list": "L, N"}


def test_odd_names_are_kept_exactly_and_sorted_by_codepoint() -> None:
    names = [f["name"] for f in attribute_fields(infer_schema(sample_items(3)))]
    assert {"dotted.name", "with space", "ünïcödé_属性", "Case", "case"} <= set(names)
    assert names == sorted(names)
    assert names.index("Case") < names.index("case")


def test_inference_is_independent_of_item_order() -> None:
    items = list(sample_items(30))
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    assert infer_schema(items) == infer_schema(shuffled)


def test_sparse_attributes_are_merged_across_items() -> None:
    schema = infer_schema([{"a": {"S": "1"}}, {"b": {"N": "2"}}, {"c": {"M": {"x": {"S": "1"}}}},
                           {"c": {"M": {"y": {"BOOL": False}}}}])
    assert [f["name"] for f in attribute_fields(schema)] == ["a", "b", "c"]
    assert [f["name"] for f in attr(schema, "c")["type"]["fields"][0]["type"]["fields"]] == ["x", "y"]


def test_dynamodb_json_and_wire_form_infer_alike() -> None:
    items = list(sample_items(5))
    assert infer_schema(items) == infer_schema(item_to_json(i) for i in items)


def test_a_value_without_a_single_type_tag_names_the_attribute() -> None:
    with pytest.raises(InvalidItemError, match=r"item: attribute 'a\.b': a typed value must be an object") as caught:
        infer_schema([{"a": {"M": {"b": {"S": "secret", "N": "1"}}}}])
    assert "secret" not in str(caught.value)
    with pytest.raises(InvalidItemError, match="unknown type tag 'X'"):
        infer_schema([{"a": {"X": 1}}])


def test_inference_streams_200k_items_in_well_under_a_minute() -> None:
    template = [item_to_json(sample_item(i)) for i in range(50)]
    count = 200_000
    started = time.perf_counter()
    schema = infer_schema(template[i % 50] for i in range(count))
    elapsed = time.perf_counter() - started
    assert {f["name"] for f in attribute_fields(schema)} == set(sample_item(0)) | {"mixed"}
    assert elapsed < 30, f"{count} items took {elapsed:.1f}s"


# --------------------------------------------------------------------------- conformance


@pytest.fixture(scope="module")
def sample_schema() -> dict[str, Any]:
    return infer_schema(sample_items(12))


def test_items_the_schema_was_inferred_from_conform(sample_schema: dict[str, Any]) -> None:
    assert [conformance_error(item, sample_schema) for item in sample_items(12)] == [None] * 12


def test_missing_attributes_are_fine(sample_schema: dict[str, Any]) -> None:
    assert conformance_error({"pk": {"S": "a"}}, sample_schema) is None
    assert conformance_error({"address": {"M": {"city": {"S": "x"}}}}, sample_schema) is None


def test_a_type_the_schema_does_not_expect_is_named_without_the_value() -> None:
    schema = infer_schema([{"price": {"N": "1"}}])
    problem = conformance_error({"price": {"S": "secret-price"}}, schema)
    assert problem is not None
    assert problem.startswith("attribute 'price' is S but the mapping's schema expects N;")
    assert "re-run 'ddbmigrate crawl'" in problem
    assert "secret" not in problem


def test_an_unknown_attribute_is_named(sample_schema: dict[str, Any]) -> None:
    problem = conformance_error({"pk": {"S": "a"}, "new.attr": {"S": "x"}}, sample_schema)
    assert problem is not None and problem.startswith("attribute '`new.attr`' is not in the mapping's schema")


def test_nested_misfits_are_named_by_path(sample_schema: dict[str, Any]) -> None:
    item = {"address": {"M": {"geo": {"M": {"lat": {"S": "north"}}}}}}
    problem = conformance_error(item, sample_schema)
    assert problem is not None and problem.startswith("attribute 'address.geo.lat' is S but the mapping's schema expects N")
    unknown = conformance_error({"address": {"M": {"zip": {"S": "1"}}}}, sample_schema)
    assert unknown is not None and unknown.startswith("attribute 'address.zip' is not in")


def test_an_empty_map_where_members_are_columns_would_vanish(sample_schema: dict[str, Any]) -> None:
    problem = conformance_error({"address": {"M": {}}}, sample_schema)
    assert problem is not None and "is an empty M" in problem


def test_passthrough_attributes_accept_anything(sample_schema: dict[str, Any]) -> None:
    for value in ({"L": []}, {"S": "x"}, {"M": {}}, {"NS": ["1"]}):
        assert conformance_error({"history": value, "mixed": value, "empty_map": value}, sample_schema) is None


# --------------------------------------------------------------------------- normalising


def test_normalize_is_idempotent_on_inferred_schemas(sample_schema: dict[str, Any]) -> None:
    assert normalize_schema(sample_schema) == sample_schema


def test_normalize_takes_a_crawler_shaped_schema() -> None:
    crawled = {"type": "struct", "fields": [{"name": "item", "nullable": True, "metadata": {}, "type": {
        "type": "struct", "fields": [
            {"name": "price", "type": tag_struct("N", "double"), "nullable": True, "metadata": {}},
            {"name": "mixed", "type": {"type": "struct", "fields": [
                {"name": "S", "type": "string", "nullable": True, "metadata": {}},
                {"name": "N", "type": "string", "nullable": True, "metadata": {}}]}, "nullable": True, "metadata": {}},
            {"name": "hist", "type": tag_struct("L", {"type": "array", "elementType": tag_struct("S", "string"),
                                                      "containsNull": True}), "nullable": True, "metadata": {}},
            {"name": "empty", "type": tag_struct("M", {"type": "struct", "fields": []}), "nullable": True, "metadata": {}},
        ]}}]}
    schema = normalize_schema(crawled)
    assert schema["fields"][0]["name"] == "Item"
    assert attr(schema, "price")["type"] == tag_struct("N", "string")
    assert passthrough_reasons(schema) == {"Item.empty": "empty M", "Item.hist": "L", "Item.mixed": "N, S"}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array"}, "expected a Spark struct schema"),
        ({"type": "struct", "fields": []}, "exactly one top-level field 'Item'"),
        ({"type": "struct", "fields": [{"name": "Item", "type": "string"}]}, "'Item' must be a struct"),
        ({"type": "struct", "fields": [{"name": "Item", "type": {"type": "struct", "fields": [
            {"name": "a", "type": "boolean"}]}}]}, r"Item\.a must be a struct of type tags"),
        ({"type": "struct", "fields": [{"name": "Item", "type": {"type": "struct", "fields": [
            {"name": "a", "type": tag_struct("Q", "string")}]}}]}, "'Q', which is not a DynamoDB type tag"),
        ({"type": "struct", "fields": [{"name": "Item", "type": {"type": "struct", "fields": [
            {"name": "a", "type": "string"}, {"name": "a", "type": "string"}]}}]}, r"Item\.a is declared twice"),
    ],
)
def test_bad_schemas_are_refused_naming_the_path(schema: Any, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        normalize_schema(schema)


# --------------------------------------------------------------------------- files


def test_save_and_load_round_trip(tmp_path: Path, sample_schema: dict[str, Any]) -> None:
    path = tmp_path / "mappings" / "orders.schema.json"
    save_schema(sample_schema, path, source={"export": "s3://b/p/AWSDynamoDB/1-a/"})
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == SCHEMA_FORMAT
    assert document["source"] == {"export": "s3://b/p/AWSDynamoDB/1-a/"}
    assert "ünïcödé_属性" in path.read_text(encoding="utf-8")  # readable, not \u-escaped
    assert load_schema(path) == sample_schema


def test_load_takes_a_bare_spark_schema(tmp_path: Path, sample_schema: dict[str, Any]) -> None:
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(sample_schema))
    assert load_schema(path) == sample_schema


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"missing\.json: schema file not found"):
        load_schema(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(MappingError, match=r"broken\.json: not a readable JSON file"):
        load_schema(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something/2", "schema": {}}))
    with pytest.raises(MappingError, match=r"other\.json: format 'something/2'"):
        load_schema(other)


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("names", "path"),
    [
        (("Item", "ID", "S"), "Item.ID.S"),
        (("Item", "dotted.name", "S"), "Item.`dotted.name`.S"),
        (("Item", "with space", "N"), "Item.`with space`.N"),
        (("Item", "ünïcödé_属性", "S"), "Item.ünïcödé_属性.S"),
        (("Item", "back`tick", "S"), "Item.`back``tick`.S"),
        (("Case",), "Case"),
    ],
)
def test_paths_quote_with_backticks_like_glue(names: tuple[str, ...], path: str) -> None:
    assert join_path(names) == path
    assert split_path(path) == names


def test_split_accepts_needless_quotes() -> None:
    assert split_path("`Item`.`ID`.S") == ("Item", "ID", "S")


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "a.`b", "``"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(MappingError):
        split_path(path)


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5))
@settings(max_examples=300, deadline=None)
def test_any_names_survive_join_then_split(names: list[str]) -> None:
    assert split_path(join_path(names)) == tuple(names)


def test_empty_name_cannot_be_quoted() -> None:
    with pytest.raises(MappingError):
        quote_name("")
