"""Attribute values: lossless round trips (property tests), DynamoDB's rules, sizes and key checks.

The property tests generate items with every DynamoDB type — 38-digit numbers at both ends of
the range in several spellings, M/L nested to DynamoDB's limit, empty strings/binaries/maps/lists,
all three set types, awkward attribute names — and check that no conversion changes them. The
integration tests hold our rules and sizes against DynamoDB Local, AWS's own engine.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from item_strategies import MAX_NUMBER, MIN_NUMBER, decimals, edge_numbers, items, semantic_item, spell

from ddbmigrate.errors import InvalidItemError, InvalidKeyError
from ddbmigrate.sample import SAMPLE_ATTRIBUTE_DEFINITIONS, SAMPLE_KEY_SCHEMA, sample_items
from ddbmigrate.values import (
    MAX_ITEM_BYTES,
    Item,
    attribute_value_size,
    canonical_number,
    deserialize_item,
    item_from_json,
    item_size,
    item_to_json,
    key_attribute_types,
    key_of,
    read_capacity_units,
    serialize_item,
    serialize_value,
    significant_digits,
    validate_attribute_value,
    validate_item_size,
    validate_key,
    write_capacity_units,
)

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- the fast walk


_AWKWARD = ["a", "1", "1.0", "-0", "+1", ".5", "5.", "1e-130", "1E+126", "AA==", "AAE", "", "1" * 38, "1" * 39,
            "-" + "9" * 38, "0." + "0" * 36 + "1", "1" * 20 + "." + "1" * 19, None, True, 1, 1.5, [], {}]
"""Payloads at the edges of the fast walk's shortcuts: odd spellings, 38 vs 39 digits, wrong JSON types."""


def _typed_nodes(av: Any) -> list[dict[str, Any]]:
    nodes = [av]
    (tag, payload), = av.items()
    if tag == "M":
        nodes += [n for v in payload.values() for n in _typed_nodes(v)]
    elif tag == "L":
        nodes += [n for v in payload for n in _typed_nodes(v)]
    return nodes


def _in_lists(av: dict[str, Any], levels: int) -> dict[str, Any]:
    for _ in range(levels):
        av = {"L": [av]}
    return av


def _swap(node: dict[str, Any], new: dict[str, Any]) -> None:
    """Replace a typed value in place (its parent keeps pointing at it)."""
    node.clear()
    node.update(new)


def _set_payload(node: dict[str, Any], x: Any) -> None:
    _swap(node, {next(iter(node)): x})


def _grow_list(node: dict[str, Any], member: Any) -> None:
    (tag, payload), = node.items()
    if isinstance(payload, list) and payload:
        _swap(node, {tag: [*payload, payload[0] if member is None else member]})


_ANY_NODE = {
    "payload": _set_payload,
    "tag": lambda node, x: _swap(node, {str(x): next(iter(node.values()))}),
    "second tag": lambda node, x: node.update({"S" if "S" not in node else "N": x}),
    "deeper": lambda node, x: _swap(node, _in_lists(dict(node), 30)),
}
_BY_TAG: dict[str, dict[str, Callable[[dict[str, Any], Any], None]]] = {
    "SS": {"duplicate member": lambda node, x: _grow_list(node, None), "add member": _grow_list},
    "NS": {"duplicate member": lambda node, x: _grow_list(node, None), "add member": _grow_list},
    "BS": {"duplicate member": lambda node, x: _grow_list(node, None), "add member": _grow_list},
    "M": {"empty name": lambda node, x: node.update({"M": {**node["M"], "": {"S": "x"}}})},
}


