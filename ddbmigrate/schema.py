"""The schema of an export's items: infer it (the local crawler), check items against it, save it.

It is the Spark schema the import reads each line with, kept as Spark's own JSON so that generating
a mapping needs no Spark and the job never runs an inference pass. What a column cannot carry
losslessly (any L, mixed types, sometimes-empty maps) is a typed pass-through. Reading with an
explicit schema silently loses what it does not declare, so on the ApplyMapping route every item is
checked first with :func:`conformance_error` and misfits are dead-lettered: a sampled or catalog
schema can cause dead letters, never silent loss. The item-by-item routes carry such drift instead
(:mod:`ddbmigrate.drift`). See docs/mapping.md, "1. The schema" and "Schema drift".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from ddbmigrate.errors import InvalidItemError, MappingError
from ddbmigrate.values import TYPE_TAGS

__all__ = [
    "ITEM_FIELD",
    "PASSTHROUGH_METADATA",
    "SCHEMA_FORMAT",
    "Schema",
    "SchemaAccumulator",
    "attribute_fields",
    "conformance_error",
    "crawl",
    "infer_schema",
    "join_path",
    "load_schema",
    "normalize_schema",
    "passthrough_reasons",
    "quote_name",
    "save_schema",
    "schema_document",
    "schema_tree",
    "split_path",
]

Schema: TypeAlias = dict[str, Any]
"""A Spark ``StructType`` as JSON: ``{"type": "struct", "fields": [{"name": "Item", …}]}``."""

ITEM_FIELD = "Item"
"""The one top-level field of an export line (``{"Item": {…}}``)."""

PASSTHROUGH_METADATA = "ddbmigrate.passthrough"
"""Field metadata key saying why an attribute is a typed pass-through (``"L"``, ``"N, S"``…)."""

SCHEMA_FORMAT = "ddbmigrate-schema/1"

_STRING = "string"
_BOOLEAN = "boolean"
_STRING_ARRAY: dict[str, Any] = {"type": "array", "elementType": "string", "containsNull": True}
_TAG_TYPES: dict[str, Any] = {
    "S": _STRING, "N": _STRING, "B": _STRING,
    "BOOL": _BOOLEAN, "NULL": _BOOLEAN,
    "SS": _STRING_ARRAY, "NS": _STRING_ARRAY, "BS": _STRING_ARRAY,
}
_EMPTY_MAP = "empty M"
_RECRAWL = ("re-run 'ddbmigrate crawl' over all files of the export (no --sample-files), then 'ddbmigrate mapping "
            "generate'")


# --------------------------------------------------------------------------- paths


def quote_name(name: str) -> str:
    """One path segment as Glue writes it: backticks around names with dots, backticks or spaces.

    >>> quote_name("price"), quote_name("dotted.name"), quote_name("with space")
    ('price', '`dotted.name`', '`with space`')
    """
    if not name:
        raise MappingError("a path segment is empty")
    if "." in name or "`" in name or any(c.isspace() for c in name):
        return "`" + name.replace("`", "``") + "`"
    return name


def join_path(names: Iterable[str]) -> str:
    """``("Item", "a.b", "S")`` → ``Item.`a.b`.S``."""
    return ".".join(quote_name(n) for n in names)


def split_path(path: str) -> tuple[str, ...]:
    """Glue path → segments: dots separate, backticks quote (``````` is a literal backtick).

    >>> split_path("Item.`dotted.name`.S")
    ('Item', 'dotted.name', 'S')

    Raises :class:`MappingError` for an empty segment or an unclosed backtick.
    """
    segments: list[str] = []
    current: list[str] = []
    i, n = 0, len(path)
    while i < n:
        c = path[i]
        if c == "`":
            i += 1
            while True:
                if i >= n:
                    raise MappingError(f"path {path!r}: unclosed backtick")
                if path[i] == "`":
                    if i + 1 < n and path[i + 1] == "`":
                        current.append("`")
                        i += 2
                        continue
                    i += 1
                    break
                current.append(path[i])
                i += 1
        elif c == ".":
            if not current:
                raise MappingError(f"path {path!r}: empty segment (two dots, or a dot at either end)")
            segments.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    if not current:
        raise MappingError(f"path {path!r}: empty segment (two dots, or a dot at either end)" if path else "path is empty")
    segments.append("".join(current))
    return tuple(segments)


# --------------------------------------------------------------------------- building blocks


def _field(name: str, type_: Any, reason: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": True,
            "metadata": {PASSTHROUGH_METADATA: reason} if reason else {}}


def _struct(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "struct", "fields": fields}


def attribute_fields(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attribute fields of ``Item`` (validated by :func:`normalize_schema` beforehand)."""
    return list(schema["fields"][0]["type"]["fields"])


# --------------------------------------------------------------------------- inference


class _Shape:
    """What was seen of one attribute across items: its tags, and for M the members' shapes."""

    __slots__ = ("empty_map", "members", "opaque", "tags")

    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.members: dict[str, _Shape] = {}
        self.empty_map = False
        self.opaque = False  # decided: a typed pass-through; stop looking inside

    def add(self, av: Any, path: Callable[[], tuple[str, ...]], where: str) -> None:
        """Merge one value; ``path()`` (built only on error) names it in messages."""
        if not isinstance(av, dict) or len(av) != 1:
            raise InvalidItemError(f"{where}: attribute {join_path(path())!r}: a typed value must be an object "
                                   "with exactly one type tag")
        (tag, payload), = av.items()
        if tag not in TYPE_TAGS:
            raise InvalidItemError(f"{where}: attribute {join_path(path())!r}: unknown type tag {tag!r}")
        if tag not in self.tags:
            self.tags.add(tag)
            if len(self.tags) > 1 or tag == "L":
                self.opaque = True
        if self.opaque:
            return
        if tag == "M":
            if not isinstance(payload, dict):
                raise InvalidItemError(f"{where}: attribute {join_path(path())!r}: M must be an object")
            if not payload:
                self.empty_map = self.opaque = True
                return
            members = self.members
            for name, value in payload.items():
                shape = members.get(name)
                if shape is None:
                    shape = members[name] = _Shape()
                shape.add(value, lambda name=name: (*path(), name), where)

    def field(self, name: str) -> dict[str, Any]:
        if self.opaque:
            reason = _EMPTY_MAP if self.empty_map else ", ".join(sorted(self.tags))
            return _field(name, _STRING, reason)
        (tag,) = self.tags
        if tag == "M":
            members = [self.members[k].field(k) for k in sorted(self.members)]
            return _field(name, _struct([_field("M", _struct(members))]))
        return _field(name, _struct([_field(tag, _TAG_TYPES[tag])]))


class SchemaAccumulator:
    """Streaming inference: :meth:`add` items one by one, then :meth:`schema`.

    Memory is proportional to the number of distinct attribute paths, not to the items. Items may
    be wire form or DynamoDB JSON (only the tags are looked at; payloads are not validated here —
    the job validates every line).
    """

    def __init__(self) -> None:
        self._attributes: dict[str, _Shape] = {}
        self.items = 0

    def add(self, item: Mapping[str, Any], *, where: str = "item") -> None:
        if not isinstance(item, Mapping):
            raise InvalidItemError(f"{where}: an item must be an object of attribute name → typed value")
        attributes = self._attributes
        for name, av in item.items():
            shape = attributes.get(name)
            if shape is None:
                shape = attributes[name] = _Shape()
            shape.add(av, lambda name=name: (name,), where)
        self.items += 1

    def schema(self) -> Schema:
        fields = [self._attributes[k].field(k) for k in sorted(self._attributes)]
        return _struct([_field(ITEM_FIELD, _struct(fields))])


def infer_schema(items: Iterable[Mapping[str, Any]]) -> Schema:
    """The schema of ``items`` (wire form or DynamoDB JSON): pure, streaming, deterministic.

    Fields are sorted by name (codepoint order, so ``Case`` before ``case``), whatever the order of
    the items, so that re-crawling gives an identical file. See the module docstring for the
    per-type columns and the typed pass-through rules.

    >>> infer_schema([{"pk": {"S": "a"}}])["fields"][0]["type"]["fields"][0]["type"]["fields"][0]["name"]
    'S'
    """
    accumulator = SchemaAccumulator()
    for item in items:
        accumulator.add(item)
    return accumulator.schema()


def crawl(
    export: Any,
    *,
    sample_files: int | None = None,
    on_file: Callable[[Any, int], None] | None = None,
) -> Schema:
    """Infer the schema of an opened export (:class:`~ddbmigrate.export.ExportHandle`) by reading it.

    ``sample_files=None`` reads every data file: the schema is exact. ``sample_files=N`` reads N
    non-empty files spread evenly over the manifest's list (files are hash ranges of the key
    space, so any file is a fair sample): much faster on a big export, but an attribute or a
    type that occurs in no sampled file is missing from the schema — the job then dead-letters the
    items that carry it (never loses them silently), and the cure is to crawl everything.
    ``on_file(data_file, items_in_it)`` is called after each file (progress, counting).

    Lines are parsed as plain JSON (no base64 decoding, no number checks): the crawler only looks
    at type tags; the job validates every line. A line that is not an export line raises
    :class:`InvalidItemError` naming the file and line.
    """
    files = [f for f in export.data_files if f.item_count > 0]
    if sample_files is not None:
        if sample_files < 1:
            raise MappingError(f"--sample-files must be at least 1, got {sample_files}")
        if sample_files < len(files):
            step = len(files) / sample_files
            files = [files[int(i * step)] for i in range(sample_files)]
    accumulator = SchemaAccumulator()
    for data_file in files:
        before = accumulator.items
        for number, line in export.iter_lines(data_file):
            where = f"{data_file.uri} line {number}"
            try:
                obj = json.loads(line)
            except ValueError:
                raise InvalidItemError(f"{where}: not valid JSON") from None
            if not isinstance(obj, dict) or set(obj) != {ITEM_FIELD}:
                raise InvalidItemError(f'{where}: expected {{"Item": {{…}}}}')
            accumulator.add(obj[ITEM_FIELD], where=where)
        if on_file is not None:
            on_file(data_file, accumulator.items - before)
    return accumulator.schema()


def passthrough_reasons(schema: Mapping[str, Any]) -> dict[str, str]:
    """Glue path of every typed pass-through attribute (``Item.history``) → why (``"L"``)."""
    found: dict[str, str] = {}

    def walk(fields: Sequence[Mapping[str, Any]], prefix: tuple[str, ...]) -> None:
        for f in fields:
            path = (*prefix, f["name"])
            if f["type"] == _STRING:
                found[join_path(path)] = f.get("metadata", {}).get(PASSTHROUGH_METADATA) or "declared as string"
                continue
            for tag_field in f["type"]["fields"]:
                if tag_field["name"] == "M":
                    walk(tag_field["type"]["fields"], (*path, "M"))

    walk(attribute_fields(schema), (ITEM_FIELD,))
    return found


# --------------------------------------------------------------------------- normalising and checking


def normalize_schema(schema: Any, *, where: str = "schema") -> Schema:
    """Validate a schema and bring it to the canonical form above.

    Accepts this module's own output, a Spark ``df.schema.jsonValue()`` of export lines, or a Glue
    crawler's table (see :mod:`ddbmigrate.mapping.catalog`): ``Item`` may be spelled ``item``
    (catalogs lower-case column names); leaf types are re-derived from the tags (a crawler may have
    seen N as anything); an attribute struct with several tags, an ``L`` anywhere, or an ``M``
    with no members becomes a typed pass-through. Raises :class:`MappingError` naming the path.
    """
    if not isinstance(schema, Mapping) or schema.get("type") != "struct" or not isinstance(schema.get("fields"), list):
        raise MappingError(f'{where}: expected a Spark struct schema as JSON ({{"type": "struct", "fields": […]}})')
    items = [f for f in schema["fields"] if isinstance(f, Mapping) and str(f.get("name", "")).lower() == "item"]
    if len(items) != 1 or len(schema["fields"]) != 1:
        raise MappingError(f"{where}: expected exactly one top-level field 'Item' (an export line is {{\"Item\": …}})")
    item_type = items[0].get("type")
    if not _is_struct(item_type):
        raise MappingError(f"{where}: 'Item' must be a struct of attributes")
    return _struct([_field(ITEM_FIELD, _struct(_normalize_attributes(item_type["fields"], (ITEM_FIELD,), where)))])


def _is_struct(type_: Any) -> bool:
    return isinstance(type_, Mapping) and type_.get("type") == "struct" and isinstance(type_.get("fields"), list)


def _normalize_attributes(fields: Sequence[Any], prefix: tuple[str, ...], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in fields:
        if not isinstance(f, Mapping) or not isinstance(f.get("name"), str) or not f["name"]:
            raise MappingError(f"{where}: {join_path(prefix)} has a field without a name")
        name = f["name"]
        path = (*prefix, name)
        if name in seen:
            raise MappingError(f"{where}: {join_path(path)} is declared twice")
        seen.add(name)
        out.append(_normalize_attribute(name, f.get("type"), f.get("metadata") or {}, path, where))
    return sorted(out, key=lambda f: f["name"])


def _normalize_attribute(name: str, type_: Any, metadata: Mapping[str, Any], path: tuple[str, ...],
                         where: str) -> dict[str, Any]:
    if type_ == _STRING:
        return _field(name, _STRING, metadata.get(PASSTHROUGH_METADATA) or "declared as string")
    if not _is_struct(type_) or not type_["fields"]:
        raise MappingError(
            f"{where}: {join_path(path)} must be a struct of type tags ({', '.join(sorted(TYPE_TAGS))}) "
            "or 'string' (typed pass-through)"
        )
    tags = {}
    for tag_field in type_["fields"]:
        tag = tag_field.get("name") if isinstance(tag_field, Mapping) else None
        if tag not in TYPE_TAGS:
            raise MappingError(f"{where}: {join_path(path)} has field {tag!r}, which is not a DynamoDB type tag")
        tags[tag] = tag_field.get("type")
    if len(tags) > 1 or "L" in tags:
        return _field(name, _STRING, ", ".join(sorted(tags)))
    (tag, tag_type), = tags.items()
    if tag != "M":
        return _field(name, _struct([_field(tag, _TAG_TYPES[tag])]))
    if not _is_struct(tag_type):
        raise MappingError(f"{where}: {join_path((*path, 'M'))} must be a struct of the map's members")
    if not tag_type["fields"]:
        return _field(name, _STRING, _EMPTY_MAP)
    members = _normalize_attributes(tag_type["fields"], (*path, "M"), where)
    return _field(name, _struct([_field("M", _struct(members))]))


_OPAQUE = None
_Tree: TypeAlias = dict[str, Any]  # name → None (pass-through) or {tag: member tree (M) or None}
_compiled: list[tuple[Mapping[str, Any], _Tree]] = []


def schema_tree(schema: Mapping[str, Any]) -> _Tree:
    """The schema as nested dicts for fast per-item checks: attribute name → None (a typed
    pass-through) or {tag: the map's member tree (M) or None}. The last few schemas are cached."""
    for cached_schema, tree in _compiled:
        if cached_schema is schema:
            return tree

    def build(fields: Sequence[Mapping[str, Any]]) -> _Tree:
        node: _Tree = {}
        for f in fields:
            if f["type"] == _STRING:
                node[f["name"]] = _OPAQUE
            else:
                node[f["name"]] = {t["name"]: build(t["type"]["fields"]) if t["name"] == "M" else None
                                   for t in f["type"]["fields"]}
        return node

    tree = build(attribute_fields(schema))
    _compiled.insert(0, (schema, tree))
    del _compiled[4:]
    return tree


_MISSING: Any = object()


def conformance_error(item: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """Why ``item`` would lose data when read with ``schema`` — or None if it fits.

    Pure and cheap (the ApplyMapping route calls it for every item). The reason names the attribute path and the
    tags, never values: an attribute the schema does not know, a tag the schema does not expect
    for it, or an empty M where the schema has the map's members as columns. Attributes of the
    schema missing from the item are fine (DynamoDB items are sparse).

    >>> schema = infer_schema([{"price": {"N": "1"}}])
    >>> conformance_error({"price": {"S": "x"}}, schema).split(";")[0]
    "attribute 'price' is S but the mapping's schema expects N"
    """
    return _check(item, schema_tree(schema), ())


def _check(values: Mapping[str, Any], tree: _Tree, prefix: tuple[str, ...]) -> str | None:
    for name, av in values.items():  # runs for every item: the path is only built for a message
        expected = tree.get(name, _MISSING)
        if expected is _OPAQUE:
            continue
        if expected is _MISSING:
            return f"attribute {join_path((*prefix, name))!r} is not in the mapping's schema; {_RECRAWL}"
        tag = next(iter(av)) if (av.__class__ is dict or isinstance(av, Mapping)) and len(av) == 1 else None
        if tag not in expected:
            return (f"attribute {join_path((*prefix, name))!r} is {tag or 'not a typed value'} but the mapping's "
                    f"schema expects {', '.join(sorted(expected))}; {_RECRAWL}")
        if tag == "M":
            members = av["M"]
            if not members:
                return (f"attribute {join_path((*prefix, name))!r} is an empty M but the mapping's schema expects "
                        f"its members as columns (it would arrive missing); {_RECRAWL}")
            problem = _check(members, expected["M"], (*prefix, name))
            if problem:
                return problem
    return None


# --------------------------------------------------------------------------- files


def schema_document(schema: Mapping[str, Any], *, source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The saved form: ``{"format", "source", "schema"}`` (``source`` says where it came from)."""
    return {"format": SCHEMA_FORMAT, "source": dict(source or {}), "schema": dict(schema)}


def save_schema(schema: Mapping[str, Any], path: str | Path, *, source: Mapping[str, Any] | None = None) -> None:
    """Write the schema file, creating its folder (indented JSON, stable order, unicode as is: it diffs well)."""
    text = json.dumps(schema_document(schema, source=source), indent=1, ensure_ascii=False) + "\n"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def load_schema(path: str | Path) -> Schema:
    """Read a schema file: this module's document, or a bare Spark schema JSON (``df.schema.json()``).

    Validated and normalised (:func:`normalize_schema`); :class:`MappingError` names the file.
    """
    where = str(path)
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{where}: schema file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MappingError(f"{where}: not a readable JSON file ({exc.__class__.__name__})") from None
    if isinstance(obj, dict) and "format" in obj:
        if obj["format"] != SCHEMA_FORMAT:
            raise MappingError(f"{where}: format {obj['format']!r} is not {SCHEMA_FORMAT!r}")
        obj = obj.get("schema")
    return normalize_schema(obj, where=where)
