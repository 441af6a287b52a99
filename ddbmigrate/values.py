"""DynamoDB attribute values: wire form ⇄ Python, DynamoDB JSON, item size and key checks.

One module for the three forms of an item (wire, Python, DynamoDB JSON) so that every stage
validates the same way. We are stricter than boto3 where DynamoDB is strict (no floats, NaN, empty
or duplicate sets, empty names, over-deep nesting), and numbers keep their exact digits instead of
going through boto3's 38-digit context, which refuses numbers DynamoDB stores. The conversion table
and DynamoDB's rules, as checked against DynamoDB Local: docs/mapping.md, "Attribute values".
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeAlias

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer

from ddbmigrate.errors import InvalidItemError, InvalidKeyError

__all__ = [
    "DYNAMODB_CONTEXT",
    "MAX_ITEM_BYTES",
    "TYPE_TAGS",
    "AttributeValue",
    "Item",
    "JsonItem",
    "KeySchema",
    "attribute_value_size",
    "canonical_number",
    "deserialize_item",
    "deserialize_value",
    "item_from_json",
    "item_size",
    "item_to_json",
    "key_attribute_types",
    "key_of",
    "read_capacity_units",
    "read_json_item",
    "serialize_item",
    "serialize_value",
    "significant_digits",
    "validate_attribute_value",
    "validate_item_size",
    "validate_key",
    "write_capacity_units",
]

AttributeValue: TypeAlias = dict[str, Any]
"""One attribute value in wire form, e.g. ``{"N": "1.5"}``."""

Item: TypeAlias = dict[str, AttributeValue]
"""One item in wire form: attribute name → attribute value."""

KeySchema: TypeAlias = Sequence[Mapping[str, str]]
"""``[{"AttributeName": "pk", "KeyType": "HASH"}, …]`` as DescribeTable returns it."""

S, N, B, BOOL, NULL, SS, NS, BS, M, L = "S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"
TYPE_TAGS: frozenset[str] = frozenset({S, N, B, BOOL, NULL, SS, NS, BS, M, L})
SCALAR_KEY_TAGS: frozenset[str] = frozenset({S, N, B})

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit (names and values, as :func:`item_size` counts them)."""

_MAX_PARTITION_KEY_BYTES = 2048
_MAX_SORT_KEY_BYTES = 1024
_MAX_NESTING = 32
"""Levels from an attribute to its innermost value; maps and lists may open at most 31 of them."""
_MIN_MAGNITUDE = Decimal("1E-130")
_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")

_NUMBER_SYNTAX = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CANONICAL_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}|0")
"""An integer as DynamoDB stores it (no sign on zero, no leading zeros, at most 38 digits): :func:`canonical_number`
returns it unchanged, without the Decimal walk (sort keys are most often such numbers)."""


class _ExactSerializer(TypeSerializer):
    """boto3's serializer without the rounding context (numbers were validated beforehand)."""

    def _serialize_n(self, value: Any) -> str:
        return str(value)


class _ExactDeserializer(TypeDeserializer):
    """boto3's deserializer with exact numbers and plain ``bytes`` (not ``Binary``) for B/BS."""

    def _deserialize_n(self, value: str) -> Decimal:
        return Decimal(value)

    def _deserialize_b(self, value: Any) -> bytes:
        return bytes(value)


_serializer = _ExactSerializer()
_deserializer = _ExactDeserializer()


# --------------------------------------------------------------------------- numbers


