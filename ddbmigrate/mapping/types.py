"""Glue type names as ApplyMapping's 4-tuples spell them, parsed and checked (pure: no Spark).

Glue names types after its ``awsglue.gluetypes`` classes (``StringType`` → ``string``, but
``IntegerType`` → ``int``); bare ``decimal`` is Glue's ``decimal(10,2)``, and the SQL spellings
``integer``/``bigint``/``smallint``/``tinyint`` are aliases. The name ↔ Spark type table:
docs/mapping.md, "Glue type names".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ddbmigrate.errors import MappingError

__all__ = ["ATOMIC_TYPES", "CONTAINER_TYPES", "DECIMAL_DEFAULT", "NUMERIC_TYPES", "GlueType", "parse_glue_type"]

ATOMIC_TYPES: frozenset[str] = frozenset({
    "string", "long", "int", "short", "byte", "double", "float", "decimal",
    "boolean", "binary", "timestamp", "date", "null",
})
CONTAINER_TYPES: frozenset[str] = frozenset({"array", "struct", "map"})
NUMERIC_TYPES: frozenset[str] = frozenset({"long", "int", "short", "byte", "double", "float", "decimal"})
DECIMAL_DEFAULT = (10, 2)
"""Precision and scale of a bare ``decimal`` (Glue's ``DecimalType`` default)."""

_ALIASES = {"integer": "int", "bigint": "long", "smallint": "short", "tinyint": "byte"}
_DECIMAL = re.compile(r"decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_MAX_PRECISION = 38


@dataclass(frozen=True)
class GlueType:
    """A parsed Glue type name; ``str()`` gives the canonical spelling."""

    name: str
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.name

    @property
    def is_container(self) -> bool:
        return self.name in CONTAINER_TYPES


def parse_glue_type(text: str) -> GlueType:
    """``"long"`` → ``GlueType("long")``; ``"decimal(38,10)"`` → precision 38, scale 10.

    Case-insensitive. Raises :class:`MappingError` for an unknown name or an impossible decimal
    (precision 1–38, scale 0–precision).

    >>> str(parse_glue_type("Decimal")), str(parse_glue_type("bigint"))
    ('decimal(10,2)', 'long')
    """
    if not isinstance(text, str):
        raise MappingError(f"a type name must be a string, got {type(text).__name__}")
    name = text.strip().lower()
    name = _ALIASES.get(name, name)
    if name in CONTAINER_TYPES or name in ATOMIC_TYPES:
        if name == "decimal":
            return GlueType("decimal", *DECIMAL_DEFAULT)
        return GlueType(name)
    match = _DECIMAL.fullmatch(name)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= _MAX_PRECISION or scale > precision:
            raise MappingError(f"type {text!r}: decimal precision must be 1–38 and scale 0–precision")
        return GlueType("decimal", precision, scale)
    known = ", ".join([*sorted((ATOMIC_TYPES | CONTAINER_TYPES) - {"decimal"}), "decimal(p,s)"])
    raise MappingError(f"type {text!r} is not a Glue type name; use one of {known}")
