"""Generated rules: native targets for one-type attributes, typed pass-through for the rest; rule checks."""

from __future__ import annotations

from typing import Any

import pytest

from ddbmigrate.errors import MappingError
from ddbmigrate.mapping.rules import PASSTHROUGH, compile_rules, generate_mappings, parse_rule, source_tag
from ddbmigrate.mapping.types import parse_glue_type
from ddbmigrate.sample import sample_items
from ddbmigrate.schema import infer_schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return infer_schema(sample_items(12))


@pytest.fixture(scope="module")
def rules(schema: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    """Generated rules by target path."""
    return {rule[2]: rule for rule in generate_mappings(schema)}


def test_scalars_get_native_targets_and_numbers_stay_text(rules: dict[str, tuple[str, str, str, str]]) -> None:
    assert rules["pk"] == ("Item.pk.S", "string", "pk", "string")
    assert rules["sk"] == ("Item.sk.N", "string", "sk", "string")
    assert rules["precise"] == ("Item.precise.N", "string", "precise", "string")
    assert rules["blob"] == ("Item.blob.B", "string", "blob", "string")
    assert rules["active"] == ("Item.active.BOOL", "boolean", "active", "boolean")
    assert rules["nothing"] == ("Item.nothing.NULL", "boolean", "nothing", "boolean")


def test_sets_stay_arrays_tagged_as_sets(rules: dict[str, tuple[str, str, str, str]]) -> None:
    assert rules["tags"] == ("Item.tags.SS", "array", "tags", "array")
    assert rules["scores"] == ("Item.scores.NS", "array", "scores", "array")
    assert rules["keys"] == ("Item.keys.BS", "array", "keys", "array")


def test_nested_maps_flatten_to_dotted_targets(rules: dict[str, tuple[str, str, str, str]]) -> None:
    assert rules["address.city"] == ("Item.address.M.city.S", "string", "address.city", "string")
    assert rules["address.geo.lat"] == ("Item.address.M.geo.M.lat.N", "string", "address.geo.lat", "string")
    deepest = "deep." + ".".join(f"level{i}" for i in range(1, 11))
    assert rules[deepest][0] == "Item.deep.M." + ".M.".join(f"level{i}" for i in range(1, 11)) + ".S"


def test_lists_mixed_types_and_empty_maps_pass_through(rules: dict[str, tuple[str, str, str, str]]) -> None:
    for name in ("history", "empty_list", "mixed", "empty_map"):
        assert rules[name] == (f"Item.{name}", "string", name, "string")


def test_odd_names_are_backticked_and_case_kept(rules: dict[str, tuple[str, str, str, str]]) -> None:
    assert rules["`dotted.name`"] == ("Item.`dotted.name`.S", "string", "`dotted.name`", "string")
    assert rules["`with space`"] == ("Item.`with space`.N", "string", "`with space`", "string")
    assert rules["ünïcödé_属性"] == ("Item.ünïcödé_属性.S", "string", "ünïcödé_属性", "string")
    assert rules["Case"][0] == "Item.Case.S" and rules["case"][0] == "Item.case.S"


def test_every_attribute_is_covered_and_every_rule_compiles(schema: dict[str, Any]) -> None:
    mappings = generate_mappings(schema)
    compiled = compile_rules(mappings, schema=schema)
    assert {rule.target[0] for rule in compiled} == {name for item in sample_items(12) for name in item}
    assert {rule.tag for rule in compiled} == {"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", PASSTHROUGH}


@pytest.mark.parametrize(
    ("path", "tag"),
    [
        (("Item", "a", "S"), "S"),
        (("Item", "a", "M", "b", "M", "c", "NS"), "NS"),
        (("Item", "a", "M"), "M"),
        (("Item", "a"), PASSTHROUGH),
        (("Item", "a", "M", "b"), PASSTHROUGH),
        (("item", "a", "S"), None),
        (("Item",), None),
    ],
)
def test_the_tag_is_read_from_the_source_path(path: tuple[str, ...], tag: str | None) -> None:
    assert source_tag(path) == tag


@pytest.mark.parametrize(
    ("path", "message"),
    [(("Item", "a", "S", "b"), "reaches inside an S value"), (("Item", "a", "X"), "'X' in Item.a.X is not a DynamoDB type tag")],
)
def test_paths_into_non_maps_are_refused(path: tuple[str, ...], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        source_tag(path)


# --------------------------------------------------------------------------- checks


def check(rules: list[Any], schema: dict[str, Any]) -> None:
    compile_rules(rules, schema=schema, where="mappings/t.json")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([("Item.nope.S", "string", "nope", "string")], r"mappings\[0\].*'Item.nope.S' is not in the mapping's schema"),
        ([("Item.pk.S", "text", "pk", "string")], r"mappings\[0\].*'text' is not a Glue type name"),
        ([("Item.pk.S", "long", "pk", "string")], r"source type is long but the schema has string"),
        ([("Item.pk.S", "string", "pk", "string"), ("Item.name.S", "string", "pk", "string")],
         r"mappings\[1\] and mappings\[0\] both write target 'pk'"),
        ([("Item.pk.S", "string", "a", "string"), ("Item.name.S", "string", "a.b", "string")],
         r"target 'a' is a value in mappings\[0\] and a struct in mappings\[1\]"),
        ([("Item.tags.SS", "array", "tags", "string")], r"an SS cannot be written back from target type string"),
        ([("Item.active.BOOL", "boolean", "active", "long")], r"a BOOL cannot be written back from target type long"),
        ([("Item.history", "string", "history", "struct")], r"a typed pass-through cannot be written back"),
        ([("pk", "string", "pk", "string")], r"must start with 'Item\.'"),
        ([("Item.pk.S", "string", "pk")], r"mappings\[0\]: a rule must be 4 strings"),
        ([("Item.pk.S", "string", "a..b", "string")], r"empty segment"),
        ([("Item.sk.N", "string", "sk", "decimal(40,2)")], r"decimal precision must be 1–38"),
    ],
)
def test_bad_rules_are_refused_naming_file_and_index(schema: dict[str, Any], rules: list[Any], message: str) -> None:
    with pytest.raises(MappingError, match=message) as caught:
        check(rules, schema)
    assert str(caught.value).startswith("mappings/t.json")


def test_user_edits_within_the_allowed_targets_compile(schema: dict[str, Any]) -> None:
    edited = [
        ("Item.pk.S", "string", "customer_id", "string"),  # rename
        ("Item.sk.N", "string", "sk", "long"),
        ("Item.balance.N", "string", "money.balance", "decimal(38,20)"),  # nest + retype
        ("Item.precise.N", "string", "precise", "double"),
        ("Item.blob.B", "string", "blob", "binary"),
        ("Item.address.M", "struct", "address", "struct"),  # whole map as a typed struct
        ("Item.address.M.geo.M.lat.N", "string", "lat", "string"),  # flatten
    ]
    compiled = compile_rules(edited, schema=schema)
    assert [r.tag for r in compiled] == ["S", "N", "N", "N", "B", "M", "N"]
    assert compiled[2].target == ("money", "balance")
    assert compiled[2].target_type == parse_glue_type("decimal(38,20)")


def test_parse_rule_canonicalises_for_glue() -> None:
    rule = parse_rule(["Item.`a.b`.N", "String", "`x.y`", "Decimal"], 0)
    assert rule.as_tuple() == ("Item.`a.b`.N", "string", "`x.y`", "decimal(10,2)")
