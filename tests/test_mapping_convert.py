"""Mapped rows back to wire items: every type exact, user edits honoured, bad values named not shown."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from ddbmigrate.errors import InvalidItemError, MappingError
from ddbmigrate.mapping import CAST_FAILURES_COLUMN, compile_rules, row_to_item
from ddbmigrate.mapping.rules import Rule


def rules(*mappings: tuple[str, str, str, str]) -> tuple[Rule, ...]:
    return compile_rules(mappings)


def test_every_scalar_and_set_type() -> None:
    mapping = rules(
        ("Item.s.S", "string", "s", "string"), ("Item.n.N", "string", "n", "string"),
        ("Item.b.B", "string", "b", "string"), ("Item.t.BOOL", "boolean", "t", "boolean"),
        ("Item.f.BOOL", "boolean", "f", "boolean"), ("Item.z.NULL", "boolean", "z", "boolean"),
        ("Item.ss.SS", "array", "ss", "array"), ("Item.ns.NS", "array", "ns", "array"),
        ("Item.bs.BS", "array", "bs", "array"), ("Item.e.S", "string", "e", "string"),
        ("Item.eb.B", "string", "eb", "string"),
    )
    row = {"s": "Zoë", "n": "-1.50E+3", "b": "AAH/", "t": True, "f": False, "z": True, "ss": ["b", "a"],
           "ns": ["1", "1E-130"], "bs": ["AA==", "/w=="], "e": "", "eb": ""}
    assert row_to_item(row, mapping) == {
        "s": {"S": "Zoë"}, "n": {"N": "-1500"}, "b": {"B": b"\x00\x01\xff"}, "t": {"BOOL": True},
        "f": {"BOOL": False}, "z": {"NULL": True}, "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["1", "0." + "0" * 129 + "1"]}, "bs": {"BS": [b"\x00", b"\xff"]}, "e": {"S": ""},
        "eb": {"B": b""},
    }


def test_numbers_keep_all_38_digits() -> None:
    mapping = rules(("Item.n.N", "string", "n", "string"))
    for text in ("12345678901234567890123456789012345678", "9.9999999999999999999999999999999999999E+125",
                 "-1.2345678901234567890123456789012345678E-130"):
        (out,) = row_to_item({"n": text}, mapping).values()
        assert Decimal(out["N"]) == Decimal(text)


def test_missing_values_are_omitted_and_nulls_never_invented() -> None:
    mapping = rules(("Item.a.S", "string", "a", "string"), ("Item.m.M.x.S", "string", "m.x", "string"))
    assert row_to_item({"a": None, "m": None}, mapping) == {}
    assert row_to_item({"a": None, "m": {"x": None}}, mapping) == {}
    assert row_to_item({}, mapping) == {}


def test_dotted_targets_rebuild_nested_maps() -> None:
    mapping = rules(("Item.a.M.b.M.c.N", "string", "a.b.c", "string"), ("Item.a.M.d.S", "string", "a.d", "string"),
                    ("Item.`x.y`.M.`p q`.S", "string", "`x.y`.`p q`", "string"))
    row = {"a": {"b": {"c": "1"}, "d": "v"}, "x.y": {"p q": "w"}}
    assert row_to_item(row, mapping) == {
        "a": {"M": {"b": {"M": {"c": {"N": "1"}}}, "d": {"S": "v"}}},
        "x.y": {"M": {"p q": {"S": "w"}}},
    }


def test_names_that_differ_only_by_case_stay_apart() -> None:
    mapping = rules(("Item.Case.S", "string", "Case", "string"), ("Item.case.S", "string", "case", "string"))
    assert row_to_item({"Case": "U", "case": "l"}, mapping) == {"Case": {"S": "U"}, "case": {"S": "l"}}


def test_passthrough_text_is_parsed_back_exactly() -> None:
    mapping = rules(("Item.h", "string", "h", "string"), ("Item.m.M.inner", "string", "m.inner", "string"))
    row = {"h": '{"L":[{"S":"a"},{"N":"1.50"},{"B":"AAE="},{"M":{}},{"L":[]},{"NULL":true},{"SS":["x"]}]}',
           "m": {"inner": '{"M":{}}'}}
    item = row_to_item(row, mapping)
    assert item["h"] == {"L": [{"S": "a"}, {"N": "1.50"}, {"B": b"\x00\x01"}, {"M": {}}, {"L": []}, {"NULL": True},
                               {"SS": ["x"]}]}
    assert item["m"] == {"M": {"inner": {"M": {}}}}


def test_typed_structs_convert_back_too() -> None:
    """``Item.address.M`` mapped as a struct (a user edit, or the AWS blog's style) keeps its types."""
    mapping = rules(("Item.address.M", "struct", "address", "struct"), ("Item.whole", "struct", "whole", "struct"))
    row = {"address": {"city": {"S": "Zürich", "N": None}, "geo": {"M": {"lat": {"N": "47.3"}}}, "gone": None},
           "whole": {"S": None, "NS": ["2", "1"]}}
    assert row_to_item(row, mapping) == {
        "address": {"M": {"city": {"S": "Zürich"}, "geo": {"M": {"lat": {"N": "47.3"}}}}},
        "whole": {"NS": ["2", "1"]},
    }
    assert row_to_item({"address": {"city": None}}, mapping) == {"address": {"M": {}}}  # an empty map stays a map


def test_a_rename_and_a_drop() -> None:
    mapping = rules(("Item.pk.S", "string", "customer", "string"), ("Item.n.N", "string", "n", "string"))
    row = {"customer": "c1", "n": "5", "dropped": "ignored"}
    assert row_to_item(row, mapping) == {"customer": {"S": "c1"}, "n": {"N": "5"}}


@pytest.mark.parametrize(
    ("target_type", "value", "number"),
    [
        ("decimal(38,10)", Decimal("1.5000000000"), "1.5"),
        ("decimal(38,0)", Decimal("12345678901234567890123456789012345678"), "12345678901234567890123456789012345678"),
        ("long", 9007199254740993, "9007199254740993"),
        ("int", -7, "-7"),
        ("double", 0.1, "0.1"),
        ("double", 1e+20, "100000000000000000000"),
        ("float", 47.376899719238281, "47.37689971923828"),
        ("string", "007.0", "7"),
    ],
)
def test_user_changed_number_types_convert_back_exactly(target_type: str, value: Any, number: str) -> None:
    mapping = rules(("Item.n.N", "string", "n", target_type))
    assert row_to_item({"n": value}, mapping) == {"n": {"N": number}}


@pytest.mark.parametrize(
    ("target_type", "value", "text"),
    [("long", 7, "7"), ("boolean", True, "true"), ("date", datetime.date(2024, 1, 2), "2024-01-02"),
     ("binary", b"caf\xc3\xa9", "café"), ("double", 2.5, "2.5")],
)
def test_user_changed_string_types_convert_back_to_text(target_type: str, value: Any, text: str) -> None:
    assert row_to_item({"s": value}, rules(("Item.s.S", "string", "s", target_type))) == {"s": {"S": text}}


def test_binary_target_holds_the_base64_text_bytes() -> None:
    mapping = rules(("Item.b.B", "string", "b", "binary"))
    assert row_to_item({"b": b"AAH/"}, mapping) == {"b": {"B": b"\x00\x01\xff"}}


def test_spark_rows_are_accepted() -> None:
    from pyspark.sql import Row

    mapping = rules(("Item.m.M.x.N", "string", "m.x", "string"), ("Item.s.SS", "array", "s", "array"))
    assert row_to_item(Row(m=Row(x="3"), s=["a"]), mapping) == {"m": {"M": {"x": {"N": "3"}}}, "s": {"SS": ["a"]}}


def test_raw_tuples_and_mapping_files_work_like_compiled_rules() -> None:
    raw = [("Item.a.N", "string", "a", "string")]
    assert row_to_item({"a": "1"}, raw) == row_to_item({"a": "1"}, compile_rules(raw)) == {"a": {"N": "1"}}


@pytest.mark.parametrize(
    ("mapping", "row", "message"),
    [
        ((("Item.n.N", "string", "n", "string"),), {"n": "12abc"}, r"target 'n' \(mappings\[0\]\): N is not a number"),
        ((("Item.n.N", "string", "n", "double"),), {"n": float("nan")}, "NaN or Infinity"),
        ((("Item.n.N", "string", "n", "string"),), {"n": "1" * 39}, "39 significant digits"),
        ((("Item.b.B", "string", "b", "string"),), {"b": "not base64!"}, "B is not valid base64"),
        ((("Item.z.NULL", "boolean", "z", "boolean"),), {"z": False}, "NULL must be true"),
        ((("Item.s.SS", "array", "s", "array"),), {"s": []}, "empty"),
        ((("Item.s.SS", "array", "s", "array"),), {"s": ["a", "a"]}, "duplicate"),
        ((("Item.s.NS", "array", "s", "array"),), {"s": ["1", "1.0"]}, "duplicate"),
        ((("Item.s.SS", "array", "s", "array"),), {"s": ["a", None]}, "null member"),
        ((("Item.h", "string", "h", "string"),), {"h": "{not json"}, "pass-through is not DynamoDB JSON"),
        ((("Item.h", "string", "h", "string"),), {"h": '{"X": 1}'}, "unknown type tag 'X'"),
    ],
)
def test_values_that_cannot_be_stored_are_refused_naming_the_target(
    mapping: tuple[tuple[str, str, str, str], ...], row: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidItemError, match=message) as caught:
        row_to_item(row, rules(*mapping))
    for value in row.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in str(caught.value)


def test_cast_failures_marked_by_apply_mapping_dead_letter_the_row() -> None:
    mapping = rules(("Item.n.N", "string", "n", "decimal(10,2)"))
    with pytest.raises(InvalidItemError, match=r"target\(s\) 'n': the value does not fit the mapping's target type"):
        row_to_item({"n": None, CAST_FAILURES_COLUMN: ["n"]}, mapping)
    assert row_to_item({"n": Decimal("1.00"), CAST_FAILURES_COLUMN: []}, mapping) == {"n": {"N": "1"}}


def test_rules_that_do_not_read_an_export_are_refused() -> None:
    with pytest.raises(MappingError, match=r"must start with 'Item\.'"):
        row_to_item({}, [("id", "string", "id", "string")])

