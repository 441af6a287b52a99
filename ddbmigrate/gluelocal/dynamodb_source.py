"""Reading ``connection_type="dynamodb"`` locally: Glue's scan connector over our segmented Scan reader.

Glue's options, as documented for the DynamoDB ETL reader:

=====================================  =========================================================
``dynamodb.input.tableName``           required; a name or a table ARN
``dynamodb.throughput.read.percent``   0.5 (0.1–1.5) of the table's RCU (on-demand: 40,000), split
                                       evenly over the segments that run at once
``dynamodb.splits``                    Scan segments = Spark partitions (default: the task slots)
``dynamodb.region``                    the table's region (else the ARN's, else the account's)
``dynamodb.sts.roleArn``               role to assume for the read
``dynamodb.sts.roleSessionName``       ``glue-dynamodb-read-sts-session``
=====================================  =========================================================

Each partition scans its segment with :func:`ddbmigrate.source.scan_segment` (retries, paced by
:mod:`ddbmigrate.ratelimit`) with the account the options name (:func:`.endpoints.resolve_account`).

Rows are typed as Glue's reader types them — a DataFrame has no DynamoDB types, so this is lossy
(docs/gluelocal.md, "Reading DynamoDB"): S string, N ``long`` when every value of the field is a
whole number within long's range and ``double`` otherwise, B binary, BOOL boolean, NULL null (the
attribute reads as absent), SS/NS/BS arrays (the set becomes a list), M struct, L array; a field
whose values have different types across items becomes ``string`` holding each value's DynamoDB JSON.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_READ_PERCENT, job_budget, spark_task_slots, validate_percent
from ddbmigrate.errors import ConfigError
from ddbmigrate.sink.options import split_table_arn
from ddbmigrate.values import Item, item_to_json

__all__ = ["GLUE_READ_SESSION_NAME", "GLUE_SCAN_OPTIONS", "ScanSourceOptions", "glue_spelled", "items_to_dataframe", "read_table"]

GLUE_READ_SESSION_NAME = "glue-dynamodb-read-sts-session"
GLUE_SCAN_OPTIONS: Mapping[str, str] = {
    name.lower(): name
    for name in ("dynamodb.input.tableName", "dynamodb.throughput.read.percent", "dynamodb.splits", "dynamodb.region",
                 "dynamodb.sts.roleArn", "dynamodb.sts.roleSessionName")
}
"""Lower-cased name → Glue's spelling (names are matched case-insensitively, as for the sink)."""
_LONG = (-(2**63), 2**63 - 1)


def glue_spelled(options: Mapping[str, Any], known: Mapping[str, str], *, connector: str,
                 also: str = "") -> dict[str, str]:
    """The options under Glue's spelling of their names (matched case-insensitively), values as
    stripped text; an unknown name is refused with the names ``connector`` has."""
    given: dict[str, str] = {}
    for name, value in options.items():
        canonical = known.get(str(name).lower())
        if canonical is None:
            raise ConfigError(f"unknown DynamoDB {connector} option {name!r}; Glue's {connector} has "
                              f"{', '.join(known.values())}{also}")
        given[canonical] = str(value).strip()
    return given


@dataclass(frozen=True)
class ScanSourceOptions:
    """Glue's scan-connector options, checked (module docstring)."""

    table: str
    read_percent: float = DEFAULT_READ_PERCENT
    splits: int | None = None
    region: str | None = None
    role_arn: str | None = None
    session_name: str = GLUE_READ_SESSION_NAME

    @classmethod
    def from_glue_options(cls, options: Mapping[str, Any]) -> ScanSourceOptions:
        given = glue_spelled(options, GLUE_SCAN_OPTIONS, connector="scan connector",
                             also=" (and dynamodb.export for the export connector)")
        table = given.get("dynamodb.input.tableName")
        if not table:
            raise ConfigError("dynamodb.input.tableName is required: the name or ARN of the table to read")
        split_table_arn(table)
        splits = given.get("dynamodb.splits")
        if splits is not None and (not splits.isdigit() or not 1 <= int(splits) <= 1_000_000):
            raise ConfigError(f"dynamodb.splits: expected a whole number from 1 to 1,000,000, got {splits!r}")
        percent = given.get("dynamodb.throughput.read.percent")
        return cls(
            table=table,
            read_percent=validate_percent(percent, option="dynamodb.throughput.read.percent") if percent else DEFAULT_READ_PERCENT,
            splits=int(splits) if splits else None,
            region=given.get("dynamodb.region") or split_table_arn(table)[1],
            role_arn=given.get("dynamodb.sts.roleArn") or None,
            session_name=given.get("dynamodb.sts.roleSessionName") or GLUE_READ_SESSION_NAME,
        )


