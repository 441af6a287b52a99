"""Glue type names: canonical spellings, aliases, decimals."""

from __future__ import annotations

import pytest

from ddbmigrate.errors import MappingError
from ddbmigrate.mapping.types import GlueType, parse_glue_type


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("string", "string"), ("LONG", "long"), ("bigint", "long"), ("integer", "int"), ("int", "int"),
        ("smallint", "short"), ("tinyint", "byte"), ("decimal", "decimal(10,2)"),
        ("decimal(38,10)", "decimal(38,10)"), ("decimal( 5 , 0 )", "decimal(5,0)"), ("array", "array"),
        ("struct", "struct"), ("map", "map"), ("null", "null"), ("timestamp", "timestamp"), ("date", "date"),
    ],
)
def test_names_parse_to_canonical_spelling(text: str, canonical: str) -> None:
    assert str(parse_glue_type(text)) == canonical


def test_decimal_keeps_precision_and_scale() -> None:
    assert parse_glue_type("decimal(38,10)") == GlueType("decimal", 38, 10)
    assert parse_glue_type("array").is_container and not parse_glue_type("string").is_container


@pytest.mark.parametrize("text", ["text", "decimal(39,2)", "decimal(5,6)", "decimal(0,0)", "array<string>", ""])
def test_unknown_or_impossible_types_are_refused(text: str) -> None:
    with pytest.raises(MappingError, match="type"):
        parse_glue_type(text)