def canonical_number(text: str, *, where: str = "value") -> str:
    """The number as DynamoDB stores it: validated, no exponent games, no trailing zeros.

    ``"1.50"`` → ``"1.5"``, ``"-0"`` → ``"0"``, ``"1E+3"`` → ``"1000"``. Raises
    :class:`InvalidItemError` for what DynamoDB rejects: not a number, NaN/Infinity, more than 38
    significant digits, magnitude outside 1E-130 … 9.99…E+125.
    """
    if text.__class__ is str and _CANONICAL_INTEGER.fullmatch(text):  # the usual key: already canonical
        return text
    number = _parse_number(text, where)
    if number.is_zero():
        return "0"
    # Exact digit arithmetic: a decimal.Context would round (or trap) at the range's edges.
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # unreachable: _parse_number admits finite numbers only
        raise InvalidItemError(f"{where}: N must be finite")
    significant = "".join(map(str, digits)).lstrip("0")
    coefficient = significant.rstrip("0")
    exponent += len(significant) - len(coefficient)
    if exponent >= 0:
        body = coefficient + "0" * exponent
    elif -exponent >= len(coefficient):
        body = "0." + "0" * (-exponent - len(coefficient)) + coefficient
    else:
        body = coefficient[:exponent] + "." + coefficient[exponent:]
    return ("-" if sign else "") + body


def _parse_number(text: Any, where: str) -> Decimal:
    if not isinstance(text, str):
        raise InvalidItemError(f"{where}: N must be a string of digits, got {type(text).__name__}")
    if text.strip().lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        raise InvalidItemError(f"{where}: N may not be NaN or Infinity")
    if not _NUMBER_SYNTAX.fullmatch(text):
        raise InvalidItemError(
            f"{where}: N is not a number (DynamoDB numbers look like '12.5' or '-3E+7', without spaces)"
        )
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent beyond what decimal can even represent
        raise InvalidItemError(f"{where}: N is outside DynamoDB's range (1E-130 to 9.99…E+125 in magnitude)") from None
    if number.is_zero():
        return number
    digits = significant_digits(text)
    if digits > 38:
        raise InvalidItemError(f"{where}: N has {digits} significant digits; DynamoDB allows at most 38")
    magnitude = number.copy_abs()  # exact; abs() would round to the default context's 28 digits
    if magnitude < _MIN_MAGNITUDE or magnitude > _MAX_MAGNITUDE:
        raise InvalidItemError(f"{where}: N is outside DynamoDB's range (1E-130 to 9.99…E+125 in magnitude)")
    return number


def significant_digits(text: str) -> int:
    """Significant digits of a number's text in DynamoDB's syntax (``-0.0150E+3`` has 2): sign, point,
    exponent and padding zeros do not count; zero has 1. Counted on the text, not via ``Decimal``'s
    digit tuple, which cost 1–6 µs per number (a tenth of an every-type item's CPU; bench/README.md)."""
    mantissa, _ = _mantissa_and_exponent(text)
    return max(len(mantissa.replace(".", "").strip("0")), 1)


def _mantissa_and_exponent(text: str) -> tuple[str, str]:
    """A number's text without its sign, split at ``e``/``E``: ``-1.50E+3`` → ``("1.50", "+3")``."""
    mantissa, _, exponent = text.lstrip("+-").partition("e" if "e" in text else "E")
    return mantissa, exponent


# --------------------------------------------------------------------------- Python ⇄ wire


def serialize_value(value: Any, *, where: str = "value") -> AttributeValue:
    """Python value → wire attribute value (see the module table).

    Validated first, naming the path at fault: floats, NaN, numbers DynamoDB cannot store, empty
    sets, empty map keys and nesting beyond DynamoDB's limit are refused.
    """
    _check_python_value(value, where, depth=0)
    try:
        return _serializer.serialize(value)
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise InvalidItemError(f"{where}: cannot be stored in DynamoDB ({exc})") from None


def deserialize_value(value: AttributeValue) -> Any:
    """Wire attribute value → Python value (sets stay sets, numbers stay Decimal)."""
    return _deserializer.deserialize(value)


def serialize_item(item: Mapping[str, Any]) -> Item:
    """Python item → wire item."""
    for name in item:
        _check_name(name, "item")
    return {name: serialize_value(v, where=_path((), name)) for name, v in item.items()}


