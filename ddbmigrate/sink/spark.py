"""``write_partitions``: one :class:`TableWriter` per Spark partition, counters through an accumulator.

The driver describes the target once, settles the parallel tasks (``numParallelTasks``, else
min(partitions, slots)) and fits the input to them — ``coalesce``, or a partitioning by key hash
so every write of one key stays in one task, in order. Each task writes at
``floor(capacity × percent) / tasks`` WCU/s. Counters go through an accumulator updated inside an
action, so a retried task attempt is counted once; a task that gives up raises
:class:`SinkError`, re-raised on the driver as the same exception (writes are idempotent, so
Spark may retry it). See docs/sink.md, "Rate control" and "Counters".
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

from ddbmigrate import errors
from ddbmigrate.accumulators import MergeParam
from ddbmigrate.capacity import default_parallel_tasks, spark_task_slots, task_budget
from ddbmigrate.dynamodb import RetryPolicy, TableDescription, describe_table
from ddbmigrate.errors import DdbMigrateError, SinkError
from ddbmigrate.progress import Channel, Totals, active_channel, reporting
from ddbmigrate.ratelimit import TokenBucket
from ddbmigrate.sink.collector import collector_for_streaming
from ddbmigrate.sink.options import SinkOptions
from ddbmigrate.sink.pool import WriterPool, key_hash
from ddbmigrate.sink.stats import SinkStats
from ddbmigrate.sink.writer import Prepared, Rejected, TableWriter, writer_client

__all__ = ["Checkpoint", "TaskPlan", "write_partitions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    """In place of an item: a point in a partition's rows (a data file's end, a Scan page's end).

    The task syncs its writers (everything before it written, its dead letters durable), then
    calls the plan's ``on_checkpoint(mark, counts since the previous checkpoint)`` — so progress is
    recorded only for what is safely in the target. Plain data: it may be pickled with the rows.
    """

    mark: Any


@dataclass(frozen=True)
class TaskPlan:
    """What every task needs, computed once on the driver (picklable)."""

    options: SinkOptions
    table: TableDescription
    rate: float
    run_id: str
    on_checkpoint: Callable[[Any, SinkStats], None] | None = None
    progress: Channel | None = None
    """Where the task posts its running totals while it writes (:mod:`ddbmigrate.progress`)."""

    def write(self, rows: Iterable[Any], *, partition: int = 0, attempt: int = 0) -> SinkStats:
        """Write one partition's ``(origin, item)`` rows; return the writers' counters."""
        options = self.options
        count = options.requests_in_flight
        # one client for the task's writers (botocore's clients are thread-safe; creating one costs
        # CPU even with the process's shared service models), with a connection for each writer
        client = writer_client(options.target, max_pool_connections=max(4, count))

        def make_writer(index: int, bucket: TokenBucket | None) -> TableWriter:
            dead_letters = None
            if options.dead_letter:  # stored with the job's own account, never the target's role
                name = f"{self.run_id}-part-{partition:05d}-attempt-{attempt}" + (f"-writer-{index}" if count > 1 else "")
                dead_letters = options.dead_letter_writer(name)
            return TableWriter(
                client,
                self.table,
                bucket=bucket,
                dead_letters=dead_letters,
                policy=RetryPolicy(options.max_retries, options.base_backoff, options.max_backoff),
                max_batch_items=options.max_batch_items,
                max_batch_bytes=options.max_batch_bytes,
            )

        since = SinkStats()
        cpu = time.process_time()  # this task's process (a Spark Python worker runs one task at a time), every thread
        with reporting(self.progress, f"write-{partition:05d}", attempt=attempt) as reporter, collector_for_streaming(), \
                WriterPool(make_writer, count, key_schema=self.table.key_schema, rate=self.rate) as pool:
            if reporter is not None:  # read on the reporter's own thread every few seconds: nothing per item
                reporter.follow(lambda: _live_totals(pool.stats))
            for number, row in enumerate(rows):
                if isinstance(row, tuple) and len(row) == 2 and isinstance(row[0], str):
                    origin, item = row
                else:  # not an (origin, item) pair: still never dropped, named by position
                    origin, item = f"partition {partition} row {number}", row
                if isinstance(item, Rejected):
                    pool.reject(item.reason, origin=origin, key=item.key, item=item.item)
                elif isinstance(item, Prepared):
                    pool.put(item.item, origin=origin, size=item.size, document=item.document)
                elif isinstance(item, Checkpoint):
                    pool.sync()
                    now = pool.stats
                    if self.on_checkpoint is not None:
                        self.on_checkpoint(item.mark, _difference(now, since))
                    since = now
                else:
                    pool.put(item, origin=origin)
        stats = pool.stats
        stats.cpu_seconds = time.process_time() - cpu
        return stats


def write_partitions(rows: Any, options: SinkOptions, *, slots: int | None = None, run_id: str | None = None,
                     on_checkpoint: Callable[[Any, SinkStats], None] | None = None) -> SinkStats:
    """Write an RDD of ``(origin, item)`` pairs (wire items) to ``options.table``; return the totals.

    An ``item`` may be a :class:`~ddbmigrate.sink.writer.Rejected`: it is dead-lettered and counted.

    ``slots`` overrides the task slots used for Glue's default parallelism (default
    ``spark.default.parallelism``). Raises :class:`SinkError` when a task gives up or the counts do
    not reconcile; dead letters do not raise — check ``stats.dead_lettered``.

    Rows may hold :class:`Checkpoint` marks; ``on_checkpoint`` is then called on the executor for
    each. A mark covers the rows before it in its own partition, so such input is never shuffled
    by key (at most one writing task per input partition).
    """
    sc = rows.context
    info = describe_table(options.target, options.table, option="--target-table").with_capacity(write=options.capacity_override)
    partitions = rows.getNumPartitions()
    tasks = options.parallel_tasks or default_parallel_tasks(partitions, slots or spark_task_slots(sc))
    if on_checkpoint is not None and partitions:
        tasks = min(tasks, partitions)
    fitted = _fit(rows, partitions, tasks, info)
    plan = TaskPlan(options, info, task_budget(info.write_capacity, options.write_percent, tasks), run_id or _run_id(),
                    on_checkpoint)
    plan = replace(plan, progress=active_channel())
    log.info(
        "writing %s: capacity %d WCU × %.2f over %d task(s) = %.1f WCU/s per task",
        options.table, info.write_capacity, options.write_percent, tasks, plan.rate,
    )
    accumulator = sc.accumulator(SinkStats(), MergeParam())

    def run(iterator: Iterator[Any]) -> None:
        from pyspark import TaskContext

        context = TaskContext.get()
        partition = context.partitionId() if context else 0
        attempt = context.attemptNumber() if context else 0
        accumulator.add(plan.write(iterator, partition=partition, attempt=attempt))

    try:
        fitted.foreachPartition(run)
    except Exception as exc:
        raise _from_executor(exc) from None
    stats: SinkStats = accumulator.value
    if not stats.reconciles:
        raise SinkError(
            f"{options.table}: counts do not reconcile — received {stats.received}, written {stats.written}, "
            f"dead-lettered {stats.dead_lettered}"
        )
    log.info("%s: %s", options.table, stats.summary())
    return stats


def _fit(rows: Any, partitions: int, tasks: int, info: TableDescription) -> Any:
    if partitions == 0 or partitions == tasks:
        return rows
    if partitions > tasks:
        return rows.coalesce(tasks)
    schema = info.key_schema
    return rows.keyBy(lambda row: _key_hash(row, schema)).partitionBy(tasks, _identity).values()


def _key_hash(row: Any, schema: Any) -> int:
    """The row's key hash (:func:`~ddbmigrate.sink.pool.key_hash`): the same in every Python worker."""
    return key_hash(row[1] if isinstance(row, tuple) and len(row) == 2 else row, schema)


def _difference(now: SinkStats, before: SinkStats) -> SinkStats:
    """The counters between two readings of one task's writers."""
    return SinkStats(**{f.name: getattr(now, f.name) - getattr(before, f.name) for f in fields(SinkStats)})


def _live_totals(stats: SinkStats) -> Totals:
    """What a writing task reports while it runs (the same counters the final summary adds up)."""
    return Totals(received=stats.received, written=stats.written, dead_lettered=stats.dead_lettered,
                  consumed_wcu=stats.consumed_wcu, throttles=stats.throttles, retries=stats.retries)


def _identity(value: int) -> int:
    return value


def _run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


_EXECUTOR_ERROR = re.compile(r"ddbmigrate\.errors\.(\w+): (.+)")


def _from_executor(exc: Exception) -> Exception:
    """The ddbmigrate error an executor raised, as the same class on the driver (or ``exc``)."""
    if isinstance(exc, DdbMigrateError):
        return exc
    matches = _EXECUTOR_ERROR.findall(str(exc))
    if not matches:
        return exc
    name, message = matches[-1]
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, DdbMigrateError):
        return cls(message.strip())
    return SinkError(message.strip())