@st.composite
def _corrupted(draw: st.DrawFn) -> dict[str, Any]:
    """A valid DynamoDB JSON item with one thing broken: what the fast walk must hand to the slow one."""
    document = item_to_json(draw(items))
    nodes = [n for av in document.values() for n in _typed_nodes(av)]
    leaves = [n for n in nodes if next(iter(n)) not in ("M", "L")] or nodes
    node = draw(st.sampled_from(leaves) | st.sampled_from(nodes))
    corruptions = {**_ANY_NODE, **_BY_TAG.get(next(iter(node)), {})}
    specific = sorted(_BY_TAG.get(next(iter(node)), {}))
    kind = draw(st.sampled_from(specific) | st.sampled_from(sorted(corruptions))) if specific else \
        draw(st.sampled_from(sorted(corruptions)))
    corruptions[kind](node, draw(st.sampled_from(_AWKWARD)))
    return document


_AWKWARD_NUMBERS = ["1", "1.0", "-0", "+1", ".5", "5.", "1e-130", "1E+126", "1" * 38, "1" * 39, "-" + "9" * 38,
                    "0." + "0" * 36 + "1", "1" * 20 + "." + "1" * 19, "-" + "1" * 38]
_edge_values = st.one_of(
    st.builds(
        lambda tag, payload: {"a": {tag: payload}},
        st.sampled_from(["S", "N", "B", "SS", "NS", "BS", "BOOL", "NULL", "M", "L"]),
        st.sampled_from(_AWKWARD) | st.lists(st.sampled_from([x for x in _AWKWARD if isinstance(x, str)]), max_size=3),
    ),
    st.builds(lambda n, ns: {"n": {"N": n}, "ns": {"NS": ns}},  # numbers alone: where the fast walk's shortcuts end
              st.sampled_from(_AWKWARD_NUMBERS), st.lists(st.sampled_from(_AWKWARD_NUMBERS), min_size=1, max_size=3)),
    st.builds(lambda levels, leaf: {"deep": _in_lists(leaf, levels)},  # nesting at and around DynamoDB's limit
              st.integers(29, 32), st.sampled_from([{"S": "x"}, {"M": {}}, {"L": []}, {"M": {"k": {"L": []}}}])),
)
"""One attribute with an awkward payload: sets with duplicates, 38 vs 39 digits, numbers in sets."""


def _outcome(walk: Callable[[], Any]) -> Any:
    try:
        return ("ok", walk())
    except InvalidItemError as exc:
        return ("refused", str(exc))


@PROPERTY
@given(st.one_of(items.map(item_to_json), _corrupted(), _edge_values))
def test_fast_walk_accepts_exactly_what_the_checking_walk_accepts(document: dict[str, Any]) -> None:
    """``item_from_json`` skips building error paths on valid input; it must decide and answer exactly
    as the reference walk does, on valid documents and on arbitrary corrupted ones alike."""
    from ddbmigrate.values import _slow_item_from_json

    assert _outcome(lambda: item_from_json(document, where="f line 1")) == \
        _outcome(lambda: _slow_item_from_json(document, "f line 1"))


@PROPERTY
@given(items)
def test_the_walk_sizes_items_as_item_size_and_knows_when_the_document_is_botocores(item: Item) -> None:
    from ddbmigrate.values import read_json_item

    document = json.loads(json.dumps(item_to_json(item)))  # as an export line holds it
    read = read_json_item(document)
    assert read.item == item_from_json(document)
    assert read.size == item_size(read.item)
    if read.json_exact:  # (a value the fast walk leaves to the checking walk makes it False: never wrongly True)
        assert json.dumps(document) == json.dumps(item_to_json(read.item))


def test_sample_items_are_read_with_their_document_reusable() -> None:
    from ddbmigrate.values import read_json_item

    for item in sample_items(50):
        document = json.loads(json.dumps(item_to_json(item)))
        read = read_json_item(document)
        assert read.json_exact and read.size == item_size(item)
        assert json.dumps(document) == json.dumps(item_to_json(read.item))


def test_non_canonical_base64_is_accepted_but_not_sent_as_it_is() -> None:
    from ddbmigrate.values import read_json_item

    read = read_json_item({"b": {"B": "AB=="}, "s": {"S": "x"}})  # the trailing bits are not zero: still b"\x00"
    assert read.item == {"b": {"B": b"\x00"}, "s": {"S": "x"}} and read.size == 4
    assert not read.json_exact
    assert not read_json_item({"bs": {"BS": ["AA==", "/x=="]}}).json_exact


