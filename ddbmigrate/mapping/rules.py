"""ApplyMapping rules: generate them from a schema, parse and check them (pure: no Spark, no I/O).

A rule is Glue's 4-tuple ``(source path, source type, target path, target type)``. Generated rules
follow one convention — a source path ends in a type tag (``Item.price.N``) or at the attribute
(a typed pass-through) — so every value's DynamoDB type is recoverable from its rule alone. Users
may rename, drop, nest and change target types within :data:`ALLOWED_TARGETS`. The convention and
what is generated: docs/mapping.md, "2. The rules".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ddbmigrate.errors import MappingError
from ddbmigrate.mapping.types import ATOMIC_TYPES, NUMERIC_TYPES, GlueType, parse_glue_type
from ddbmigrate.schema import ITEM_FIELD, attribute_fields, join_path, split_path
from ddbmigrate.values import TYPE_TAGS

__all__ = [
    "ALLOWED_TARGETS",
    "GlueTuple",
    "Rule",
    "check_targets",
    "compile_rules",
    "generate_mappings",
    "parse_rule",
    "source_tag",
]

GlueTuple: TypeAlias = tuple[str, str, str, str]

_SETS = ("SS", "NS", "BS")
_GLUE_NAME_OF_TAG = {"S": "string", "N": "string", "B": "string", "BOOL": "boolean", "NULL": "boolean",
                     "SS": "array", "NS": "array", "BS": "array", "M": "struct"}
PASSTHROUGH = "pass-through"
"""Pseudo tag of a source path ending at an attribute."""

ALLOWED_TARGETS: dict[str, frozenset[str]] = {
    "S": frozenset(ATOMIC_TYPES - {"null"}),
    "N": frozenset(NUMERIC_TYPES | {"string"}),
    "B": frozenset({"string", "binary"}),
    "BOOL": frozenset({"boolean", "string"}),
    "NULL": frozenset({"boolean", "string"}),
    "SS": frozenset({"array"}), "NS": frozenset({"array"}), "BS": frozenset({"array"}),
    "M": frozenset({"struct"}),
    PASSTHROUGH: frozenset({"string", "struct"}),
}
"""Target types the writer can turn back into each DynamoDB type (a user's choice, like N → long or
double, is honoured exactly as the user asked: the value is converted back to an N)."""


@dataclass(frozen=True)
class Rule:
    """One parsed rule. ``tag`` is the DynamoDB type the rule carries (``"pass-through"`` for a
    source path ending at an attribute); ``None`` when the source is not an export path."""

    index: int
    source: tuple[str, ...]
    source_type: GlueType
    target: tuple[str, ...]
    target_type: GlueType
    tag: str | None = None

    @property
    def casts(self) -> bool:
        """The rule changes the value's type (needs Spark's cast semantics, not just a move)."""
        return self.target_type != self.source_type

    def as_tuple(self) -> GlueTuple:
        """The rule as Glue spells it (canonical paths and type names)."""
        return (join_path(self.source), str(self.source_type), join_path(self.target), str(self.target_type))


# --------------------------------------------------------------------------- generate


def generate_mappings(schema: Mapping[str, Any]) -> list[GlueTuple]:
    """The lossless rules for a (normalised) schema, in the schema's field order.

    >>> from ddbmigrate.schema import infer_schema
    >>> generate_mappings(infer_schema([{"ID": {"S": "1"}, "location": {"M": {"lat": {"N": "4.5"}}}}]))
    [('Item.ID.S', 'string', 'ID', 'string'), ('Item.location.M.lat.N', 'string', 'location.lat', 'string')]
    """
    rules: list[GlueTuple] = []

    def emit(field: Mapping[str, Any], source: tuple[str, ...], target: tuple[str, ...]) -> None:
        if field["type"] == "string":
            rules.append((join_path(source), "string", join_path(target), "string"))
            return
        (tag_field,) = field["type"]["fields"]
        tag = tag_field["name"]
        if tag == "M":
            for member in tag_field["type"]["fields"]:
                emit(member, (*source, "M", member["name"]), (*target, member["name"]))
            return
        glue = _GLUE_NAME_OF_TAG[tag]
        rules.append((join_path((*source, tag)), glue, join_path(target), glue))

    for field in attribute_fields(schema):
        emit(field, (ITEM_FIELD, field["name"]), (field["name"],))
    return rules


# --------------------------------------------------------------------------- parse


def parse_rule(rule: Any, index: int, *, where: str = "mapping") -> Rule:
    """Parse one 4-tuple (paths split, types parsed); errors name ``where`` and ``mappings[index]``."""
    at = f"{where}: mappings[{index}]"
    if not isinstance(rule, (list, tuple)) or len(rule) != 4 or not all(isinstance(x, str) for x in rule):
        raise MappingError(f"{at}: a rule must be 4 strings [source path, source type, target path, target type]")
    try:
        return Rule(index, split_path(rule[0]), parse_glue_type(rule[1]), split_path(rule[2]), parse_glue_type(rule[3]))
    except MappingError as exc:
        raise MappingError(f"{at} {list(rule)}: {exc}") from None


def source_tag(source: Sequence[str]) -> str | None:
    """The DynamoDB type a source path carries: its last segment if that is a tag, ``"pass-through"``
    if it ends at an attribute; ``None`` if it is not an export path (not under ``Item``).

    Raises :class:`MappingError` for a path that reaches inside a non-map value (``Item.a.S.x``),
    which ApplyMapping cannot express (it cannot reach inside arrays either).
    """
    if len(source) < 2 or source[0] != ITEM_FIELD:
        return None
    rest = source[1:]  # attribute, tag, attribute, tag, …
    for position in range(1, len(rest), 2):
        tag = rest[position]
        if tag not in TYPE_TAGS:
            raise MappingError(f"'{tag}' in {join_path(source)} is not a DynamoDB type tag ({', '.join(sorted(TYPE_TAGS))})")
        if tag != "M" and position != len(rest) - 1:
            raise MappingError(f"{join_path(source)} reaches inside {_article(tag)} value; only maps (M) have members")
    if len(rest) % 2 == 1:
        return PASSTHROUGH
    return rest[-1]


def check_targets(rules: Iterable[Rule], *, where: str = "mapping") -> None:
    """No two rules with the same target, and no target that is both a leaf and a struct."""
    owner: dict[tuple[str, ...], Rule] = {}
    for rule in rules:
        if rule.target in owner:
            other = owner[rule.target]
            raise MappingError(f"{where}: mappings[{rule.index}] and mappings[{other.index}] both write target "
                               f"{join_path(rule.target)!r}; rename one of them")
        owner[rule.target] = rule
    for target, rule in owner.items():
        for cut in range(1, len(target)):
            parent = owner.get(target[:cut])
            if parent is not None:
                raise MappingError(
                    f"{where}: target {join_path(parent.target)!r} is a value in mappings[{parent.index}] and a struct "
                    f"in mappings[{rule.index}] ({join_path(target)!r}); a target cannot be both"
                )


def compile_rules(
    mappings: Iterable[Any],
    *,
    schema: Mapping[str, Any] | None = None,
    where: str = "mapping",
) -> tuple[Rule, ...]:
    """Parse and check rules for the writer: every rule must read an export path (``Item.…``),
    its target type must be one the writer can turn back into the tag (:data:`ALLOWED_TARGETS`),
    targets must not collide. With ``schema``, each source path must exist in it with the rule's
    source type. Errors (:class:`MappingError`) name ``where`` and ``mappings[i]``.
    """
    compiled = []
    for index, raw in enumerate(mappings):
        rule = parse_rule(raw, index, where=where)
        at = f"{where}: mappings[{index}] {list(raw)}"
        try:
            tag = source_tag(rule.source)
        except MappingError as exc:
            raise MappingError(f"{at}: {exc}") from None
        if tag is None:
            raise MappingError(f"{at}: the source path must start with '{ITEM_FIELD}.' and name an attribute")
        expected: str | None = None
        if schema is not None:
            expected = _schema_type_at(schema, rule.source)
            if expected is None:
                raise MappingError(f"{at}: source path {join_path(rule.source)!r} is not in the mapping's schema")
            if expected != rule.source_type.name:
                raise MappingError(f"{at}: source type is {rule.source_type} but the schema has {expected} there")
        allowed = ALLOWED_TARGETS[tag]
        if expected is not None and tag == PASSTHROUGH:
            allowed = frozenset({expected})  # DynamoDB JSON text stays a string, a typed struct a struct
        if rule.target_type.name not in allowed:
            what = "a typed pass-through" if tag == PASSTHROUGH else _article(tag)
            raise MappingError(f"{at}: {what} cannot be written back from target type {rule.target_type}; "
                               f"use one of {', '.join(sorted(allowed))}")
        compiled.append(Rule(index, rule.source, rule.source_type, rule.target, rule.target_type, tag))
    check_targets(compiled, where=where)
    return tuple(compiled)


def _article(tag: str) -> str:
    return f"an {tag}" if tag[0] in "SNM" else f"a {tag}"  # an S, an N, an M, an SS, an NS; a B, a BOOL…


def _schema_type_at(schema: Mapping[str, Any], source: Sequence[str]) -> str | None:
    """Glue type name of the schema's field at ``source`` (``string``/``boolean``/``array``/``struct``)."""
    type_: Any = {"type": "struct", "fields": schema["fields"]}
    for name in source:
        if not isinstance(type_, Mapping) or type_.get("type") != "struct":
            return None
        match = [f for f in type_["fields"] if f["name"] == name]
        if not match:
            return None
        type_ = match[0]["type"]
    if isinstance(type_, str):
        return type_
    return str(type_.get("type"))