# --------------------------------------------------------------------------- typing rows as Glue does

def _kind(av: Mapping[str, Any]) -> Any:
    """A value's Spark type in a small algebra: atoms, ("array", t), ("struct", {name: t})."""
    (tag, payload), = av.items()
    if tag == "S":
        return "string"
    if tag == "N":
        return "long" if _whole(payload) else "double"
    if tag == "B":
        return "binary"
    if tag == "BOOL":
        return "boolean"
    if tag == "NULL":
        return None
    if tag in ("SS", "BS"):
        return ("array", "string" if tag == "SS" else "binary")
    if tag == "NS":
        return ("array", "long" if all(_whole(n) for n in payload) else "double")
    if tag == "M":
        return ("struct", {k: _kind(v) for k, v in payload.items()})
    element: Any = None
    for v in payload:
        element = _merge(element, _kind(v))
    return ("array", element or "string")


def _whole(text: str) -> bool:
    number = Decimal(text)
    return number == number.to_integral_value() and _LONG[0] <= number <= _LONG[1]


def _merge(a: Any, b: Any) -> Any:
    if a is None or a == b:
        return b
    if b is None:
        return a
    if isinstance(a, str) and isinstance(b, str) and {a, b} == {"long", "double"}:
        return "double"
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "array":
            return ("array", _merge(a[1], b[1]))
        fields = dict(a[1])
        for name, t in b[1].items():
            fields[name] = _merge(fields.get(name), t)
        return ("struct", fields)
    return "json"  # a conflict: the DynamoDB JSON text, in a string column


def _spark_json(kind: Any) -> Any:
    if kind is None or kind == "json":
        return "string"
    if isinstance(kind, str):
        return kind
    if kind[0] == "array":
        return {"type": "array", "elementType": _spark_json(kind[1]), "containsNull": True}
    return {"type": "struct", "fields": [{"name": n, "type": _spark_json(t), "nullable": True, "metadata": {}}
                                         for n, t in sorted(kind[1].items())]}


def _value(av: Mapping[str, Any] | None, kind: Any) -> Any:
    if av is None:
        return None
    if kind == "json":
        return json.dumps(item_to_json({"v": av})["v"], separators=(",", ":"), ensure_ascii=False)
    (tag, payload), = av.items()
    if tag == "NULL":
        return None
    if isinstance(kind, tuple) and kind[0] == "struct":
        return tuple(_value(payload.get(n), t) for n, t in sorted(kind[1].items()))
    if isinstance(kind, tuple):
        element = kind[1]
        if tag in ("SS", "NS", "BS"):
            return [_value({tag[0]: v}, element) for v in payload]
        return [_value(v, element) for v in payload]
    if tag == "N":
        return int(Decimal(payload)) if kind == "long" else float(payload)
    if tag == "B":
        return bytes(payload) if isinstance(payload, (bytes, bytearray)) else base64.b64decode(payload)
    return payload


def items_to_dataframe(spark: Any, items: Any) -> Any:
    """An RDD of wire items as a DataFrame typed as Glue types DynamoDB values (module docstring)."""
    from pyspark.sql.types import StructType

    items = items.cache()
    kind = items.map(lambda item: ("struct", {k: _kind(v) for k, v in item.items()})).fold(None, _merge) or ("struct", {})
    schema = StructType.fromJson(_spark_json(kind))
    fields = sorted(kind[1].items())
    rows = items.map(lambda item: tuple(_value(item.get(n), t) for n, t in fields))
    return spark.createDataFrame(rows, schema, verifySchema=False)


def read_table(spark: Any, options: ScanSourceOptions, account: Account) -> tuple[Any, str]:
    """Scan the table in ``options.splits`` segments at its read budget; (typed DataFrame, table name)."""
    from ddbmigrate.dynamodb import describe_table
    from ddbmigrate.source import scan_segment

    name = split_table_arn(options.table)[0]
    table = describe_table(account, options.table, option="dynamodb.input.tableName")
    slots = spark_task_slots(spark.sparkContext)
    splits = options.splits or slots
    rate = job_budget(table.read_capacity, options.read_percent) / min(splits, slots)
    request_table = options.table

    def scan(segment: int, _: Iterator[Any]) -> Iterator[Item]:
        yield from scan_segment(account, request_table, segment, splits, read_units_per_second=rate)

    rdd = spark.sparkContext.parallelize(range(splits), splits).mapPartitionsWithIndex(scan)
    df = items_to_dataframe(spark, rdd)
    df.count()  # the scan happens here, once (the items are cached), so its errors surface at the read
    return df, name
