"""Hypothesis strategies for DynamoDB items in wire form, shared by the value and digest tests.

Every type, 38-digit numbers at both ends of the range in several spellings, M/L nested to
DynamoDB's limit, empty strings/binaries/maps/lists, all three set types, awkward names.
Moderate sizes, so that 500 examples run in seconds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ddbmigrate.values import Item

__all__ = ["MAX_NUMBER", "MIN_NUMBER", "decimals", "deep", "items", "names", "numbers", "scalars", "semantic",
           "semantic_item", "spell"]

MAX_NUMBER = "9.9999999999999999999999999999999999999E+125"
MIN_NUMBER = "1E-130"

names = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["a.b", "with space", "ünïcödé_属性", "Case", "case", "CASE", "#x", ":v", "[0]", "😀", " "]),
)


@st.composite
def decimals(draw: st.DrawFn) -> Decimal:
    """A number DynamoDB stores: ≤ 38 significant digits, magnitude 1E-130 … 9.99…E+125, or 0."""
    if draw(st.integers(0, 20)) == 0:
        return Decimal(0)
    digits = draw(st.integers(1, 38))
    coefficient = draw(
        st.one_of(st.integers(10 ** (digits - 1), 10**digits - 1), st.just(10**digits - 1), st.just(10 ** (digits - 1)))
    )
    adjusted = draw(st.one_of(st.integers(-130, 125), st.sampled_from([-130, -129, 124, 125])))
    sign = draw(st.integers(0, 1))
    return Decimal((sign, tuple(int(c) for c in str(coefficient)), adjusted - digits + 1))


def spell(number: Decimal, style: int) -> str:
    """Spellings DynamoDB accepts for one number: scientific, plain, lower-case e, trailing zeros, '+'."""
    if style == 0:
        return str(number)
    if style == 1:
        return format(number, "f")
    if style == 2:
        return format(number, "e")
    if style == 3:
        plain = format(number, "f")
        return plain + ("00" if "." in plain else ".00")
    return ("" if number.is_signed() else "+") + format(number, "E")


numbers = st.builds(spell, decimals(), st.integers(0, 4))
edge_numbers = st.sampled_from(
    [MAX_NUMBER, "-" + MAX_NUMBER, MIN_NUMBER, "-" + MIN_NUMBER, "1.2345678901234567890123456789012345678E-130",
     "12345678901234567890123456789012345678", "0", "-0", "0.000", "1.50", "1E+3"]
)


def _distinct_numbers(values: set[Decimal], style: int) -> list[str]:
    return [spell(v, style) for v in values]


scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=12)),
    st.builds(lambda n: {"N": n}, st.one_of(numbers, edge_numbers)),
    st.builds(lambda b: {"B": b}, st.binary(max_size=12)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(max_size=6), min_size=1, max_size=4)),
    st.builds(lambda s, style: {"NS": _distinct_numbers(s, style)}, st.sets(decimals(), min_size=1, max_size=4), st.integers(0, 4)),
    st.builds(lambda s: {"BS": sorted(s)}, st.sets(st.binary(max_size=6), min_size=1, max_size=4)),
)

nested = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(names, children, max_size=4)),
        st.builds(lambda v: {"L": v}, st.lists(children, max_size=4)),
    ),
    max_leaves=8,
)


@st.composite
def deep(draw: st.DrawFn) -> dict[str, Any]:
    """Maps and lists nested up to DynamoDB's limit: 31 containers around the innermost value."""
    levels = draw(st.integers(25, 31))
    value = draw(scalars)
    for _ in range(levels):
        value = {"M": {draw(names): value}} if draw(st.booleans()) else {"L": [value]}
    return value


items = st.dictionaries(names, st.one_of(nested, nested, deep()), min_size=1, max_size=5)


def semantic(av: Any) -> Any:
    """A value as DynamoDB compares it: numbers by value, sets unordered, binaries as bytes."""
    ((tag, payload),) = av.items()
    if tag == "N":
        return ("N", Decimal(payload))
    if tag == "NS":
        return ("NS", frozenset(Decimal(x) for x in payload))
    if tag == "SS":
        return ("SS", frozenset(payload))
    if tag == "BS":
        return ("BS", frozenset(bytes(x) for x in payload))
    if tag == "B":
        return ("B", bytes(payload))
    if tag == "M":
        return ("M", {k: semantic(v) for k, v in payload.items()})
    if tag == "L":
        return ("L", [semantic(v) for v in payload])
    return (tag, payload)


def semantic_item(item: Item) -> dict[str, Any]:
    return {name: semantic(av) for name, av in item.items()}
