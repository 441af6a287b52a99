"""Mapped rows back to DynamoDB items: the writer's half of the lossless mapping (pure).

Each rule's source path ends in the DynamoDB tag of its value, so :func:`row_to_item` rebuilds the
wire item exactly from a row and its mapping; dotted targets nest maps, and null values are
omitted. A row whose cast failed is refused naming the target, so a null cast never drops an
attribute silently; errors are :class:`~ddbmigrate.errors.InvalidItemError` naming path and rule,
never the value. Without a mapping a row converts by its Spark types, lossy as Glue's own writer.
Both conversion tables: docs/mapping.md, "5. From rows back to items".
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ddbmigrate.errors import InvalidItemError
from ddbmigrate.mapping.file import MappingFile
from ddbmigrate.mapping.rules import PASSTHROUGH, Rule, compile_rules
from ddbmigrate.schema import join_path
from ddbmigrate.values import (
    AttributeValue,
    Item,
    canonical_number,
    item_from_json,
    serialize_item,
    validate_attribute_value,
)

__all__ = ["CAST_FAILURES_COLUMN", "row_to_item"]

CAST_FAILURES_COLUMN = "__ddbmigrate_cast_failures"
"""Column :func:`~ddbmigrate.mapping.spark.apply_mapping` adds with ``check_casts=True``: the target
paths whose non-null source value the cast turned into null."""


def row_to_item(row: Any, mapping: MappingFile | Sequence[Rule] | Sequence[Sequence[str]] | None, *,
                where: str = "row") -> Item:
    """One mapped row (a ``dict`` or a Spark ``Row``) → wire item, honouring the mapping's edits.

    ``mapping`` is a :class:`MappingFile`, its ``rules``, or raw 4-tuples (parsed on each call —
    pass compiled rules in a loop); ``None`` converts by value type like Glue's writer (see the
    module docstring), with errors prefixed by ``where`` (the row's origin).
    """
    if mapping is None:
        return _by_value_type(row, where)
    rules = _rules(mapping)
    values = row.asDict(recursive=True) if hasattr(row, "asDict") else row
    failures = values.get(CAST_FAILURES_COLUMN)
    if failures:
        raise InvalidItemError(
            f"target(s) {', '.join(repr(f) for f in failures)}: the value does not fit the mapping's target type "
            "(the cast gave null); widen the target type in the mapping or keep the generated one"
        )
    item: Item = {}
    for rule in rules:
        value = _lookup(values, rule.target)
        if value is None:
            continue
        av = _convert(rule, value)
        if av is None:
            continue
        _place(item, rule.target, av)
    for name, av in item.items():
        validate_attribute_value(av, where=f"attribute {name!r}")
    return item


def _rules(mapping: Any) -> Sequence[Rule]:
    if isinstance(mapping, MappingFile):
        return mapping.rules
    mapping = list(mapping)
    if all(isinstance(r, Rule) for r in mapping):
        return mapping
    return compile_rules(mapping)


def _lookup(values: Mapping[str, Any], path: Sequence[str]) -> Any:
    current: Any = values
    for name in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(name)
        if current is None:
            return None
    return current


def _place(item: Item, path: Sequence[str], av: AttributeValue) -> None:
    container: dict[str, Any] = item
    for name in path[:-1]:
        container = container.setdefault(name, {"M": {}})["M"]
    container[path[-1]] = av


def _convert(rule: Rule, value: Any) -> AttributeValue | None:
    where = f"target {join_path(rule.target)!r} (mappings[{rule.index}])"
    tag = rule.tag
    if tag == PASSTHROUGH:
        return _member(value, where)
    if tag == "M":
        return {"M": _members(value, where)}
    if tag in ("SS", "NS", "BS"):
        if not isinstance(value, (list, tuple)):
            raise InvalidItemError(f"{where}: a {tag} must arrive as an array")
        member_tag = tag[0]
        members = [_scalar(member_tag, m, where) for m in value if m is not None]
        if len(members) != len(value):
            raise InvalidItemError(f"{where}: {tag} has a null member")
        return {tag: members}
    if tag in ("S", "N", "B", "BOOL", "NULL"):
        return {tag: _scalar(tag, value, where)}
    raise InvalidItemError(f"{where}: the rule's source path does not end in a type tag")


def _scalar(tag: str, value: Any, where: str) -> Any:
    if tag == "S":
        return _text(value, where)
    if tag == "N":
        return _number(value, where)
    if tag == "B":
        return _binary(value, where)
    if tag == "BOOL":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise InvalidItemError(f"{where}: BOOL must arrive as a boolean")
    # NULL
    if value is True or value == "true":
        return True
    raise InvalidItemError(f"{where}: NULL must be true")


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidItemError(f"{where}: binary value is not UTF-8 text, cannot be an S") from None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise InvalidItemError(f"{where}: a {type(value).__name__} cannot become an S")


def _number(value: Any, where: str) -> str:
    if isinstance(value, bool):
        raise InvalidItemError(f"{where}: a boolean cannot become an N")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidItemError(f"{where}: N may not be NaN or Infinity")
        value = repr(value)
    elif isinstance(value, (int, Decimal)):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidItemError(f"{where}: a {type(value).__name__} cannot become an N")
    return canonical_number(value, where=where)


def _binary(value: Any, where: str) -> bytes:
    text = bytes(value) if isinstance(value, (bytes, bytearray)) else value  # binary target: the base64 text's bytes
    if not isinstance(text, (str, bytes)):
        raise InvalidItemError(f"{where}: B must arrive as base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidItemError(f"{where}: B is not valid base64") from None


def _members(value: Any, where: str) -> dict[str, AttributeValue]:
    if not isinstance(value, Mapping):
        raise InvalidItemError(f"{where}: an M must arrive as a struct of its members")
    members = {}
    for name, member in value.items():
        if member is None:
            continue
        av = _member(member, f"{where}.{name}")
        if av is not None:
            members[name] = av
    return members


def _member(value: Any, where: str) -> AttributeValue | None:
    """A typed value: DynamoDB JSON text (pass-through) or a struct of type tags (one non-null)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise InvalidItemError(f"{where}: pass-through is not DynamoDB JSON") from None
        return item_from_json({"pass-through": parsed}, where=where)["pass-through"]
    if not isinstance(value, Mapping):
        raise InvalidItemError(f"{where}: expected DynamoDB JSON text or a struct of type tags")
    present = [(tag, v) for tag, v in value.items() if v is not None]
    if not present:
        return None
    if len(present) > 1:
        raise InvalidItemError(f"{where}: holds several types ({', '.join(t for t, _ in present)})")
    (tag, payload), = present
    if tag == "M":
        return {"M": _members(payload, where)}
    if tag in ("SS", "NS", "BS"):
        return {tag: [_scalar(tag[0], m, where) for m in payload]}
    if tag in ("S", "N", "B", "BOOL", "NULL"):
        return {tag: _scalar(tag, payload, where)}
    raise InvalidItemError(f"{where}: unknown type tag {tag!r}")


# --------------------------------------------------------------------------- without a mapping


def _by_value_type(row: Any, where: str) -> Item:
    fields = row.asDict(recursive=False) if hasattr(row, "asDict") else dict(row)
    try:
        item = {name: _python_value(v, f"attribute {name!r}") for name, v in fields.items() if v is not None}
        return serialize_item(item)
    except InvalidItemError as exc:
        raise InvalidItemError(f"{where}: {exc}") from None


def _python_value(value: Any, where: str) -> Any:
    """A Spark Python value as the Python form :func:`~ddbmigrate.values.serialize_item` takes."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InvalidItemError(f"{where}: NaN and Infinity cannot be stored as a DynamoDB number")
        return Decimal(repr(value))
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if hasattr(value, "asDict"):  # a Spark Row (a tuple: checked before lists)
        return _struct(value.asDict(recursive=False), where)
    if isinstance(value, Mapping):
        return _struct({str(k): v for k, v in value.items()}, where)
    if isinstance(value, (list, tuple)):
        return [_python_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise InvalidItemError(f"{where}: a Spark value of type {type(value).__name__} has no DynamoDB equivalent")


def _struct(fields: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {name: _python_value(v, f"{where}.{name}") for name, v in fields.items() if v is not None}
