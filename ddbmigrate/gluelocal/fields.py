"""Field paths on DataFrames: select, drop, rename and cast nested fields the way Glue names them.

A Glue field path is dot-separated, with backticks around a name that itself contains dots:
``address.geo.lat``, ```` `a.b`.c ```` (parsed by :func:`ddbmigrate.schema.split_path`, as the
mapping rules are). These helpers implement ``select_fields``,
``drop_fields``, ``rename_field`` and ``resolveChoice``'s ``cast:`` on a plain DataFrame, reaching
into structs (not into arrays, like Glue's own paths). Paths that do not exist are ignored, as
Glue ignores them. Column order may differ from Glue's: a renamed nested field moves to the end
of its struct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddbmigrate.errors import ConfigError
from ddbmigrate.schema import split_path

__all__ = ["cast_field", "drop_fields", "rename_field", "select_fields"]


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _nested_spec(parts: Sequence[str]) -> str:
    """The ``a.b`` string Spark's ``withField``/``dropFields`` parse, each part quoted."""
    return ".".join(_quote(p) for p in parts)


def _column(parts: Sequence[str]) -> Any:
    from pyspark.sql import functions as F

    column = F.col(_quote(parts[0]))
    for part in parts[1:]:
        column = column.getField(part)
    return column


def _type_at(schema: Any, parts: Sequence[str]) -> Any | None:
    """The Spark type at ``parts`` inside ``schema`` (a StructType), or None when it is not there."""
    from pyspark.sql.types import StructType

    current = schema
    for part in parts:
        if not isinstance(current, StructType) or part not in current.fieldNames():
            return None
        current = current[part].dataType
    return current


def drop_fields(df: Any, paths: Sequence[str]) -> Any:
    """Drop each path (top-level columns or fields of nested structs)."""
    for path in paths:
        parts = split_path(path)
        if _type_at(df.schema, parts) is None:
            continue
        if len(parts) == 1:
            df = df.drop(parts[0])
        else:
            df = df.withColumn(parts[0], _column(parts[:1]).dropFields(_nested_spec(parts[1:])))
    return df


def select_fields(df: Any, paths: Sequence[str]) -> Any:
    """Keep only ``paths`` (and the structs that lead to them), in the frame's column order."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = split_path(path)
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = None  # the whole field
            elif node.get(part, {}) is None:
                break  # an ancestor is already selected whole
            else:
                node = node.setdefault(part, {})

    def build(column: Any, data_type: Any, wanted: dict[str, Any] | None) -> Any | None:
        """The column restricted to ``wanted`` (None: all of it); None when nothing wanted exists."""
        if wanted is None:
            return column
        if not isinstance(data_type, StructType):
            return None
        children = []
        for name in data_type.fieldNames():
            if name in wanted:
                child = build(column.getField(name), data_type[name].dataType, wanted[name])
                if child is not None:
                    children.append(child.alias(name))
        if not children:
            return None
        return F.when(column.isNull(), F.lit(None)).otherwise(F.struct(*children))

    selected = []
    for field in df.schema.fields:
        if field.name in tree:
            column = build(_column([field.name]), field.dataType, tree[field.name])
            if column is not None:
                selected.append(column.alias(field.name))
    return df.select(*selected)


def rename_field(df: Any, old_name: str, new_name: str) -> Any:
    """Move the value at ``old_name`` to ``new_name`` (full paths; either may be nested)."""
    old, new = split_path(old_name), split_path(new_name)
    if _type_at(df.schema, old) is None:
        return df
    if len(old) == 1 and len(new) == 1:
        return df.withColumnRenamed(old[0], new[0])
    value = _column(old)
    if len(new) == 1:
        df = df.withColumn(new[0], value)
    else:
        if _type_at(df.schema, new[:1]) is None:
            raise ConfigError(f"rename_field: cannot create {new_name!r}; its top-level struct {new[0]!r} does not exist")
        df = df.withColumn(new[0], _column(new[:1]).withField(_nested_spec(new[1:]), value))
    return drop_fields(df, [old_name])


def cast_field(df: Any, path: str, type_name: str) -> Any:
    """``resolveChoice`` ``cast:<type>``: cast the field at ``path`` to a Spark SQL type name."""
    parts = split_path(path)
    if _type_at(df.schema, parts) is None:
        return df
    value = _column(parts).cast(type_name)
    if len(parts) == 1:
        return df.withColumn(parts[0], value)
    return df.withColumn(parts[0], _column(parts[:1]).withField(_nested_spec(parts[1:]), value))