def test_fast_walk_keeps_the_decoded_binaries_and_number_spellings() -> None:
    document = {"b": {"B": "AAE="}, "bs": {"BS": ["AA==", "/w=="]}, "n": {"N": "1E-130"}, "ns": {"NS": ["1.50", "2"]}}
    assert item_from_json(document) == {"b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\x00", b"\xff"]},
                                        "n": {"N": "1E-130"}, "ns": {"NS": ["1.50", "2"]}}
    with pytest.raises(InvalidItemError, match="duplicate"):
        item_from_json({"ns": {"NS": ["1.0", "1"]}})


# --------------------------------------------------------------------------- round trips


@PROPERTY
@given(items)
def test_wire_to_dynamodb_json_to_wire_is_the_identity(item: Item) -> None:
    # Through real JSON text, as export files and stream events carry it.
    text = json.dumps(item_to_json(item))
    back = item_from_json(json.loads(text), where="file.json line 1")
    assert back == item  # exact: number spellings, set member order, bytes all preserved


@PROPERTY
@given(items)
def test_wire_to_python_to_wire_keeps_every_value(item: Item) -> None:
    python = deserialize_item(item)
    back = serialize_item(python)
    assert semantic_item(back) == semantic_item(item)
    # and the Python form is stable: a second trip changes nothing at all
    assert deserialize_item(back) == python


@PROPERTY
@given(items)
def test_generated_items_pass_validation(item: Item) -> None:
    for name, av in item.items():
        validate_attribute_value(av, where=name)
    assert item_size(item) >= sum(len(n.encode()) for n in item)


@PROPERTY
@given(decimals(), st.integers(0, 4), st.integers(0, 4))
def test_canonical_number_is_the_same_for_every_spelling_and_keeps_the_value(
    number: Decimal, style_a: int, style_b: int
) -> None:
    a, b = canonical_number(spell(number, style_a)), canonical_number(spell(number, style_b))
    assert a == b
    assert Decimal(a) == number  # exact comparison, no rounding
    assert "E" not in a and "e" not in a
    assert canonical_number(a) == a
    if "." in a:
        assert not a.endswith("0") and not a.endswith(".")


@PROPERTY
@given(st.integers(39, 45), st.integers(-120, 100))
def test_more_than_38_significant_digits_are_refused(digits: int, adjusted: int) -> None:
    coefficient = "1" + "0" * (digits - 2) + "1"
    text = f"{coefficient[0]}.{coefficient[1:]}E{adjusted:+d}"
    with pytest.raises(InvalidItemError, match=f"{digits} significant digits"):
        canonical_number(text, where="attribute 'n'")


@PROPERTY
@given(st.one_of(st.integers(126, 400), st.integers(-400, -131)), st.integers(1, 9))
def test_numbers_outside_the_range_are_refused(adjusted: int, lead: int) -> None:
    with pytest.raises(InvalidItemError, match="outside DynamoDB's range"):
        canonical_number(f"{lead}E{adjusted:+d}")


def test_sample_items_round_trip() -> None:
    for item in sample_items(12):
        assert item_from_json(json.loads(json.dumps(item_to_json(item)))) == item
        assert semantic_item(serialize_item(deserialize_item(item))) == semantic_item(item)


# --------------------------------------------------------------------------- refusals


def test_floats_are_refused_naming_the_path() -> None:
    with pytest.raises(InvalidItemError, match=r"attribute 'order'\.lines\[1\]\.price: floats lose digits"):
        serialize_item({"order": {"lines": [{"price": Decimal("1.5")}, {"price": 19.99}]}})


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_nan_and_infinity_are_refused_from_python(value: Decimal) -> None:
    with pytest.raises(InvalidItemError, match="NaN or Infinity"):
        serialize_value(value, where="attribute 'x'")


