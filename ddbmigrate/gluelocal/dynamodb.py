"""``connection_type="dynamodb"`` for the local runtime: rows become items and go through our sink.

Glue's DynamoDB writer takes a DynamicFrame and turns each record into an item by the type of
each value. Locally the record is a DataFrame row, converted the same way by
:func:`ddbmigrate.mapping.row_to_item` without a mapping (its docstring has the table). It is
lossy, as Glue is: a DataFrame has no sets, so SS/NS/BS come back as L, and NULL attributes
vanish — the reason ddbmigrate's own jobs convert with their mapping, which restores every
DynamoDB type. What cannot become a valid item (NaN, a number out of DynamoDB's range, a nesting
too deep) fails the write with the row's origin (``<frame> partition <p> row <i>``) and the
attribute path — never the value.

Writing goes through :func:`ddbmigrate.sink.write_partitions` with
:meth:`ddbmigrate.sink.SinkOptions.from_glue_options` — Glue's option names
(``dynamodb.output.tableName``, ``dynamodb.throughput.write.percent`` …) and defaults, our rate
control and retries. An item DynamoDB can never accept (key missing, over 400 KB) fails the write,
as it fails a Glue job; with a dead-letter location (the local ``GlueContext(…, dead_letter=…)``
option) it is recorded there instead and the write raises :class:`~ddbmigrate.errors.SinkError`
once everything else is written — a write that lost items never looks successful.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ddbmigrate.accounts import Account
from ddbmigrate.errors import SinkError
from ddbmigrate.mapping.convert import row_to_item
from ddbmigrate.values import Item

if TYPE_CHECKING:  # the sink is imported when a write happens
    from ddbmigrate.sink.stats import SinkStats

__all__ = ["default_account", "rows_to_items", "write_frame"]

log = logging.getLogger("ddbmigrate.gluelocal")


def rows_to_items(name: str) -> Any:
    """A ``mapPartitionsWithIndex`` function: rows → ``(origin, item)`` pairs for the sink."""

    def convert(partition: int, rows: Iterable[Any]) -> Iterator[tuple[str, Item]]:
        for index, row in enumerate(rows):
            origin = f"{name} partition {partition} row {index}"
            yield origin, row_to_item(row, None, where=origin)

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

    ``target`` is the account to write with (default: :func:`default_account`), or the profile
    the options name locally (:mod:`.endpoints`); the options' role, region and explicit
    credentials apply on top of it. Without ``dead_letter`` an item
    DynamoDB can never accept fails the write at once (Glue's behaviour); with it, such items are
    recorded there and the write raises :class:`SinkError` after everything else is written.
    """
    from ddbmigrate.gluelocal.endpoints import resolve_account
    from ddbmigrate.sink import SinkOptions, write_partitions
    from ddbmigrate.sink.options import GLUE_SINK_OPTIONS

    given = {GLUE_SINK_OPTIONS.get(str(k).lower(), k): str(v) for k, v in connection_options.items()}
    table = given.get("dynamodb.output.tableName", "")
    base = resolve_account(target or default_account(), role_arn=given.get("dynamodb.sts.roleArn"),
                           table_arn=table if table.startswith("arn:") else None,
                           region=given.get("dynamodb.region") or given.get("dynamodb.sts.region"))
    options = SinkOptions.from_glue_options(dict(connection_options), target=base, dead_letter=dead_letter)
    label = name or "frame"
    stats = write_partitions(df.rdd.mapPartitionsWithIndex(rows_to_items(label)), options)
    log.info("DynamoDB write of %s to %s: %s", label, options.table, stats.summary())
    if stats.dead_lettered:
        raise SinkError(
            f"{stats.dead_lettered} item(s) of {label} could not be written to {options.table} and were "
            f"dead-lettered to {options.dead_letter}; written {stats.written} of {stats.received}"
        )
    return stats
