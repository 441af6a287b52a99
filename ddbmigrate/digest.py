"""Order-independent digests of DynamoDB items: what ``verify`` compares instead of the items.

Two items get the same digest exactly when DynamoDB considers them equal: attribute, map-key and
set-member order do not matter, numbers compare by value, everything else (types included) is
exact. The digest is the SHA-256 of a type-tagged, length-prefixed encoding. Pure, so the same
functions run in verify's threads and in Spark executors. See docs/verify.md, "What equal means".

Example::

    >>> a = {"n": {"N": "1.50"}, "s": {"SS": ["b", "a"]}}
    >>> b = {"s": {"SS": ["a", "b"]}, "n": {"N": "1.5"}}
    >>> item_digest(a) == item_digest(b)
    True
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ddbmigrate.errors import InvalidItemError, InvalidKeyError
from ddbmigrate.values import canonical_number, significant_digits

__all__ = [
    "DIGEST_BYTES",
    "canonical_encoding",
    "describe_differences",
    "in_sample",
    "item_digest",
    "key_digest",
    "key_names",
]

DIGEST_BYTES = 32
"""SHA-256: collisions are not a practical concern even across billions of items."""

_PLAIN_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}")
_CODES = {"S": b"S", "N": b"N", "B": b"B", "BOOL": b"?", "NULL": b"0", "SS": b"s", "NS": b"n", "BS": b"b", "M": b"M", "L": b"L"}


def key_names(key_schema: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """``[{"AttributeName": "pk", "KeyType": "HASH"}, …]`` → ``("pk", …)`` (partition key first)."""
    ordered = sorted(key_schema, key=lambda e: 0 if e["KeyType"] == "HASH" else 1)
    return tuple(e["AttributeName"] for e in ordered)


def canonical_encoding(item: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The item's canonical bytes (see the module docstring); equal items encode identically."""
    out: list[bytes] = []
    _encode_map(item, out, "item")
    return b"".join(out)


def item_digest(item: Mapping[str, Mapping[str, Any]]) -> bytes:
    """SHA-256 of :func:`canonical_encoding` — 32 bytes. Raises :class:`InvalidItemError` on a
    value DynamoDB could not hold (naming the attribute path, never the value)."""
    return hashlib.sha256(canonical_encoding(item)).digest()


def key_digest(item: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> bytes:
    """Digest of the item's key attributes only: the identity both sides of a verify join on.

    Raises :class:`InvalidKeyError` naming a key attribute the item lacks.
    """
    key = {}
    for name in names:
        if name not in item:
            raise InvalidKeyError(f"key attribute {name!r} is missing")
        key[name] = item[name]
    return hashlib.sha256(b"key\x00" + canonical_encoding(key)).digest()


def in_sample(digest: bytes, fraction: float) -> bool:
    """Deterministic sampling by key digest: the same keys are picked on both sides, every run.

    The first 8 bytes of a SHA-256 are uniform, so about ``fraction`` of all keys are selected.
    """
    if fraction >= 1.0:
        return True
    return int.from_bytes(digest[:8], "big") < int(fraction * 2**64)


# --------------------------------------------------------------------------- encoding


def _length(n: int) -> bytes:
    return n.to_bytes(4, "big")


def _chunk(data: bytes) -> bytes:
    return _length(len(data)) + data


def _binary(payload: Any, where: str) -> bytes:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):  # DynamoDB JSON form: base64 text
        try:
            return base64.b64decode(payload, validate=True)
        except ValueError:
            raise InvalidItemError(f"{where}: B is not valid base64") from None
    raise InvalidItemError(f"{where}: B must be bytes")


def _text(payload: Any, where: str) -> bytes:
    if not isinstance(payload, str):
        raise InvalidItemError(f"{where}: S must be a string")
    return payload.encode("utf-8")


def _number(payload: Any, where: str) -> bytes:
    if isinstance(payload, (Decimal, int)) and not isinstance(payload, bool):
        payload = str(payload)
    if isinstance(payload, str) and _PLAIN_INTEGER.fullmatch(payload):
        return payload.encode("ascii")  # already canonical: the common case, 3× faster
    return canonical_number(payload, where=where).encode("ascii")


def _encode_map(payload: Mapping[str, Any], out: list[bytes], where: str) -> None:
    entries = sorted((name.encode("utf-8"), name) for name in payload)
    out.append(_length(len(entries)))
    for raw, name in entries:
        out.append(_chunk(raw))
        _encode(payload[name], out, f"{where}.{name}" if where != "item" else f"attribute {name!r}")


