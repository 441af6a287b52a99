"""ApplyMapping for plain Spark DataFrames, with Glue's semantics (the local Glue runtime uses it).

Glue's JVM side is not public, so this follows its documented behaviour and Python API: project,
cast, nest by dotted target, drop unlisted fields; ``case_sensitive`` defaults to True because
DynamoDB names are. It is stricter than Glue on purpose — a missing source path or colliding
targets are errors, not silent drops — and ``check_casts=True`` marks rows whose cast turned a
value into null, so the writer dead-letters them. See docs/mapping.md, "3. ApplyMapping semantics".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ddbmigrate.errors import MappingError
from ddbmigrate.mapping.convert import CAST_FAILURES_COLUMN
from ddbmigrate.mapping.file import MappingFile
from ddbmigrate.mapping.rules import Rule, check_targets, parse_rule
from ddbmigrate.mapping.types import GlueType
from ddbmigrate.schema import join_path

__all__ = ["apply_mapping", "case_sensitive_names", "read_items", "spark_schema", "spark_type"]

_ATOMIC: dict[str, T.DataType] = {
    "string": T.StringType(), "long": T.LongType(), "int": T.IntegerType(), "short": T.ShortType(),
    "byte": T.ByteType(), "double": T.DoubleType(), "float": T.FloatType(), "boolean": T.BooleanType(),
    "binary": T.BinaryType(), "timestamp": T.TimestampType(), "date": T.DateType(), "null": T.NullType(),
}


def spark_type(glue: GlueType) -> T.DataType | None:
    """The Spark type of an atomic Glue type; None for ``array``/``struct``/``map`` (kept as is)."""
    if glue.name == "decimal":
        return T.DecimalType(glue.precision or 10, glue.scale or 0)
    return _ATOMIC.get(glue.name)


def spark_schema(schema: Mapping[str, Any]) -> T.StructType:
    """The saved schema (Spark JSON form) as a ``StructType``."""
    return T.StructType.fromJson(dict(schema))


def read_items(spark: SparkSession, lines: Any, schema: Mapping[str, Any]) -> DataFrame:
    """Parse export lines (an RDD or list of JSON strings) with the explicit schema: no inference."""
    rdd = lines if hasattr(lines, "mapPartitions") else spark.sparkContext.parallelize(list(lines))
    return spark.read.schema(spark_schema(schema)).json(rdd)



@contextmanager
def case_sensitive_names(spark: SparkSession) -> Iterator[None]:
    """``spark.sql.caseSensitive=true`` for the block, then the session's own setting again.

    DynamoDB attribute names are case-sensitive (``Case`` and ``case`` are two attributes), Spark's
    analyzer is not by default — and neither is Glue's session — so the same frame would be
    ambiguous there. The pipelines set it themselves rather than rely on the caller's session.
    """
    key = "spark.sql.caseSensitive"
    before = spark.conf.get(key, "false")
    spark.conf.set(key, "true")
    try:
        yield
    finally:
        spark.conf.set(key, before)


@dataclass
class _Node:
    children: dict[str, _Node | _Leaf] = field(default_factory=dict)


@dataclass
class _Leaf:
    column: Column
    failure: Column | None


def apply_mapping(
    df: DataFrame,
    mappings: MappingFile | Iterable[Sequence[str]],
    *,
    case_sensitive: bool = True,
    check_casts: bool = False,
) -> DataFrame:
    """Apply 4-tuple rules to ``df`` (see the module docstring for the semantics).

    >>> apply_mapping(df, [("Item.ID.S", "string", "ID", "string"),                 # doctest: +SKIP
    ...                    ("Item.location.M.lat.N", "string", "location.lat", "string")])
    DataFrame[ID: string, location: struct<lat: string>]
    """
    raw = mappings.mappings if isinstance(mappings, MappingFile) else list(mappings)
    rules = [parse_rule(r, i, where="apply_mapping") for i, r in enumerate(raw)]
    if not rules:
        raise MappingError("apply_mapping: no rules; at least one field must be mapped")
    check_targets(rules, where="apply_mapping")
    root = _Node()
    for rule in rules:
        source_column, source_type = _resolve(df.schema, rule, case_sensitive)
        column, failure = _cast(source_column, source_type, rule)
        node = root
        for name in rule.target[:-1]:
            child = node.children.setdefault(name, _Node())
            if not isinstance(child, _Node):  # unreachable: check_targets refused a value that is also a struct
                raise MappingError(f"apply_mapping: target {join_path(rule.target)!r} nests under a value")
            node = child
        node.children[rule.target[-1]] = _Leaf(column, failure)
    columns = [_build(name, child) for name, child in root.children.items()]
    if check_casts:
        failures = [leaf.failure for leaf in _leaves(root) if leaf.failure is not None]
        marks = F.array(*failures) if failures else F.array().cast(T.ArrayType(T.StringType()))
        columns.append(F.filter(marks, lambda x: x.isNotNull()).alias(CAST_FAILURES_COLUMN))
    return df.select(*columns)


def _resolve(schema: T.StructType, rule: Rule, case_sensitive: bool) -> tuple[Column, T.DataType]:
    column: Column | None = None
    current: T.DataType = schema
    for depth, name in enumerate(rule.source):
        if not isinstance(current, T.StructType):
            raise MappingError(f"apply_mapping: mappings[{rule.index}] source {join_path(rule.source)!r}: "
                               f"{join_path(rule.source[:depth])!r} is a {current.simpleString()}, not a struct")
        found = _field(current, name, case_sensitive)
        if found is None:
            here = join_path(rule.source[:depth]) if depth else "the DataFrame"
            raise MappingError(f"apply_mapping: mappings[{rule.index}] source {join_path(rule.source)!r}: "
                               f"no field {name!r} in {here}")
        column = F.col("`" + found.name.replace("`", "``") + "`") if column is None else column.getField(found.name)
        current = found.dataType
    if column is None:  # unreachable: split_path never returns an empty path
        raise MappingError(f"apply_mapping: mappings[{rule.index}] has an empty source path")
    return column, current


def _field(struct: T.StructType, name: str, case_sensitive: bool) -> T.StructField | None:
    for f in struct.fields:
        if f.name == name:
            return f
    if case_sensitive:
        return None
    matches = [f for f in struct.fields if f.name.lower() == name.lower()]
    if len(matches) > 1:
        raise MappingError(f"apply_mapping: {name!r} matches {', '.join(repr(f.name) for f in matches)} when case "
                           "is ignored; pass case_sensitive=True")
    return matches[0] if matches else None


def _cast(column: Column, source: T.DataType, rule: Rule) -> tuple[Column, Column | None]:
    target = rule.target_type
    at = f"apply_mapping: mappings[{rule.index}] {join_path(rule.source)!r} → {target}"
    if target.name == "array":
        if not isinstance(source, T.ArrayType):
            raise MappingError(f"{at}: the source is {source.simpleString()}, not an array")
        return column, None
    if target.name == "struct":
        if not isinstance(source, T.StructType):
            raise MappingError(f"{at}: the source is {source.simpleString()}, not a struct")
        return column, None
    if target.name == "map":
        return _as_map(column, source, at), None
    spark = spark_type(target)
    if spark is None or source == spark:
        return column, None
    if isinstance(source, (T.StructType, T.ArrayType, T.MapType)) and not isinstance(spark, T.StringType):
        raise MappingError(f"{at}: a {source.simpleString()} cannot be cast to {target}")
    casted = column.cast(spark)
    failure = F.when(column.isNotNull() & casted.isNull(), F.lit(join_path(rule.target)))
    return casted, failure


def _as_map(column: Column, source: T.DataType, at: str) -> Column:
    if isinstance(source, T.MapType):
        return column
    if not isinstance(source, T.StructType) or not source.fields:
        raise MappingError(f"{at}: the source is {source.simpleString()}, not a struct or map")
    types = {f.dataType for f in source.fields}
    if len(types) != 1:
        raise MappingError(f"{at}: the struct's fields have different types; map it as 'struct' instead")
    pairs: list[Column] = []
    for f in source.fields:
        pairs += [F.lit(f.name), column.getField(f.name)]
    return F.when(column.isNull(), F.lit(None)).otherwise(F.create_map(*pairs))


def _leaves(node: _Node) -> list[_Leaf]:
    found: list[_Leaf] = []
    for child in node.children.values():
        found += _leaves(child) if isinstance(child, _Node) else [child]
    return found


def _build(name: str, node: _Node | _Leaf) -> Column:
    """The output column of one top-level target.

    A struct is null when every value under it is null. Testing that at each level repeats each
    leaf's extraction path in every enclosing condition, which past a dozen levels produces
    generated code Spark cannot compile (it falls back to interpreting after a long attempt). So
    the leaves are computed once, packed in a struct, and bound to a lambda variable
    (``transform`` over a one-element array — Spark 3.5 has no ``let``); the nested structs and
    their null tests then read the bound leaves, which is cheap at any depth.
    """
    if isinstance(node, _Leaf):
        return node.column.alias(name)
    leaves = _leaves(node)
    slot = {id(leaf): str(i) for i, leaf in enumerate(leaves)}
    packed = F.struct(*[leaf.column.alias(slot[id(leaf)]) for leaf in leaves])

    def nest(bound: Column, current: _Node) -> Column:
        fields = [bound.getField(slot[id(child)]).alias(child_name) if isinstance(child, _Leaf)
                  else nest(bound, child).alias(child_name)
                  for child_name, child in current.children.items()]
        tests = [bound.getField(slot[id(leaf)]).isNull() for leaf in _leaves(current)]
        all_null = reduce(lambda a, b: a & b, tests)
        return F.when(all_null, F.lit(None)).otherwise(F.struct(*fields))

    return F.transform(F.array(packed), lambda bound: nest(bound, node))[0].alias(name)