def deserialize_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """Wire item → Python item."""
    return {name: _deserializer.deserialize(v) for name, v in item.items()}


def _check_python_value(value: Any, where: str, depth: int) -> None:
    if isinstance(value, float):
        raise InvalidItemError(f"{where}: floats lose digits; pass decimal.Decimal(str(x)) instead")
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        _parse_number(str(value), where)
    elif isinstance(value, (set, frozenset)):
        if not value:
            raise InvalidItemError(f"{where}: DynamoDB does not allow empty sets; drop the attribute or use a list")
        for member in value:
            _check_python_value(member, where, depth)
    elif isinstance(value, (Mapping, list, tuple)):
        _check_depth(depth, where)
        if isinstance(value, Mapping):
            for k, v in value.items():
                _check_name(k, where)
                _check_python_value(v, f"{where}.{k}", depth + 1)
        else:
            for i, v in enumerate(value):
                _check_python_value(v, f"{where}[{i}]", depth + 1)


def _check_depth(depth: int, where: str) -> None:
    """``depth`` of a map or list: 0 for an attribute's own value. DynamoDB allows 0 … 30."""
    if depth >= _MAX_NESTING - 1:
        raise InvalidItemError(
            f"{where}: maps and lists nested deeper than DynamoDB's {_MAX_NESTING} levels; flatten the value "
            "or store it as a JSON string"
        )


def _check_name(name: Any, where: str) -> None:
    if not isinstance(name, str):
        raise InvalidItemError(f"{where}: attribute names must be strings, got {type(name).__name__}")
    if not name:
        raise InvalidItemError(f"{where}: an attribute name is empty; DynamoDB requires names of at least one character")


# --------------------------------------------------------------------------- DynamoDB JSON


def item_from_json(obj: Any, *, where: str = "item") -> Item:
    """DynamoDB JSON item (binaries base64) → validated wire item.

    ``where`` names the source in errors, e.g. ``"s3://b/data/x.json.gz line 17"``; the message
    adds the attribute path. Values are never put in messages.
    """
    return read_json_item(obj, where=where).item


class JsonItem(NamedTuple):
    """:func:`read_json_item`'s answer: the wire item, its size, and whether its JSON form is botocore's."""

    item: Item
    size: int
    """:func:`item_size` of ``item``, counted on the way."""
    json_exact: bool
    """The JSON document it was read from is byte for byte what ``item_to_json(item)`` gives (every
    binary in canonical base64), so a writer may send the document as it is."""


def read_json_item(obj: Any, *, where: str = "item") -> JsonItem:
    """:func:`item_from_json` that also sizes the item in the same walk (the import's hot path)."""
    if obj.__class__ is dict and all(name.__class__ is str and name for name in obj):
        try:
            item: Item = {}
            size = 0
            exact = True
            for name, av in obj.items():
                item[name], value_size, value_exact = _fast_from_json(av, 0)
                size += _utf8_len(name) + value_size
                exact = exact and value_exact
            return JsonItem(item, size, exact)
        except Exception:  # any doubt at all: the slow walk decides, and names the fault
            pass
    item = _slow_item_from_json(obj, where)
    return JsonItem(item, item_size(item), False)


def _slow_item_from_json(obj: Any, where: str) -> Item:
    """The checking walk that names the path at fault: the reference behaviour of :func:`item_from_json`."""
    if not isinstance(obj, Mapping):
        raise InvalidItemError(f"{where}: an item must be a JSON object of attribute name → typed value")
    for name in obj:
        _check_name(name, where)
    return {name: _value_from_json(av, _path((where,), name), 0) for name, av in obj.items()}