def _encode(av: Mapping[str, Any], out: list[bytes], where: str) -> None:
    if not isinstance(av, Mapping) or len(av) != 1:
        raise InvalidItemError(f"{where}: a typed value must have exactly one type tag")
    ((tag, payload),) = av.items()
    code = _CODES.get(tag)
    if code is None:
        raise InvalidItemError(f"{where}: unknown type tag {tag!r}")
    out.append(code)
    if tag == "S":
        out.append(_chunk(_text(payload, where)))
    elif tag == "N":
        out.append(_chunk(_number(payload, where)))
    elif tag == "B":
        out.append(_chunk(_binary(payload, where)))
    elif tag == "BOOL":
        out.append(b"\x01" if payload else b"\x00")
    elif tag == "NULL":
        pass
    elif tag in ("SS", "NS", "BS"):
        if tag == "SS":
            members = [_chunk(_text(m, where)) for m in payload]
        elif tag == "NS":
            members = [_chunk(_number(m, where)) for m in payload]
        else:
            members = [_chunk(_binary(m, where)) for m in payload]
        members.sort()
        out.append(_length(len(members)))
        out.extend(members)
    elif tag == "M":
        _encode_map(payload, out, where)
    else:  # L
        out.append(_length(len(payload)))
        for i, element in enumerate(payload):
            _encode(element, out, f"{where}[{i}]")


# --------------------------------------------------------------------------- differences


def describe_differences(
    source: Mapping[str, Mapping[str, Any]],
    target: Mapping[str, Mapping[str, Any]],
    *,
    limit: int = 20,
) -> list[str]:
    """How two items differ, by attribute path and type — never by value.

    For the verify report: ``"attribute 'tags': SS in source, L in target"``,
    ``"attribute 'address'.geo.lat: N differs (38 significant digits in source, 17 in target)"``,
    ``"attribute 'note': only in target"``. At most ``limit`` lines (the last says how many more).
    """
    lines: list[str] = []
    _diff_map(source, target, "", lines)
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"… and {len(lines) - limit + 1} more differences"]
    return lines


def _diff_map(a: Mapping[str, Any], b: Mapping[str, Any], where: str, lines: list[str]) -> None:
    for name in sorted(set(a) | set(b)):
        path = f"{where}.{name}" if where else f"attribute {name!r}"
        if name not in b:
            lines.append(f"{path}: missing in target")
        elif name not in a:
            lines.append(f"{path}: only in target")
        else:
            _diff_value(a[name], b[name], path, lines)


def _diff_value(a: Mapping[str, Any], b: Mapping[str, Any], where: str, lines: list[str]) -> None:
    ((tag_a, payload_a),) = a.items()
    ((tag_b, payload_b),) = b.items()
    if tag_a != tag_b:
        lines.append(f"{where}: {tag_a} in source, {tag_b} in target")
        return
    if tag_a == "M":
        _diff_map(payload_a, payload_b, where, lines)
    elif tag_a == "L":
        if len(payload_a) != len(payload_b):
            lines.append(f"{where}: L has {len(payload_a)} elements in source, {len(payload_b)} in target")
            return
        for i, (x, y) in enumerate(zip(payload_a, payload_b, strict=True)):
            _diff_value(x, y, f"{where}[{i}]", lines)
    elif _digest_of(a, where) != _digest_of(b, where):
        lines.append(_scalar_difference(tag_a, payload_a, payload_b, where))


def _digest_of(av: Mapping[str, Any], where: str) -> bytes:
    out: list[bytes] = []
    _encode(av, out, where)
    return b"".join(out)


def _scalar_difference(tag: str, a: Any, b: Any, where: str) -> str:
    if tag == "N":
        digits_a, digits_b = _significant_digits(a, where), _significant_digits(b, where)
        if digits_a != digits_b:
            return f"{where}: N differs ({digits_a} significant digits in source, {digits_b} in target)"
        return f"{where}: N differs"
    if tag in ("SS", "NS", "BS"):
        if len(a) != len(b):
            return f"{where}: {tag} has {len(a)} members in source, {len(b)} in target"
        return f"{where}: {tag} members differ"
    return f"{where}: {tag} differs"


def _significant_digits(payload: Any, where: str) -> int:
    return significant_digits(_number(payload, where).decode("ascii"))
