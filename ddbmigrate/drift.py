"""Schema drift: what a live item holds that the mapping's schema did not know, and its counts.

Tables gain attributes and change an attribute's type after the export was crawled. The
item-by-item routes carry such items instead of refusing them (see docs/mapping.md, "Schema
drift"); this module finds the drift (pure, once per item, so it stays as cheap as the schema
check it replaced) and counts it by name for the job's summary. Names only, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ddbmigrate.schema import join_path, schema_tree

__all__ = ["EMPTY_MAP", "RECRAWL_HINT", "DriftCounts", "SchemaDrift", "TypeChange", "find_drift"]

EMPTY_MAP = "empty M"
"""The type an empty map is reported as where the schema has the map's members as columns."""

RECRAWL_HINT = "re-crawl to make them part of the mapping ('ddbmigrate crawl', then 'ddbmigrate mapping generate')"

_MAX_NAMES = 50
"""Distinct names counted one by one; more are counted together (a table with generated attribute
names must not grow the counters, which travel through a Spark accumulator)."""
_OTHER_NAMES = "(other names)"


class TypeChange(NamedTuple):
    """A known attribute (``path``: names from the item down) whose type tag is not the schema's."""

    path: tuple[str, ...]
    was: str
    now: str

    def __str__(self) -> str:
        return f"{join_path(self.path)} ({self.was}→{self.now})"


class SchemaDrift(NamedTuple):
    """What one item holds beyond its schema: attribute paths never seen, and type changes."""

    unknown: tuple[tuple[str, ...], ...] = ()
    retyped: tuple[TypeChange, ...] = ()


_MISSING: Any = object()


def find_drift(item: Mapping[str, Any], schema: Mapping[str, Any]) -> SchemaDrift | None:
    """The drift of a validated wire item against ``schema``, or None when it fits (the usual case).

    Reported: an attribute (or a map member) the schema does not have, and a value whose tag the
    schema does not expect there — also an empty M where the schema has the map's members. Nothing
    inside a typed pass-through drifts (it carries any value). Attributes missing from the item are
    not drift: items are sparse.

    >>> from ddbmigrate.schema import infer_schema
    >>> schema = infer_schema([{"pk": {"S": "a"}, "price": {"N": "1"}}])
    >>> find_drift({"pk": {"S": "b"}, "price": {"S": "x"}, "loyalty": {"N": "2"}}, schema)
    SchemaDrift(unknown=(('loyalty',),), retyped=(TypeChange(path=('price',), was='N', now='S'),))
    """
    tree = schema_tree(schema)
    if _fits(item, tree):
        return None
    found = _walk(item, tree, (), None) or ([], [])
    return SchemaDrift(tuple(found[0]), tuple(found[1]))


def _fits(values: Mapping[str, Any], tree: Mapping[str, Any]) -> bool:
    """The per-item hot path: no drift anywhere (no paths built, no lists made)."""
    for name, av in values.items():
        expected = tree.get(name, _MISSING)
        if expected is None:
            continue
        if expected is _MISSING or av.__class__ is not dict or len(av) != 1:
            return False
        for tag in av:
            if tag not in expected:
                return False
            if tag == "M":
                members = av["M"]
                if not members or not _fits(members, expected["M"]):
                    return False
    return True


_Found = tuple[list[tuple[str, ...]], list[TypeChange]]


def _walk(values: Mapping[str, Any], tree: Mapping[str, Any], prefix: tuple[str, ...], found: _Found | None) -> _Found | None:
    for name, av in values.items():  # runs for every item: lists are only made when something drifted
        expected = tree.get(name, _MISSING)
        if expected is None:  # a typed pass-through takes any value
            continue
        if expected is _MISSING:
            found = found or ([], [])
            found[0].append((*prefix, name))
            continue
        tag = next(iter(av)) if av.__class__ is dict and len(av) == 1 else "not a typed value"
        if tag not in expected:
            found = found or ([], [])
            found[1].append(TypeChange((*prefix, name), ", ".join(sorted(expected)), tag))
        elif tag == "M":
            members = av["M"]
            if members:
                found = _walk(members, expected["M"], (*prefix, name), found)
            else:
                found = found or ([], [])
                found[1].append(TypeChange((*prefix, name), "M", EMPTY_MAP))
    return found


@dataclass
class DriftCounts:
    """Items that carried drift, by name; merged across tasks (:meth:`merge`, a Spark accumulator)."""

    items_unknown: int = 0
    """Items with at least one attribute the schema did not know."""
    items_retyped: int = 0
    """Items with at least one known attribute of a new type."""
    unknown: dict[str, int] = field(default_factory=dict)
    """Glue path of each new attribute → items that carried it."""
    retyped: dict[str, int] = field(default_factory=dict)
    """``path (WAS→NOW)`` → items."""

    def add(self, unknown: Iterable[tuple[str, ...]], retyped: Iterable[TypeChange]) -> None:
        """Count one item's drift (either may be empty)."""
        names = {join_path(path) for path in unknown}
        changes = {str(change) for change in retyped}
        if names:
            self.items_unknown += 1
            _count(self.unknown, dict.fromkeys(names, 1))
        if changes:
            self.items_retyped += 1
            _count(self.retyped, dict.fromkeys(changes, 1))

    def merge(self, other: DriftCounts) -> DriftCounts:
        """Add ``other`` into this one (in place; returns self, as the accumulator wants)."""
        self.items_unknown += other.items_unknown
        self.items_retyped += other.items_retyped
        _count(self.unknown, other.unknown)
        _count(self.retyped, other.retyped)
        return self

    def __add__(self, other: DriftCounts) -> DriftCounts:
        return DriftCounts().merge(self).merge(other)

    def __bool__(self) -> bool:
        return bool(self.items_unknown or self.items_retyped)

    def summary(self) -> str | None:
        """One line naming what drifted and how often (never a value), or None when nothing did."""
        if not self:
            return None
        parts = []
        if self.items_unknown:
            parts.append(f"{self.items_unknown} item(s) carried new attribute(s) {_listed(self.unknown)}")
        if self.items_retyped:
            parts.append(f"{self.items_retyped} item(s) changed type of {_listed(self.retyped)}")
        return f"schema drift: {', '.join(parts)}; {RECRAWL_HINT}"


def _count(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for name, n in counts.items():
        if name not in into and len(into) >= _MAX_NAMES:
            name = _OTHER_NAMES
        into[name] = into.get(name, 0) + n


def _listed(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] == _OTHER_NAMES, -kv[1], kv[0]))
    return ", ".join(f"{name} ({n})" for name, n in ordered)