class _NeedsSlowPath(Exception):
    """Raised by the fast walk at anything unusual; the slow walk then decides and words the error."""


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
"""A number DynamoDB accepts without further checks when it is at most 38 characters long: at most
38 digits, magnitude below 1E38 and — non-zero — at least 1E-36 (within 1E-130 … 9.99…E+125)."""
_b64 = binascii.a2b_base64
_b2a = binascii.b2a_base64


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _b64_exact(text: str) -> tuple[bytes, bool]:
    """Decoded bytes (strict, like the checking walk) and whether ``text`` is their canonical base64."""
    data = _b64(text, strict_mode=True)
    return data, _b2a(data, newline=False) == text.encode("ascii")


def _fast_from_json(av: Any, depth: int) -> tuple[AttributeValue, int, bool]:
    """:func:`item_from_json`'s walk without building error paths (most of its cost on valid input).

    Returns the value, its :func:`attribute_value_size` and whether its JSON form is canonical
    (see :attr:`JsonItem.json_exact`). It accepts only what the slow walk accepts and returns the
    same value; anything else raises (:class:`_NeedsSlowPath`, or the decoder's own error), and
    the slow walk then runs.
    """
    if av.__class__ is not dict or len(av) != 1:
        raise _NeedsSlowPath
    (tag, payload), = av.items()
    if tag == S:
        if payload.__class__ is str:
            return {S: payload}, _utf8_len(payload), True
    elif tag == N:
        if not (payload.__class__ is str and len(payload) <= 38 and _PLAIN_NUMBER.fullmatch(payload)):
            _parse_number(payload, "")  # exponents, 38+ characters: the full check (raises if invalid)
        return {N: payload}, _number_size(payload), True
    elif tag == M:
        if payload.__class__ is dict and depth < _MAX_NESTING - 1 and all(k.__class__ is str and k for k in payload):
            members = {}
            size = 3
            exact = True
            for k, v in payload.items():
                members[k], member_size, member_exact = _fast_from_json(v, depth + 1)
                size += _utf8_len(k) + 1 + member_size
                exact = exact and member_exact
            return {M: members}, size, exact
    elif tag == L:
        if payload.__class__ is list and depth < _MAX_NESTING - 1:
            elements = []
            size = 3
            exact = True
            for v in payload:
                element, element_size, element_exact = _fast_from_json(v, depth + 1)
                elements.append(element)
                size += 1 + element_size
                exact = exact and element_exact
            return {L: elements}, size, exact
    elif tag == B:
        if payload.__class__ is str:
            data, exact = _b64_exact(payload)
            return {B: data}, len(data), exact
    elif tag == BOOL:
        if payload is True or payload is False:
            return {BOOL: payload}, 1, True
    elif tag == NULL:
        if payload is True:
            return {NULL: True}, 1, True
    elif tag == SS:
        if payload.__class__ is list and payload and all(x.__class__ is str for x in payload) and len(set(payload)) == len(payload):
            return {SS: list(payload)}, sum(_utf8_len(x) for x in payload), True
    elif tag == NS:
        if (payload.__class__ is list and payload
                and all(x.__class__ is str and len(x) <= 38 and _PLAIN_NUMBER.fullmatch(x) for x in payload)
                and len({Decimal(x) for x in payload}) == len(payload)):  # "1" and "1.0" are one member
            return {NS: list(payload)}, sum(_number_size(x) for x in payload), True
    elif tag == BS and payload.__class__ is list and payload and all(x.__class__ is str for x in payload):
        decoded = [_b64_exact(x) for x in payload]
        members = [data for data, _ in decoded]
        if len(set(members)) == len(members):
            return {BS: members}, sum(len(data) for data in members), all(exact for _, exact in decoded)
    raise _NeedsSlowPath


