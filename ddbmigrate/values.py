"""DynamoDB attribute values: wire form ⇄ Python, DynamoDB JSON, item size and key checks.

Three representations of one item, and the lossless conversions between them:

=====================  ==========================================  ==============================
DynamoDB type          wire form (low-level boto3 client)          Python form
=====================  ==========================================  ==============================
S                      ``{"S": "text"}``                           ``str``
N                      ``{"N": "1.50"}`` (string, ≤ 38 digits)     ``decimal.Decimal`` (never float)
B                      ``{"B": b"\\x00"}``                           ``bytes``
BOOL                   ``{"BOOL": True}``                          ``bool``
NULL                   ``{"NULL": True}``                          ``None``
SS / NS / BS           ``{"SS": ["a"]}`` …                         ``set`` of str / Decimal / bytes
M                      ``{"M": {name: value}}``                    ``dict``
L                      ``{"L": [value, …]}``                        ``list``
=====================  ==========================================  ==============================

*DynamoDB JSON* (export files, ``aws dynamodb`` CLI, stream records in Lambda events) is the wire
form with binaries as base64 strings. ``item_from_json`` parses and **validates** it, naming the
attribute path at fault; ``item_to_json`` writes it back.

We are stricter than boto3 where DynamoDB is strict: floats are refused (they lose digits), as are
NaN/Infinity, empty sets and duplicate set members. Conversions are built on boto3's
``TypeSerializer``/``TypeDeserializer`` and share their 38-digit ``decimal.Context``.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer

from ddbmigrate.errors import InvalidItemError, InvalidKeyError

__all__ = [
    "DYNAMODB_CONTEXT",
    "MAX_ITEM_BYTES",
    "TYPE_TAGS",
    "AttributeValue",
    "Item",
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
    "serialize_item",
    "serialize_value",
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

_MAX_NESTING = 32
_MIN_MAGNITUDE = Decimal("1E-130")
_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# --------------------------------------------------------------------------- numbers


def canonical_number(text: str, *, where: str = "value") -> str:
    """The number as DynamoDB stores it: validated, no exponent games, no trailing zeros.

    ``"1.50"`` → ``"1.5"``, ``"-0"`` → ``"0"``, ``"1E+3"`` → ``"1000"``. Raises
    :class:`InvalidItemError` for what DynamoDB rejects: not a number, NaN/Infinity, more than 38
    significant digits, magnitude outside 1E-130 … 9.99…E+125.
    """
    number = _parse_number(text, where)
    if number.is_zero():
        return "0"
    normalized = number.normalize(DYNAMODB_CONTEXT)
    sign, digits, exponent = normalized.as_tuple()
    assert isinstance(exponent, int)  # finite by _parse_number; narrows the type for mypy
    coefficient = "".join(map(str, digits))
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
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidItemError(f"{where}: N is not a number (DynamoDB numbers look like '12.5' or '-3E+7')") from None
    if not number.is_finite():
        raise InvalidItemError(f"{where}: N may not be NaN or Infinity")
    if number.is_zero():
        return number
    digits = _significant_digits(number)
    if digits > 38:
        raise InvalidItemError(f"{where}: N has {digits} significant digits; DynamoDB allows at most 38")
    magnitude = abs(number)
    if magnitude < _MIN_MAGNITUDE or magnitude > _MAX_MAGNITUDE:
        raise InvalidItemError(f"{where}: N is outside DynamoDB's range (1E-130 to 9.99…E+125 in magnitude)")
    return number


def _significant_digits(number: Decimal) -> int:
    digits = number.as_tuple().digits
    text = "".join(map(str, digits)).strip("0")
    return max(len(text), 1)


# --------------------------------------------------------------------------- Python ⇄ wire


def serialize_value(value: Any, *, where: str = "value") -> AttributeValue:
    """Python value → wire attribute value (see the module table). Floats are refused."""
    _reject_floats_and_empty_sets(value, where, depth=0)
    try:
        return _serializer.serialize(value)
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise InvalidItemError(f"{where}: cannot be stored in DynamoDB ({exc})") from None


def deserialize_value(value: AttributeValue) -> Any:
    """Wire attribute value → Python value (sets stay sets, numbers stay Decimal)."""
    return _deserializer.deserialize(value)


def serialize_item(item: Mapping[str, Any]) -> Item:
    """Python item → wire item."""
    return {name: serialize_value(v, where=_path((), name)) for name, v in item.items()}


def deserialize_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """Wire item → Python item."""
    return {name: _deserializer.deserialize(v) for name, v in item.items()}


def _reject_floats_and_empty_sets(value: Any, where: str, depth: int) -> None:
    if depth > _MAX_NESTING:
        raise InvalidItemError(f"{where}: nested deeper than DynamoDB's {_MAX_NESTING} levels")
    if isinstance(value, float):
        raise InvalidItemError(f"{where}: floats lose digits; pass decimal.Decimal(str(x)) instead")
    if isinstance(value, (set, frozenset)) and not value:
        raise InvalidItemError(f"{where}: DynamoDB does not allow empty sets; drop the attribute or use a list")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _reject_floats_and_empty_sets(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _reject_floats_and_empty_sets(v, f"{where}[{i}]", depth + 1)


# --------------------------------------------------------------------------- DynamoDB JSON


def item_from_json(obj: Any, *, where: str = "item") -> Item:
    """DynamoDB JSON item (binaries base64) → validated wire item.

    ``where`` names the source in errors, e.g. ``"s3://b/data/x.json.gz line 17"``; the message
    adds the attribute path. Values are never put in messages.
    """
    if not isinstance(obj, Mapping):
        raise InvalidItemError(f"{where}: an item must be a JSON object of attribute name → typed value")
    return {name: _value_from_json(av, _path((where,), name), 0) for name, av in obj.items()}


def item_to_json(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """Wire item → DynamoDB JSON item (binaries as base64 text), ready for ``json.dumps``."""
    return {name: _value_to_json(av) for name, av in item.items()}


def _value_from_json(av: Any, where: str, depth: int) -> AttributeValue:
    tag, payload = _single_tag(av, where)
    if depth > _MAX_NESTING:
        raise InvalidItemError(f"{where}: nested deeper than DynamoDB's {_MAX_NESTING} levels")
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
    """Check a wire attribute value's shape (one known tag, payload of the right type)."""
    tag, payload = _single_tag(av, where)
    if tag == B:
        _expect(isinstance(payload, (bytes, bytearray)), where, "B must be bytes in wire form")
    elif tag == BS:
        _expect(isinstance(payload, list) and bool(payload), where, "BS must be a non-empty list")
    elif tag == M:
        for k, v in payload.items():
            validate_attribute_value(v, where=f"{where}.{k}")
    elif tag == L:
        for i, v in enumerate(payload):
            validate_attribute_value(v, where=f"{where}[{i}]")
    else:
        _value_from_json({tag: payload}, where, 0)


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
    """Bytes of one value by DynamoDB's documented rules (without the attribute name).

    S: UTF-8 bytes · N: ceil(significant digits / 2) + 1 · B: raw bytes · BOOL/NULL: 1 ·
    sets: sum of members · M/L: 3 + per element (1 + its size, + name bytes for M).
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
        return 3 + sum(len(k.encode("utf-8")) + 1 + attribute_value_size(v) for k, v in payload.items())
    if tag == L:
        return 3 + sum(1 + attribute_value_size(v) for v in payload)
    raise InvalidItemError(f"unknown type tag {tag!r}")


def _number_size(text: str) -> int:
    number = Decimal(text)
    if number.is_zero():
        return 2
    return math.ceil(_significant_digits(number) / 2) + 1


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


def validate_item_size(item: Mapping[str, Mapping[str, Any]], *, where: str = "item") -> int:
    """The item's size; raises :class:`InvalidItemError` above DynamoDB's 400 KB."""
    size = item_size(item)
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

    Key values must also be non-empty (DynamoDB rejects an empty string or binary key).
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