@pytest.mark.parametrize("text", ["NaN", "-nan", "Infinity", "inf", "sNaN"])
def test_nan_and_infinity_are_refused_from_json(text: str) -> None:
    with pytest.raises(InvalidItemError, match=r"attribute 'x': N may not be NaN or Infinity"):
        item_from_json({"x": {"N": text}})


@pytest.mark.parametrize("text", [" 1", "1 ", "1_000", "0x10", "", "1e", "--1", "1.2.3", "1,5"])
def test_number_spellings_dynamodb_rejects_are_refused(text: str) -> None:
    with pytest.raises(InvalidItemError, match="N is not a number"):
        canonical_number(text)


@pytest.mark.parametrize(
    ("av", "match"),
    [
        ({"SS": []}, "SS must be a non-empty list"),
        ({"NS": []}, "NS must be a non-empty list"),
        ({"BS": []}, "BS must be a non-empty list"),
        ({"SS": ["a", "a"]}, "SS has duplicate members"),
        ({"NS": ["1", "1.0"]}, "NS has duplicate members"),  # the same number, spelled twice
        ({"BS": ["AAE=", "AAE="]}, "BS has duplicate members"),
    ],
)
def test_bad_sets_are_refused(av: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidItemError, match=match):
        item_from_json({"pk": {"S": "k"}, "tags": av})


def test_empty_sets_are_refused_from_python() -> None:
    with pytest.raises(InvalidItemError, match=r"attribute 'tags': DynamoDB does not allow empty sets"):
        serialize_item({"tags": set()})


def test_duplicate_binary_set_members_are_refused_in_wire_form() -> None:
    with pytest.raises(InvalidItemError, match="BS has duplicate members"):
        validate_attribute_value({"BS": [b"\x00", b"\x00"]}, where="attribute 'keys'")


def test_thirty_nine_digits_are_refused() -> None:
    with pytest.raises(InvalidItemError, match="39 significant digits; DynamoDB allows at most 38"):
        item_from_json({"n": {"N": "123456789012345678901234567890123456789"}})


@pytest.mark.parametrize("text", ["1E+126", "-1E+126", "1E-131", "9.9999999999999999999999999999999999999E-131"])
def test_out_of_range_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidItemError, match="outside DynamoDB's range"):
        item_from_json({"n": {"N": text}})


@pytest.mark.parametrize("text", [MAX_NUMBER, "-" + MAX_NUMBER, MIN_NUMBER, "1.2345678901234567890123456789012345678E-130"])
def test_range_extremes_are_accepted_and_kept_exact(text: str) -> None:
    assert item_from_json({"n": {"N": text}}) == {"n": {"N": text}}
    assert Decimal(canonical_number(text)) == Decimal(text)
    assert serialize_value(deserialize_item({"n": {"N": text}})["n"]) == {"N": text}


def test_empty_attribute_names_are_refused() -> None:
    with pytest.raises(InvalidItemError, match="attribute name is empty"):
        item_from_json({"": {"S": "x"}})
    with pytest.raises(InvalidItemError, match=r"attribute 'm': an attribute name is empty"):
        item_from_json({"m": {"M": {"": {"S": "x"}}}})
    with pytest.raises(InvalidItemError, match="attribute name is empty"):
        serialize_item({"m": {"": 1}})