def item_to_json(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """Wire item → DynamoDB JSON item (binaries as base64 text), ready for ``json.dumps``."""
    return {name: _value_to_json(av) for name, av in item.items()}


def _value_from_json(av: Any, where: str, depth: int) -> AttributeValue:
    tag, payload = _single_tag(av, where)
    if tag in (M, L):
        _check_depth(depth, where)
    if tag == S:
        _expect(isinstance(payload, str), where, "S must be a string")
        return {S: payload}
    if tag == N:
        _parse_number(payload, where)
        return {N: payload}
    if tag == B:
        return {B: _b64decode(payload, where)}
    if tag == BOOL:
        _expect(isinstance(payload, bool), where, "BOOL must be true or false")
        return {BOOL: payload}
    if tag == NULL:
        _expect(payload is True, where, "NULL must be true")
        return {NULL: True}
    if tag in (SS, NS, BS):
        _expect(isinstance(payload, list) and bool(payload), where, f"{tag} must be a non-empty list")
        if tag == SS:
            _expect(all(isinstance(x, str) for x in payload), where, "SS members must be strings")
            members: list[Any] = list(payload)
            identity: list[Any] = members
        elif tag == NS:
            members = list(payload)
            identity = [_parse_number(x, where) for x in payload]
        else:
            members = [_b64decode(x, where) for x in payload]
            identity = members
        _expect(len(set(identity)) == len(identity), where, f"{tag} has duplicate members; a set holds each once")
        return {tag: members}
    if tag == M:
        _expect(isinstance(payload, Mapping), where, "M must be an object")
        for k in payload:
            _check_name(k, where)
        return {M: {k: _value_from_json(v, f"{where}.{k}", depth + 1) for k, v in payload.items()}}
    # L
    _expect(isinstance(payload, list), where, "L must be a list")
    return {L: [_value_from_json(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(payload)]}


def _value_to_json(av: Mapping[str, Any]) -> dict[str, Any]:
    (tag, payload), = av.items()
    if tag == B:
        return {B: base64.b64encode(bytes(payload)).decode("ascii")}
    if tag == BS:
        return {BS: [base64.b64encode(bytes(x)).decode("ascii") for x in payload]}
    if tag == M:
        return {M: {k: _value_to_json(v) for k, v in payload.items()}}
    if tag == L:
        return {L: [_value_to_json(v) for v in payload]}
    if tag in (SS, NS):
        return {tag: list(payload)}
    return {tag: payload}


def validate_attribute_value(av: Any, *, where: str = "value") -> None:
    """Check a wire attribute value against DynamoDB's rules (see the module docstring)."""
    _validate_wire(av, where, 0)


def _validate_wire(av: Any, where: str, depth: int) -> None:
    tag, payload = _single_tag(av, where)
    if tag == B:
        _expect(isinstance(payload, (bytes, bytearray)), where, "B must be bytes in wire form")
    elif tag == BS:
        _expect(isinstance(payload, (list, tuple)) and bool(payload), where, "BS must be a non-empty list")
        _expect(all(isinstance(x, (bytes, bytearray)) for x in payload), where, "BS members must be bytes in wire form")
        _expect(len({bytes(x) for x in payload}) == len(payload), where, "BS has duplicate members; a set holds each once")
    elif tag == M:
        _check_depth(depth, where)
        _expect(isinstance(payload, Mapping), where, "M must be a mapping")
        for k, v in payload.items():
            _check_name(k, where)
            _validate_wire(v, f"{where}.{k}", depth + 1)
    elif tag == L:
        _check_depth(depth, where)
        _expect(isinstance(payload, (list, tuple)), where, "L must be a list")
        for i, v in enumerate(payload):
            _validate_wire(v, f"{where}[{i}]", depth + 1)
    else:
        _value_from_json({tag: list(payload) if tag in (SS, NS) else payload}, where, depth)


def _single_tag(av: Any, where: str) -> tuple[str, Any]:
    if not isinstance(av, Mapping) or len(av) != 1:
        raise InvalidItemError(
            f"{where}: a typed value must be an object with exactly one type tag "
            f"({', '.join(sorted(TYPE_TAGS))})"
        )
    (tag, payload), = av.items()
    if tag not in TYPE_TAGS:
        raise InvalidItemError(f"{where}: unknown type tag {tag!r}; expected one of {', '.join(sorted(TYPE_TAGS))}")
    return tag, payload


def _b64decode(text: Any, where: str) -> bytes:
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    if not isinstance(text, str):
        raise InvalidItemError(f"{where}: B must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidItemError(f"{where}: B is not valid base64") from None


def _expect(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise InvalidItemError(f"{where}: {message}")


def _path(prefix: Iterable[str], name: str) -> str:
    head = " ".join(prefix)
    return f"{head}: attribute {name!r}" if head else f"attribute {name!r}"


# --------------------------------------------------------------------------- size and capacity


def attribute_value_size(av: Mapping[str, Any]) -> int:
    """Bytes of one value as DynamoDB counts them (without the attribute name).

    S: UTF-8 bytes · B: raw bytes · BOOL/NULL: 1 · sets: sum of members · M/L: 3 + per element
    (1 + its size, + name bytes for M) — DynamoDB's documented rules.

    N: AWS documents "about one byte per two significant digits, plus one". The exact figure,
    measured byte for byte against DynamoDB Local (AWS's engine) at the 1 KB WCU boundary, is
    1 + the number of base-100 digits (digits grouped in pairs aligned on the decimal point,
    zero pairs at either end dropped) + 1 for a negative number; zero is 1 byte. So ``"12"`` is 2
    bytes but ``"1.5"`` (pairs ``01|50``) is 3 and ``"-1"`` is 3.
    """
    (tag, payload), = av.items()
    if tag == S:
        return len(payload.encode("utf-8"))
    if tag == N:
        return _number_size(payload)
    if tag == B:
        return len(payload) if isinstance(payload, (bytes, bytearray)) else len(base64.b64decode(payload))
    if tag in (BOOL, NULL):
        return 1
    if tag == SS:
        return sum(len(x.encode("utf-8")) for x in payload)
    if tag == NS:
        return sum(_number_size(x) for x in payload)
    if tag == BS:
        return sum(len(x) if isinstance(x, (bytes, bytearray)) else len(base64.b64decode(x)) for x in payload)
    if tag == M:
        size = 3 + len(payload)
        for k, v in payload.items():  # loops, not generators: this runs for every value the sink writes
            size += len(k.encode("utf-8")) + attribute_value_size(v)
        return size
    if tag == L:
        size = 3 + len(payload)
        for v in payload:
            size += attribute_value_size(v)
        return size
    raise InvalidItemError(f"unknown type tag {tag!r}")


def _number_size(text: str) -> int:
    if len(text) <= 38 and _PLAIN_NUMBER.fullmatch(text):  # no exponent: count the pairs on the text itself
        negative = text[0] == "-"
        whole, _, fraction = text.lstrip("-").partition(".")
        whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
        if not whole and not fraction:
            return 1
        lowest = -len(fraction) if fraction else len(whole) - len(whole.rstrip("0"))  # power of the last digit
        highest = len(whole) - 1 if whole else -(len(fraction) - len(fraction.lstrip("0"))) - 1
        return 1 + highest // 2 - lowest // 2 + 1 + (1 if negative else 0)
    return _number_size_exact(text)


def _number_size_exact(text: str) -> int:
    """:func:`_number_size` for any spelling DynamoDB accepts (exponents, 38+ characters), counted on
    the text as ``Decimal`` would count it (without building one: 6 % of an every-type item's CPU).
    Anything else is a ``ValueError`` (the writer then names the attribute at fault)."""
    if text.__class__ is not str or not _NUMBER_SYNTAX.fullmatch(text):
        raise ValueError("N is not a number")
    mantissa, exponent = _mantissa_and_exponent(text)
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    coefficient = digits.rstrip("0")
    if not coefficient:
        return 1
    lowest = (int(exponent) if exponent else 0) - len(fraction) + len(digits) - len(coefficient)  # power of the last non-zero digit
    highest = lowest + len(coefficient) - 1  # power of ten of the first digit
    pairs = highest // 2 - lowest // 2 + 1
    return 1 + pairs + (1 if text[0] == "-" else 0)


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of an item (names + values), the figure behind WCU/RCU and the 400 KB limit."""
    return sum(len(name.encode("utf-8")) + attribute_value_size(av) for name, av in item.items())


def write_capacity_units(size_bytes: int) -> int:
    """WCU of one standard write: one per started KB (a 3 KB item costs 3)."""
    return max(1, math.ceil(size_bytes / 1024))


def read_capacity_units(size_bytes: int, *, consistent: bool = False) -> float:
    """RCU of reading ``size_bytes``: one per started 4 KB, half that when eventually consistent."""
    units = max(1, math.ceil(size_bytes / 4096))
    return float(units) if consistent else units / 2


def validate_item_size(item: Mapping[str, Mapping[str, Any]], *, where: str = "item", size: int | None = None) -> int:
    """The item's size; raises :class:`InvalidItemError` above DynamoDB's 400 KB.

    ``size`` is the item's :func:`item_size` when the caller already counted it (see :func:`read_json_item`).
    """
    size = item_size(item) if size is None else size
    if size > MAX_ITEM_BYTES:
        raise InvalidItemError(
            f"{where}: item is {size:,} bytes; DynamoDB's limit is {MAX_ITEM_BYTES:,} (400 KB). "
            "Store large values in S3 and keep a pointer in the item."
        )
    return size


# --------------------------------------------------------------------------- keys


def key_attribute_types(attribute_definitions: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """``AttributeDefinitions`` → ``{name: "S"|"N"|"B"}``."""
    return {d["AttributeName"]: d["AttributeType"] for d in attribute_definitions}


def key_of(item: Mapping[str, AttributeValue], key_schema: KeySchema) -> tuple[tuple[str, str, Any], ...]:
    """A hashable identity of the item's primary key (for de-duplicating a batch)."""
    parts = []
    for element in key_schema:
        name = element["AttributeName"]
        (tag, payload), = item[name].items()
        if tag == N:
            payload = canonical_number(payload)
        elif tag == B:
            payload = bytes(payload)
        parts.append((name, tag, payload))
    return tuple(parts)


def validate_key(
    item: Mapping[str, Any],
    key_schema: KeySchema,
    attribute_types: Mapping[str, str],
    *,
    where: str = "item",
) -> None:
    """Raise :class:`InvalidKeyError` naming the key attribute that is missing or mistyped.

    Key values must also be non-empty (DynamoDB rejects an empty string or binary key) and fit
    DynamoDB's key limits: 2048 bytes for a partition key value, 1024 for a sort key value.
    """
    for element in key_schema:
        name = element["AttributeName"]
        role = "partition key" if element["KeyType"] == "HASH" else "sort key"
        expected = attribute_types.get(name)
        if name not in item:
            raise InvalidKeyError(f"{where}: {role} attribute {name!r} is missing")
        av = item[name]
        tag = next(iter(av)) if isinstance(av, Mapping) and len(av) == 1 else None
        if tag != expected:
            raise InvalidKeyError(
                f"{where}: {role} attribute {name!r} is of type {tag or 'unknown'}; the table expects {expected}"
            )
        payload = av[tag]
        if tag in (S, B) and len(payload) == 0:
            raise InvalidKeyError(f"{where}: {role} attribute {name!r} is empty; key values may not be empty")
        limit = _MAX_PARTITION_KEY_BYTES if element["KeyType"] == "HASH" else _MAX_SORT_KEY_BYTES
        size = attribute_value_size(av) if tag != N else 0
        if size > limit:
            raise InvalidKeyError(
                f"{where}: {role} attribute {name!r} is {size:,} bytes; DynamoDB allows at most {limit:,}"
            )
