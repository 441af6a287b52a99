"""The sink: a rate-limited, retrying, never-dropping writer for the target table.

* :mod:`~ddbmigrate.sink.options` — :class:`SinkOptions` (also from Glue's connection options);
* :mod:`~ddbmigrate.sink.writer` — :class:`TableWriter`, one task's BatchWriteItem loop;
* :mod:`~ddbmigrate.sink.stats` — :class:`SinkStats`, counters that reconcile;
* :mod:`~ddbmigrate.sink.spark` — :func:`write_partitions`, a writer per Spark partition.

Which errors are retried, the backoff and the table's description are :mod:`ddbmigrate.dynamodb`'s.

The Spark part is imported on first use, so the writer works without pyspark installed.
See ``docs/sink.md`` for the rate formula, retries, dead letters and replay.
"""

from __future__ import annotations

from typing import Any

from ddbmigrate.dynamodb import RetryPolicy, describe_table
from ddbmigrate.sink.options import GLUE_SINK_OPTIONS, MAX_BATCH_BYTES, MAX_BATCH_ITEMS, SinkOptions
from ddbmigrate.sink.stats import SinkStats
from ddbmigrate.sink.writer import Rejected, TableWriter, writer_client

__all__ = [
    "GLUE_SINK_OPTIONS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ITEMS",
    "Rejected",
    "SinkOptions",
    "SinkStats",
    "TableWriter",
    "open_writer",
    "write_partitions",
    "writer_client",
]


def write_partitions(rows: Any, options: SinkOptions, **kwargs: Any) -> SinkStats:
    """See :func:`ddbmigrate.sink.spark.write_partitions` (imported lazily: it needs pyspark)."""
    from ddbmigrate.sink.spark import write_partitions as _write

    return _write(rows, options, **kwargs)


def open_writer(options: SinkOptions, *, tasks: int = 1, name: str = "writer", client: Any = None,
                bucket: Any = None) -> TableWriter:
    """A :class:`TableWriter` for ``options`` outside Spark (replay, Lambda, scripts).

    Describes the table, budgets ``floor(capacity × percent) / tasks`` WCU per second, and opens
    the dead-letter file ``<name>.jsonl`` when ``options.dead_letter`` is set. ``bucket`` (a
    :class:`~ddbmigrate.ratelimit.TokenBucket`) is shared instead by writers of one budget (the poller's shards).
    """
    from ddbmigrate.capacity import task_budget

    client = client or writer_client(options.target)
    info = describe_table(options.target, options.table, option="--target-table", client=client).with_capacity(
        write=options.capacity_override)
    dead_letters = None
    if options.dead_letter:
        dead_letters = options.dead_letter_writer(name)  # the job's own account, never the target's role
    return TableWriter(
        client,
        info,
        rate=task_budget(info.write_capacity, options.write_percent, tasks),
        bucket=bucket,
        dead_letters=dead_letters,
        policy=RetryPolicy(options.max_retries, options.base_backoff, options.max_backoff),
        max_batch_items=options.max_batch_items,
        max_batch_bytes=options.max_batch_bytes,
    )