def _nest(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    value = leaf
    for _ in range(levels):
        value = {"M": {"a": value}}
    return value


def test_nesting_limit_is_dynamodbs() -> None:
    # 31 maps around a scalar is the deepest value DynamoDB stores; 32 maps is refused.
    item_from_json({"deep": _nest(31, {"S": "x"})})
    item_from_json({"deep": _nest(30, {"M": {}})})
    with pytest.raises(InvalidItemError, match="nested deeper than DynamoDB's 32 levels"):
        item_from_json({"deep": _nest(32, {"S": "x"})})
    with pytest.raises(InvalidItemError, match="nested deeper"):
        item_from_json({"deep": _nest(31, {"L": []})})
    with pytest.raises(InvalidItemError, match="nested deeper"):
        validate_attribute_value(_nest(31, {"M": {}}))
    python: Any = "x"
    for _ in range(32):
        python = [python]
    with pytest.raises(InvalidItemError, match="nested deeper"):
        serialize_value(python)


SECRET = "4111111111111111"


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        ({"card": {"M": {"number": {"N": SECRET + "x"}}}}, "'card'.number"),
        ({"card": {"M": {"number": {"N": SECRET * 3}}}}, "'card'.number"),
        ({"card": {"L": [{"S": SECRET}, {"N": SECRET + "E+200"}]}}, r"'card'[1]"),
        ({"card": {"SS": [SECRET, SECRET]}}, "'card'"),
        ({"card": {"BOOL": SECRET}}, "'card'"),
        ({"card": {"B": SECRET + "!"}}, "'card'"),
        ({"card": {"X": SECRET}}, "'card'"),
    ],
)
def test_errors_name_the_path_and_never_the_value(bad: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidItemError) as info:
        item_from_json(bad, where="data/x.json.gz line 3")
    message = str(info.value)
    assert message.startswith("data/x.json.gz line 3: attribute ")
    assert path in message
    assert SECRET not in message and "4111" not in message


def test_python_errors_never_print_the_value() -> None:
    with pytest.raises(InvalidItemError) as info:
        serialize_item({"card": {"number": Decimal(SECRET * 3)}})
    assert "'card'.number" in str(info.value) and "4111" not in str(info.value)


# --------------------------------------------------------------------------- canonical numbers


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1.50", "1.5"), ("-0", "0"), ("1E+3", "1000"), ("0.000", "0"), ("0E+200", "0"), ("+7", "7"),
        ("007.100", "7.1"), ("-1.5E-5", "-0.000015"), ("1e2", "100"), (".5", "0.5"), ("5.", "5"),
        ("1E-130", "0." + "0" * 129 + "1"), (MAX_NUMBER, "9" * 38 + "0" * 88),
    ],
)
def test_canonical_number(text: str, canonical: str) -> None:
    assert canonical_number(text) == canonical


@PROPERTY
@given(st.integers(-(10**38) + 1, 10**38 - 1), st.sampled_from(["", "0", "00", "+"]))
def test_an_integer_key_takes_the_short_way_to_the_same_canonical_form(number: int, lead: str) -> None:
    """Plain integers skip the Decimal walk; leading zeros, a plus sign or a signed zero still take it."""
    plain = str(number)
    spelled = plain if not lead else (lead + plain if number >= 0 else "-" + lead.lstrip("+") + plain[1:])
    assert canonical_number(spelled) == plain
    assert Decimal(canonical_number(spelled)) == number


@pytest.mark.parametrize(("text", "canonical"), [("-0", "0"), ("01", "1"), ("1" * 38 + "0", "1" * 38 + "0")])
def test_the_short_way_leaves_other_spellings_to_the_full_check(text: str, canonical: str) -> None:
    assert canonical_number(text) == canonical


@pytest.mark.parametrize("text", ["\u0661\u0662", "1" * 39, "\uff11"])
def test_numbers_are_ascii_digits_within_38_significant_digits(text: str) -> None:
    """Python's ``\\d`` also matches Arabic-Indic and full-width digits, which DynamoDB refuses: so do we."""
    with pytest.raises(InvalidItemError):
        canonical_number(text)
    with pytest.raises(InvalidItemError):
        item_from_json({"n": {"N": text}})


# --------------------------------------------------------------------------- size and capacity


