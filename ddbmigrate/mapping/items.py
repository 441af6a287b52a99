"""A mapping file applied to one wire item, the way the import job applies it — purely.

The import job reads each export line into a row, ``ApplyMapping`` moves each rule's source value
to its target path, and :func:`ddbmigrate.mapping.row_to_item` turns the row back into an item.
Here the row is built directly from the item (each rule's source value in its export form:
numbers and binaries as text, sets as arrays, typed pass-throughs as DynamoDB JSON text) and
handed to the same ``row_to_item``, so renames, drops and nesting come out exactly as the job
makes them. Used where items travel as attribute values and never become Spark rows: the
table-copy job (renames on the way) and verify (comparing through a mapping).

A rule that *casts* (a target type other than its source type) would need Spark's cast semantics;
it is refused with a :class:`~ddbmigrate.errors.MappingError` naming the rule, never approximated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ddbmigrate.errors import MappingError
from ddbmigrate.mapping.convert import row_to_item
from ddbmigrate.mapping.file import MappingFile
from ddbmigrate.mapping.rules import PASSTHROUGH
from ddbmigrate.values import Item, item_to_json

__all__ = ["ItemMapping"]

_CAST_HINT = "use a mapping whose rules rename, drop or nest attributes only"


class ItemMapping:
    """Call it on a wire item to get the mapped wire item. Picklable (it travels to executors)."""

    def __init__(self, mapping: MappingFile, *, cast_hint: str = _CAST_HINT) -> None:
        for rule in mapping.rules:
            if rule.casts:
                raise MappingError(
                    f"{mapping.where}: mappings[{rule.index}] casts {rule.source_type} to {rule.target_type}; "
                    f"items are mapped one by one as attribute values, which renames, drops and nests but "
                    f"never casts — {cast_hint}"
                )
        self.mapping = mapping

    def __call__(self, item: Item) -> Item:
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


def _export_value(document: Mapping[str, Any], path: Sequence[str], *, passthrough: bool) -> Any:
    """The value at an export path (``name, tag, name, tag…``) as Spark reads it from the line."""
    current: Any = document
    for step in path:
        if not isinstance(current, Mapping) or step not in current:
            return None
        current = current[step]
    return json.dumps(current, ensure_ascii=False) if passthrough else current
