"""``connection_type="dynamodb"`` for the local runtime: rows become items and go through our sink.

Glue's DynamoDB writer takes a DynamicFrame and turns each record into an item by the type of
each value. Locally the record is a DataFrame row, converted the same way:

==============================  =========================  ==========================================
Spark value                     DynamoDB                   note
==============================  =========================  ==========================================
string                          S                          empty strings are kept (DynamoDB allows them)
byte/short/int/long             N
decimal                         N                          exact digits
float/double                    N                          shortest text that reads back as the same
                                                           double; NaN and ±Infinity cannot be stored
boolean                         BOOL
binary                          B
date / timestamp                S                          ISO 8601 text (``2024-01-31``, ``…T12:00:00``)
array                           L                          a null element becomes ``{"NULL": true}``
struct / map                    M                          map keys as text
null (column or struct field)   attribute omitted
==============================  =========================  ==========================================

It is lossy: a DataFrame has no sets, so SS/NS/BS come back as L, and NULL attributes vanish.
That is Glue's behaviour too, and the reason ddbmigrate's own jobs write through the mapping's
converter (:func:`ddbmigrate.mapping.row_to_item`), which restores every DynamoDB type. What
cannot become a valid item (NaN, a number out of DynamoDB's range, a nesting too deep) fails the
write with the row's origin (``<frame> partition <p> row <i>``) and the attribute path — never
the value.

Writing goes through :func:`ddbmigrate.sink.write_partitions` with
:meth:`ddbmigrate.sink.SinkOptions.from_glue_options` — Glue's option names
(``dynamodb.output.tableName``, ``dynamodb.throughput.write.percent`` …) and defaults, our rate
control and retries. An item DynamoDB can never accept (key missing, over 400 KB) fails the write,
as it fails a Glue job; with a dead-letter location (the local ``GlueContext(…, dead_letter=…)``
option) it is recorded there instead and the write raises :class:`~ddbmigrate.errors.SinkError`
once everything else is written — a write that lost items never looks successful.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ddbmigrate.accounts import Account
from ddbmigrate.errors import InvalidItemError, SinkError
from ddbmigrate.values import Item, serialize_item

if TYPE_CHECKING:  # the sink is imported when a write happens
    from ddbmigrate.sink.stats import SinkStats

__all__ = ["default_account", "row_to_item", "rows_to_items", "write_frame"]

log = logging.getLogger("ddbmigrate.gluelocal")


def _python_value(value: Any, where: str) -> Any:
    """A Spark Python value as the Python form :func:`ddbmigrate.values.serialize_item` takes."""
    from pyspark.sql import Row

    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InvalidItemError(f"{where}: NaN and Infinity cannot be stored as a DynamoDB number")
        return Decimal(repr(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Row):
        return _struct(value.asDict(recursive=False), where)
    if isinstance(value, Mapping):
        return _struct({str(k): v for k, v in value.items()}, where)
    if isinstance(value, (list, tuple)):
        return [_python_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise InvalidItemError(f"{where}: a Spark value of type {type(value).__name__} has no DynamoDB equivalent")


def _struct(fields: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {name: _python_value(v, f"{where}.{name}") for name, v in fields.items() if v is not None}


def row_to_item(row: Any, *, where: str = "row") -> Item:
    """One DataFrame row (``Row`` or dict) as a wire-form item, by the table in the module docstring.

    Raises :class:`InvalidItemError` naming ``where`` and the attribute path (never the value).
    """
    from pyspark.sql import Row

    fields = row.asDict(recursive=False) if isinstance(row, Row) else dict(row)
    try:
        item = {name: _python_value(v, f"attribute {name!r}") for name, v in fields.items() if v is not None}
        return serialize_item(item)
    except InvalidItemError as exc:
        raise InvalidItemError(f"{where}: {exc}") from None


def rows_to_items(name: str) -> Any:
    """A ``mapPartitionsWithIndex`` function: rows → ``(origin, item)`` pairs for the sink."""

    def convert(partition: int, rows: Iterable[Any]) -> Iterator[tuple[str, Item]]:
        for index, row in enumerate(rows):
            origin = f"{name} partition {partition} row {index}"
            yield origin, row_to_item(row, where=origin)

    return convert


def default_account() -> Account:
    """The target account of a local run: the driver's default credential chain, made explicit.

    Spark's Python workers keep the environment the driver had when Spark started, so
    ``AWS_PROFILE``/``AWS_REGION`` set later would not reach them; naming the profile and region
    here makes every executor use what the driver uses now.
    """
    profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return Account(profile=profile, region=region, label="target")


def write_frame(
    df: Any,
    connection_options: Mapping[str, Any],
    *,
    name: str,
    target: Account | None = None,
    dead_letter: str | None = None,
) -> SinkStats:
    """Write ``df`` to the table the Glue options name through the sink; return its stats.

    ``target`` is the account to write with (default: :func:`default_account`); the options'
    ``dynamodb.sts.roleArn``/``dynamodb.region`` apply on top of it. Without ``dead_letter`` an item
    DynamoDB can never accept fails the write at once (Glue's behaviour); with it, such items are
    recorded there and the write raises :class:`SinkError` after everything else is written.
    """
    from ddbmigrate.sink import SinkOptions, write_partitions

    options = SinkOptions.from_glue_options(dict(connection_options), target=target or default_account(),
                                            dead_letter=dead_letter)
    label = name or "frame"
    stats = write_partitions(df.rdd.mapPartitionsWithIndex(rows_to_items(label)), options)
    log.info("DynamoDB write of %s to %s: %s", label, options.table, stats.summary())
    if stats.dead_lettered:
        raise SinkError(
            f"{stats.dead_lettered} item(s) of {label} could not be written to {options.table} and were "
            f"dead-lettered to {options.dead_letter}; written {stats.written} of {stats.received}"
        )
    return stats