@pytest.mark.parametrize(
    ("av", "size"),
    [
        ({"S": "abc"}, 3),
        ({"S": "Zoë"}, 4),  # UTF-8 bytes, not characters
        ({"S": ""}, 0),
        ({"B": b"\x00\x01\x02"}, 3),
        ({"B": "AAEC"}, 3),  # base64 text counts as the bytes it encodes
        ({"BOOL": False}, 1),
        ({"NULL": True}, 1),
        ({"N": "12"}, 2),  # one byte per pair of digits, plus one
        ({"N": "12345"}, 4),
        ({"N": "12345678901234567890123456789012345678"}, 20),
        ({"N": "1.5"}, 3),  # pairs align on the decimal point: 01|50
        ({"N": "-1"}, 3),  # a negative number costs one more byte
        ({"N": "0"}, 1),
        ({"M": {}}, 3),  # empty map or list: the 3-byte overhead
        ({"L": []}, 3),
        ({"L": [{"S": "x"}, {"BOOL": True}]}, 3 + (1 + 1) + (1 + 1)),
        ({"M": {"ab": {"S": "x"}, "c": {"NULL": True}}}, 3 + (2 + 1 + 1) + (1 + 1 + 1)),
        ({"SS": ["abc", "de"]}, 5),
        ({"NS": ["1", "123"]}, 2 + 3),
        ({"BS": [b"ab", b"c"]}, 3),
    ],
)
def test_attribute_value_size(av: dict[str, Any], size: int) -> None:
    assert attribute_value_size(av) == size


def _decimal_number_size(text: str) -> int:
    """The oracle: DynamoDB's number size (a byte per pair of digits, aligned on the decimal point,
    one more, one more again if negative) counted on ``Decimal``'s own coefficient and exponent."""
    number = Decimal(text)
    if number.is_zero():
        return 1
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    coefficient = "".join(map(str, digits)).rstrip("0")
    lowest = exponent + len(digits) - len(coefficient)
    highest = lowest + len(coefficient) - 1
    return 1 + highest // 2 - lowest // 2 + 1 + sign


@PROPERTY
@given(st.builds(spell, decimals(), st.integers(0, 4)) | edge_numbers
       | st.sampled_from(["0", "-0", "0.000", "100", "-100.00", "0.05", "1" * 38, "1" * 39, "-0.0150E+3", ".5", "5.", "0E+5"]))
def test_number_size_from_the_text_equals_the_decimal_count(text: str) -> None:
    """Every spelling (plain, exponents, 38+ characters) is sized on the text; the count must be Decimal's."""
    from ddbmigrate.values import _number_size

    assert _number_size(text) == _decimal_number_size(text)


@pytest.mark.parametrize("text", ["abc", "1_000", " 1", "NaN", "Infinity", "1e", ""])
def test_what_is_no_number_is_never_sized(text: str) -> None:
    """The writer sizes an item before it validates it, and names the attribute when sizing fails
    (tests/test_sink.py): a text that is no DynamoDB number must fail, never get a size."""
    with pytest.raises(ValueError):
        item_size({"n": {"N": text}})


@PROPERTY
@given(st.builds(spell, decimals(), st.integers(0, 4)) | edge_numbers | st.sampled_from(["-0.0150E+3", "00120", ".5", "5."]))
def test_significant_digits_on_the_text_equal_the_decimal_count(text: str) -> None:
    """Counted on the text (any spelling DynamoDB accepts); the oracle is Decimal's own digit tuple."""
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    assert significant_digits(text) == max(len(digits), 1)


def test_item_size_counts_names_and_values() -> None:
    item = {"pk": {"S": "customer#1"}, "ünï": {"N": "12"}, "tags": {"L": [{"S": "a"}]}}
    assert item_size(item) == (2 + 10) + (len("ünï".encode()) + 2) + (4 + 3 + 1 + 1)


def test_write_and_read_capacity_units() -> None:
    three_kb = {"pk": {"S": "k"}, "p": {"B": bytes(3 * 1024 - 4)}}
    assert item_size(three_kb) == 3072
    assert write_capacity_units(item_size(three_kb)) == 3
    assert write_capacity_units(3073) == 4
    assert write_capacity_units(1) == 1 and write_capacity_units(1024) == 1 and write_capacity_units(1025) == 2
    assert read_capacity_units(4096) == 0.5 and read_capacity_units(4097) == 1.0
    assert read_capacity_units(4096, consistent=True) == 1.0 and read_capacity_units(8193, consistent=True) == 3.0


