"""A mapping file applied to one wire item, the way the import job applies it — purely.

The import job reads each export line into a row, ``ApplyMapping`` moves each rule's source value
to its target path, and :func:`ddbmigrate.mapping.row_to_item` turns the row back into an item.
Here the row is built directly from the item (each rule's source value in its export form:
numbers and binaries as text, sets as arrays, typed pass-throughs as DynamoDB JSON text) and
handed to the same ``row_to_item``, so renames, drops and nesting come out exactly as the job
makes them. Used where items travel as attribute values and never become Spark rows: the
import's per-item route, the table copy, replication and verify.

Unlike ApplyMapping on a DynamicFrame, this route carries **schema drift** (docs/mapping.md,
"Schema drift"): what the schema never saw passes through, a known attribute of a new type keeps
its value and tag at its rule's target, what the user dropped stays dropped.

A rule that *casts* (a target type other than its source type) would need Spark's cast semantics;
it is refused with a :class:`~ddbmigrate.errors.MappingError` naming the rule, never approximated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ddbmigrate.drift import EMPTY_MAP, TypeChange, find_drift
from ddbmigrate.errors import InvalidItemError, MappingError
from ddbmigrate.mapping.convert import row_to_item
from ddbmigrate.mapping.file import MappingFile
from ddbmigrate.mapping.rules import PASSTHROUGH, Rule
from ddbmigrate.schema import join_path
from ddbmigrate.values import AttributeValue, Item, item_to_json

__all__ = ["ItemMapping", "MappedItem"]

_CAST_HINT = "use a mapping whose rules rename, drop or nest attributes only"

Path = tuple[str, ...]


class MappedItem(NamedTuple):
    """An item mapped item by item, and the drift it carried (attribute paths, names from the item down).

    ``unknown``: attributes (or map members) the schema never saw, passed through unchanged;
    ``retyped``: known attributes of a new type, kept with their value and tag at their rule's target.
    Drift inside what the mapping drops is dropped with it and not listed.
    """

    item: Item
    unknown: tuple[Path, ...] = ()
    retyped: tuple[TypeChange, ...] = ()


_RESTRUCTURED = "restructured"
"""Home of a map whose rules do not keep its members together at one target (a string: it pickles)."""


class ItemMapping:
    """Call it on a wire item to get the mapped wire item (:meth:`map` also says what drifted).

    Picklable (it travels to executors).
    """

    def __init__(self, mapping: MappingFile, *, cast_hint: str = _CAST_HINT) -> None:
        for rule in mapping.rules:
            if rule.casts:
                raise MappingError(
                    f"{mapping.where}: mappings[{rule.index}] casts {rule.source_type} to {rule.target_type}; "
                    f"items are mapped one by one as attribute values, which renames, drops and nests but "
                    f"never casts — {cast_hint}"
                )
        self.mapping = mapping
        self._homes = _homes(mapping.rules)
        self._whole = {_names(r): r.tag for r in mapping.rules if r.tag in ("M", PASSTHROUGH)}
        self._targets = frozenset(r.target for r in mapping.rules)
        self._inside_targets = frozenset(r.target[:cut] for r in mapping.rules for cut in range(1, len(r.target)))

    def __call__(self, item: Item) -> Item:
        return self.map(item).item

    def map(self, item: Item) -> MappedItem:
        """The mapped item and its drift; :class:`InvalidItemError` when a drifted value has no
        place to go (it would collide with a rule's target, or its map was restructured)."""
        mapped = self._by_rules(item)
        drift = find_drift(item, self.mapping.schema)
        if drift is None:
            return MappedItem(mapped)
        unknown = tuple(p for p in drift.unknown if self._carry(mapped, p, _value_at(item, p), node=False))
        retyped = tuple(c for c in drift.retyped if self._carry(mapped, c.path, _value_at(item, c.path), node=True))
        return MappedItem(mapped, unknown, retyped)

    def _by_rules(self, item: Item) -> Item:
        document = item_to_json(item)
        row: dict[str, Any] = {}
        for rule in self.mapping.rules:
            value = _export_value(document, rule.source[1:], passthrough=rule.tag == PASSTHROUGH)
            if value is None:
                continue
            node = row
            for name in rule.target[:-1]:
                node = node.setdefault(name, {})
            node[rule.target[-1]] = value
        return row_to_item(row, self.mapping.rules)

    def _carry(self, mapped: Item, path: Path, value: AttributeValue, *, node: bool) -> bool:
        """Place one drifted value; False when the mapping drops it. ``node``: the value replaces a
        known attribute (retyped), else it is a new member of ``path[:-1]`` (or a new attribute)."""
        if self._carried_whole(path):
            return True  # a rule moves the map (or the typed pass-through) holding it as a whole
        where = f"{self.mapping.where}: attribute {join_path(path)!r}"
        if node:
            home = self._homes.get(path)
            if home is None:
                return False  # no rule names it: the user dropped it
            if home == _RESTRUCTURED or not home:
                raise InvalidItemError(
                    f"{where} is {_tag(value)} now, and the mapping's rules spread its members over several "
                    "targets, so it has no one place to go; re-crawl ('ddbmigrate crawl', then 'ddbmigrate mapping "
                    "generate') and edit the new rules")
            self._check_free(home, where, path)
            target = home
        elif len(path) == 1:
            target = path
            self._check_free(target, f"{where} is new (not in the mapping's schema) and", None)
        else:
            home = self._homes.get(path[:-1])
            if home is None:
                return False  # its map is dropped: the new member goes with it
            if home == _RESTRUCTURED:
                raise InvalidItemError(
                    f"{where} is new (not in the mapping's schema), and the mapping's rules spread the members "
                    f"of {join_path(path[:-1])!r} over several targets, so it has no one place to go; re-crawl "
                    "('ddbmigrate crawl', then 'ddbmigrate mapping generate') and add a rule for it")
            target = (*home, path[-1])
            self._check_free(target, f"{where} is new (not in the mapping's schema) and", None)
        _place(mapped, target, value, f"{where}: target {join_path(target)!r}")
        return True

    def _carried_whole(self, path: Path) -> bool:
        """A pass-through rule at ``path`` or above, or an M rule above it, already moved the value."""
        for cut in range(1, len(path) + 1):
            tag = self._whole.get(path[:cut])
            if tag == PASSTHROUGH or (tag == "M" and cut < len(path)):
                return True
        return False

    def _check_free(self, target: Path, what: str, own: Path | None) -> None:
        """Refuse a target where a rule writes (other than the retyped attribute's own rules)."""
        if own is None:
            clash = target in self._targets or target in self._inside_targets
            if clash or any(target[:cut] in self._targets for cut in range(1, len(target))):
                raise InvalidItemError(
                    f"{what} the mapping already writes target {join_path(target)!r}; re-crawl ('ddbmigrate crawl', "
                    "then 'ddbmigrate mapping generate') or rename that target")
            return
        for rule in self.mapping.rules:
            if _names(rule)[:len(own)] == own:
                continue
            shorter = min(len(rule.target), len(target))
            if rule.target[:shorter] == target[:shorter]:
                raise InvalidItemError(
                    f"{what} keeps its new type at target {join_path(target)!r}, where mappings[{rule.index}] also "
                    "writes; re-crawl ('ddbmigrate crawl', then 'ddbmigrate mapping generate') or move that target")


def _names(rule: Rule) -> Path:
    """The attribute names along a rule's source (``Item.a.M.b.S`` → ``("a", "b")``)."""
    return rule.source[1::2]


def _homes(rules: Sequence[Rule]) -> dict[Path, Any]:
    """Where each schema node a rule reaches goes: its target path, or ``_RESTRUCTURED``.

    A rule reading ``a.b.c`` and writing ``x.y.z`` puts node ``a`` at ``x`` and ``a.b`` at ``x.y``
    (the target with as many trailing names removed as the source has below the node); a node is
    somewhere only when all its rules agree. Nodes no rule reaches are absent: dropped.
    """
    homes: dict[Path, Any] = {}
    for rule in rules:
        names = _names(rule)
        for depth in range(1, len(names) + 1):
            below = len(names) - depth
            home = rule.target[:len(rule.target) - below] if len(rule.target) >= below else _RESTRUCTURED
            node = names[:depth]
            if homes.get(node, home) != home:
                home = _RESTRUCTURED
            homes[node] = home
    return homes


def _value_at(item: Item, path: Path) -> AttributeValue:
    value: Any = item[path[0]]
    for name in path[1:]:
        value = value["M"][name]
    return value


def _tag(value: AttributeValue) -> str:
    tag = next(iter(value))
    return EMPTY_MAP if tag == "M" and not value["M"] else tag


def _place(item: Item, target: Path, value: AttributeValue, where: str) -> None:
    container: dict[str, Any] = item
    for name in target[:-1]:
        existing = container.setdefault(name, {"M": {}})
        if "M" not in existing:
            raise InvalidItemError(f"{where}: {name!r} is not a map in the mapped item")
        container = existing["M"]
    last = target[-1]
    if last in container:
        if value == {"M": {}} and "M" in container[last]:
            return  # an empty map where the rules already made that map
        raise InvalidItemError(f"{where}: two values of the item land there; re-crawl and regenerate the mapping")
    container[last] = value


def _export_value(document: Mapping[str, Any], path: Sequence[str], *, passthrough: bool) -> Any:
    """The value at an export path (``name, tag, name, tag…``) as Spark reads it from the line."""
    current: Any = document
    for step in path:
        if not isinstance(current, Mapping) or step not in current:
            return None
        current = current[step]
    return json.dumps(current, ensure_ascii=False) if passthrough else current