def test_item_over_400_kb_is_refused_with_advice() -> None:
    item = {"pk": {"S": "k"}, "p": {"B": bytes(MAX_ITEM_BYTES - 4 + 1)}}
    with pytest.raises(InvalidItemError, match="item is 409,601 bytes; DynamoDB's limit is 409,600") as info:
        validate_item_size(item, where="data/a.json.gz line 9")
    assert "S3" in str(info.value)
    assert validate_item_size({"pk": {"S": "k"}, "p": {"B": bytes(MAX_ITEM_BYTES - 4)}}) == MAX_ITEM_BYTES


# --------------------------------------------------------------------------- keys

TYPES = key_attribute_types(SAMPLE_ATTRIBUTE_DEFINITIONS)


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ({"sk": {"N": "1"}}, "partition key attribute 'pk' is missing"),
        ({"pk": {"S": "a"}}, "sort key attribute 'sk' is missing"),
        ({"pk": {"N": "1"}, "sk": {"N": "1"}}, "partition key attribute 'pk' is of type N; the table expects S"),
        ({"pk": {"S": "a"}, "sk": {"S": "1"}}, "sort key attribute 'sk' is of type S; the table expects N"),
        ({"pk": {"S": ""}, "sk": {"N": "1"}}, "partition key attribute 'pk' is empty"),
        ({"pk": {"S": "é" * 1025}, "sk": {"N": "1"}}, "partition key attribute 'pk' is 2,050 bytes; DynamoDB allows at most 2,048"),
        ({"pk": "a", "sk": {"N": "1"}}, "partition key attribute 'pk' is of type unknown"),
    ],
)
def test_validate_key_names_the_key_attribute(item: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidKeyError, match=match) as info:
        validate_key(item, SAMPLE_KEY_SCHEMA, TYPES, where="line 4")
    assert str(info.value).startswith("line 4: ")


def test_validate_key_sort_key_limit_and_valid_keys() -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    types = {"pk": "S", "sk": "B"}
    validate_key({"pk": {"S": "é" * 1024}, "sk": {"B": b"x" * 1024}}, schema, types)
    with pytest.raises(InvalidKeyError, match="sort key attribute 'sk' is 1,025 bytes; DynamoDB allows at most 1,024"):
        validate_key({"pk": {"S": "a"}, "sk": {"B": b"x" * 1025}}, schema, types)
    for item in sample_items(8):
        validate_key(item, SAMPLE_KEY_SCHEMA, TYPES)


def test_key_of_identifies_numbers_by_value() -> None:
    a = key_of({"pk": {"S": "a"}, "sk": {"N": "1.50"}}, SAMPLE_KEY_SCHEMA)
    b = key_of({"pk": {"S": "a"}, "sk": {"N": "1.5"}, "x": {"S": "other"}}, SAMPLE_KEY_SCHEMA)
    assert a == b and hash(a) == hash(b)
    assert key_of({"pk": {"S": "a"}, "sk": {"N": "2"}}, SAMPLE_KEY_SCHEMA) != a


# --------------------------------------------------------------------------- against DynamoDB Local


@pytest.fixture
def scratch_table(source_ddb: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("vals")
    source_ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


EDGE_VALUES: list[dict[str, Any]] = [
    {"N": MAX_NUMBER}, {"N": "1E+126"}, {"N": MIN_NUMBER}, {"N": "1E-131"}, {"N": "-" + MAX_NUMBER},
    {"N": "1.2345678901234567890123456789012345678E-130"}, {"N": "9.9999999999999999999999999999999999999E-131"},
    {"N": "12345678901234567890123456789012345678"}, {"N": "123456789012345678901234567890123456789"},
    {"N": " 1"}, {"N": "1_000"}, {"N": "+1"}, {"N": ".5"}, {"N": "5."}, {"N": "1e3"}, {"N": "NaN"},
    {"SS": ["a", "a"]}, {"NS": ["1", "1.0"]}, {"SS": [""]}, {"BS": [""]}, {"M": {"": {"S": "x"}}},
    _nest(31, {"S": "x"}), _nest(32, {"S": "x"}), _nest(30, {"M": {}}), _nest(31, {"M": {}}),
    _nest(30, {"L": []}), _nest(31, {"L": []}), _nest(31, {"SS": ["a"]}),
]


@pytest.mark.integration
def test_our_rules_accept_exactly_what_dynamodb_accepts(source_ddb: Any, scratch_table: str) -> None:
    verdicts = []
    for i, value in enumerate(EDGE_VALUES):
        try:
            item_from_json({"pk": {"S": f"edge{i}"}, "v": value})
            ours = "accept"
        except InvalidItemError:
            ours = "refuse"
        try:
            source_ddb.put_item(TableName=scratch_table, Item={"pk": {"S": f"edge{i}"}, "v": _wire_unchecked(value)})
            theirs = "accept"
        except source_ddb.exceptions.ClientError:
            theirs = "refuse"
        verdicts.append((i, ours, theirs))
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert {v[1] for v in verdicts} == {"accept", "refuse"}  # the probes cover both sides of each rule


def _wire_unchecked(value: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON → wire form without any of our checks (binaries decoded, nothing validated)."""
    ((tag, payload),) = value.items()
    if tag == "BS":
        return {"BS": [base64.b64decode(x) for x in payload]}
    if tag == "M":
        return {"M": {k: _wire_unchecked(v) for k, v in payload.items()}}
    if tag == "L":
        return {"L": [_wire_unchecked(v) for v in payload]}
    return value


SIZE_PROBES: list[dict[str, Any]] = [
    {}, {"a": {"S": "Zoë 東京"}}, {"a": {"N": "0"}}, {"a": {"N": "-1"}}, {"a": {"N": "1.5"}}, {"a": {"N": "-12345.678"}},
    {"a": {"N": "0.001"}}, {"a": {"N": "1E+20"}}, {"a": {"N": "12345678901234567890123456789012345678"}},
    {"a": {"NS": ["-1", "1.5", "100"]}}, {"a": {"SS": ["abc", "", "de"]}}, {"a": {"BS": [b"ab", b""]}},
    {"a": {"M": {"x": {"N": "1.5"}, "yy": {"L": [{"NULL": True}, {"BOOL": False}, {"M": {}}]}}}},
    {"dotted.name": {"B": b""}, "Case": {"S": ""}, "case": {"L": []}},
]


@pytest.mark.integration
@pytest.mark.parametrize("extra", SIZE_PROBES, ids=range(len(SIZE_PROBES)))
def test_item_size_matches_dynamodb_byte_for_byte(source_ddb: Any, scratch_table: str, extra: Item) -> None:
    """Pad the item to exactly 1024 bytes by our count: DynamoDB must charge 1 WCU, and 2 at 1025."""

    def consumed(item: Item) -> float:
        source_ddb.delete_item(TableName=scratch_table, Key={"pk": item["pk"]})  # a put costs max(old, new)
        response = source_ddb.put_item(TableName=scratch_table, Item=item, ReturnConsumedCapacity="TOTAL")
        return float(response["ConsumedCapacity"]["CapacityUnits"])

    base: Item = {"pk": {"S": "size-probe"}, **extra, "pad": {"B": b""}}
    padding = 1024 - item_size(base)
    exact = {**base, "pad": {"B": b"x" * padding}}
    over = {**base, "pad": {"B": b"x" * (padding + 1)}}
    assert item_size(exact) == 1024 and item_size(over) == 1025
    assert consumed(exact) == write_capacity_units(1024) == 1
    assert consumed(over) == write_capacity_units(1025) == 2
