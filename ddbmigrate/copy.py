"""The table → table pipeline behind ``jobs/table_copy.py`` (and ``ddbmigrate run table-copy``).

No export and no S3: a parallel Scan of the source (source account's credentials, refreshed for
as long as the copy runs) streams into the sink writing the target (the target account's). Items
stay DynamoDB attribute values end to end — never Spark rows — so nothing is inferred or lost, as
Glue's own DynamoDB reader would lose sets and numbers. Reads stay within floor(RCU × read
percent), writes within floor(WCU × write percent); with a mapping, schema drift (attributes or
types its schema never saw) is carried and counted by name, an item that cannot be mapped is
dead-lettered, and ``read = written + dead-lettered``. A live Scan is not a snapshot; re-running is
safe, and with ``--run_id`` each segment goes on after its last acknowledged page (docs/resume.md).
See docs/copy.md, "Guarantees" and "Reading the source".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from ddbmigrate.accounts import Account
from ddbmigrate.accumulators import MergeParam
from ddbmigrate.bulk import PipelineResult
from ddbmigrate.capacity import (
    DEFAULT_READ_PERCENT,
    DEFAULT_WRITE_PERCENT,
    default_parallel_tasks,
    job_budget,
    spark_task_slots,
)
from ddbmigrate.drift import DriftCounts
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.errors import ConfigError, DdbMigrateError
from ddbmigrate.jobargs import TABLE_COPY, account_of
from ddbmigrate.progress import Goal, Totals, reporting, watch_job
from ddbmigrate.runstate import (
    RunIdentity,
    RunState,
    SegmentRecord,
    mapping_digest,
    open_run_state,
    table_identity,
)
from ddbmigrate.sink import Rejected, SinkOptions, write_partitions
from ddbmigrate.sink.options import DEFAULT_REQUESTS_IN_FLIGHT, GLUE_DEFAULT_RETRIES, split_table_arn
from ddbmigrate.sink.spark import Checkpoint
from ddbmigrate.source import PageStats, scan_pages
from ddbmigrate.values import Item

if TYPE_CHECKING:
    from ddbmigrate.mapping.items import ItemMapping
    from ddbmigrate.sink.writer import Prepared

__all__ = ["CopyPlan", "CopyResult", "ScanStats", "TableCopyOptions", "plan_copy", "run_table_copy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableCopyOptions:
    """Everything the table-copy job needs; built from Glue arguments (:meth:`from_job_args`) or in
    code. Each field named like a job argument is checked by that argument's one declaration
    (:data:`ddbmigrate.jobargs.TABLE_COPY`), whichever way the options were built."""

    source_table: str
    source: Account
    target_table: str
    target: Account
    read_percent: float = DEFAULT_READ_PERCENT
    read_capacity: int | None = None
    splits: int | None = None
    consistent: bool = False
    mapping: str | None = None
    write_percent: float = DEFAULT_WRITE_PERCENT
    write_capacity: int | None = None
    parallel_tasks: int | None = None
    dead_letter: str | None = None
    max_retries: int = GLUE_DEFAULT_RETRIES
    requests_in_flight: int = DEFAULT_REQUESTS_IN_FLIGHT
    cloudwatch_metrics: str = "auto"
    run_id: str | None = None
    """Resume key (:mod:`ddbmigrate.runstate`): each segment goes on after its last acknowledged page."""
    run_state: str | None = None

    def __post_init__(self) -> None:
        TABLE_COPY.check(self)
        source_name, source_region = split_table_arn(self.source_table)
        if source_region and not self.source.region:
            object.__setattr__(self, "source", replace(self.source, region=source_region))
        if source_name == split_table_arn(self.target_table)[0] and _same_place(self.source, self.target):
            raise ConfigError(
                f"--source_table and --target_table are the same table ({source_name!r} in {self.source.describe()}); "
                "a copy onto itself would only rewrite every item — name the other account's table"
            )

    @property
    def source_table_name(self) -> str:
        return split_table_arn(self.source_table)[0]

    @property
    def job_account(self) -> Account:
        """The job's own identity (on Glue, its role): reads an ``s3://`` mapping, writes dead letters.

        The target side without its role: the job's bucket belongs to the job, not to the target table.
        """
        return self.target.without_role(label="job account")

    @classmethod
    def from_job_args(cls, args: dict[str, Any]) -> TableCopyOptions:
        """Build from ``getResolvedOptions`` output (Glue argument names, all strings)."""
        parsed = TABLE_COPY.parse(args)
        return cls(
            source=account_of(parsed, "source"),
            target=account_of(parsed, "target"),
            consistent=parsed["consistent_read"],
            **{name: parsed[name] for name in _OPTION_ARGUMENTS},
        )


_OPTION_ARGUMENTS = ("source_table", "target_table", "read_percent", "read_capacity", "splits", "mapping",
                     "write_percent", "write_capacity", "parallel_tasks", "dead_letter", "max_retries",
                     "requests_in_flight", "cloudwatch_metrics", "run_id", "run_state")
"""The job arguments that are fields of :class:`TableCopyOptions` as they are (the rest make accounts)."""


def _same_place(a: Account, b: Account) -> bool:
    """Both accounts reach the same DynamoDB with the same identity (so the same table name is one table)."""
    fields_ = ("profile", "region", "endpoint_url", "role_arn")
    return all(getattr(a, f) == getattr(b, f) for f in fields_)


@dataclass
class ScanStats:
    """What the Scan did, over all segments (merged through an accumulator)."""

    items: int = 0
    consumed_rcu: float = 0.0
    pages: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    per_second: dict[int, float] = field(default_factory=dict)
    """Read units consumed in each wall-clock second (epoch seconds): the budget's evidence."""

    def record(self, page: PageStats) -> None:
        self.pages += 1
        self.consumed_rcu += page.consumed_units
        self.retries += page.retries
        self.waited_seconds += page.waited_seconds
        second = int(time.time())  # wall clock: comparable across executors on different hosts
        self.per_second[second] = self.per_second.get(second, 0.0) + page.consumed_units

    def merge(self, other: ScanStats) -> ScanStats:
        for f in fields(self):
            if f.name == "per_second":
                for second, units in other.per_second.items():
                    self.per_second[second] = self.per_second.get(second, 0.0) + units
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def peak(self, window: int) -> float:
        """The most read units consumed in any ``window`` consecutive seconds."""
        if not self.per_second:
            return 0.0
        first, last = min(self.per_second), max(self.per_second)
        return max(
            sum(self.per_second.get(s, 0.0) for s in range(start, start + window))
            for start in range(first, max(first, last - window + 1) + 1)
        )


@dataclass(frozen=True)
class CopyPlan:
    """The driver's decisions, shipped to every segment (picklable)."""

    source_table: str
    source: Account
    splits: int
    tasks: int
    read_capacity: int
    read_budget: int
    segment_rate: float
    consistent: bool
    key_schema: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        return (
            f"scan {self.source_table}: {self.splits} segment(s), at most {min(self.splits, self.tasks)} at once; "
            f"read budget floor({self.read_capacity} RCU × percent) = {self.read_budget} RCU/s, "
            f"{self.segment_rate:.1f} RCU/s per segment"
        )


@dataclass
class CopyResult(PipelineResult):
    """:class:`~ddbmigrate.bulk.PipelineResult` plus the read side."""

    read_budget: int = 0
    scan: ScanStats = field(default_factory=ScanStats)

    @property
    def consumed_rcu(self) -> float:
        return self.scan.consumed_rcu

    @property
    def scan_retries(self) -> int:
        return self.scan.retries

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        lines.insert(1, f"consumed_rcu={self.consumed_rcu:.1f} (read budget {self.read_budget} RCU/s) "
                        f"scan_retries={self.scan_retries} write_retries={self.retries}")
        return lines


def plan_copy(options: TableCopyOptions, *, slots: int) -> CopyPlan:
    """Decide segments, tasks and the per-segment read rate from the source's description."""
    name = options.source_table_name
    table = describe_table(options.source, name, option="--source_table").with_capacity(read=options.read_capacity)
    splits = options.splits or max(1, slots)
    tasks = options.parallel_tasks or default_parallel_tasks(splits, slots)
    capacity = table.read_capacity
    budget = job_budget(capacity, options.read_percent)
    return CopyPlan(
        source_table=name, source=options.source, splits=splits, tasks=tasks, read_capacity=capacity,
        read_budget=budget, segment_rate=budget / min(splits, tasks), consistent=options.consistent,
        key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in table.key_schema),
    )


def _scan(plan: CopyPlan, segment: int, stats: ScanStats, resume: _Resume | None = None,
          drift: DriftCounts | None = None, *, prepared: bool = False) -> Iterator[tuple[str, Item | Prepared | Checkpoint]]:
    """Executor side of stage 2: ``(origin, item)`` for every item of one segment (with ``prepared``,
    as the reader sized it and kept its JSON, when it did: for the sink, not for a mapping).

    With ``resume``, the segment starts after its recorded key and each page ends with a
    :class:`Checkpoint` (its ``LastEvaluatedKey``; None once the segment is done), recorded by the
    sink once the page's items are written.
    """
    from ddbmigrate.values import item_from_json, item_to_json

    origin = f"{plan.source_table} segment {segment} of {plan.splits}"
    base = resume.records.get(segment, SegmentRecord(segment)) if resume is not None else None
    start = item_from_json(base.last_key, where=f"{resume.state.uri} segment {segment}") if base and base.last_key else None
    for page in scan_pages(plan.source, plan.source_table, segment, plan.splits, start_key=start,
                           read_units_per_second=plan.segment_rate, consistent=plan.consistent, on_page=stats.record):
        for item in page.prepared if prepared and page.prepared is not None else page.items:
            stats.items += 1
            yield origin, item
        if resume is not None and base is not None:
            so_far = DriftCounts(**base.drift) + (drift or DriftCounts())  # over every run of the segment
            last = item_to_json(page.last_key) if page.last_key else None
            yield origin, resume.state.segment_checkpoint(base, last, so_far)


@dataclass(frozen=True)
class _Resume:
    """A resumed copy's run state and what earlier runs recorded, per segment (shipped to executors)."""

    state: RunState
    records: dict[int, SegmentRecord]


def _mapped(rows: Iterator[tuple[str, Item]], apply: ItemMapping, key_schema: Any,
            drift: DriftCounts) -> Iterator[tuple[str, Item | Rejected]]:
    """Stage 3 for one partition: mapped items (drift carried and counted), or :class:`Rejected` with the source key."""
    for origin, item in rows:
        if isinstance(item, Checkpoint):  # a page's end passes through to the sink
            yield origin, item
            continue
        try:
            mapped, unknown, retyped = apply.map(item)
        except DdbMigrateError as exc:
            key = {name: item[name] for name, _ in key_schema if name in item}
            yield origin, Rejected(f"cannot apply the mapping: {exc}", key, item)
            continue
        if unknown or retyped:
            drift.add(unknown, retyped)
        yield origin, mapped


def _attempt() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.attemptNumber() if context else 0


def run_table_copy(spark: Any, options: TableCopyOptions) -> CopyResult:
    """Run the copy; return the reconciled counts (the caller decides the exit code)."""
    started = time.monotonic()
    sc = spark.sparkContext
    state = open_run_state(options.run_id, options.run_state, options.dead_letter, options.job_account)
    recorded = state.recorded() if state is not None else None
    if recorded is not None and options.splits is None:  # a resumed copy keeps its segments whatever the slots now
        options = replace(options, splits=recorded.segments)
    plan = plan_copy(options, slots=spark_task_slots(sc))
    log.info("%s", plan.describe())
    mapping = None
    if options.mapping:
        from ddbmigrate.mapping import load_mapping
        from ddbmigrate.mapping.file import dumps_mapping
        from ddbmigrate.mapping.items import ItemMapping

        # a path, or s3://… in the job's bucket (deploy uploads it there); a casting rule is refused here, before any read
        s3 = options.job_account.client("s3") if options.mapping.startswith("s3://") else None
        mapping = ItemMapping(load_mapping(options.mapping, s3_client=s3))
    resume, todo = None, list(range(plan.splits))
    if state is not None:
        source = describe_table(options.source, plan.source_table, option="--source_table")
        target = describe_table(options.target, options.target_table, option="--target_table")
        state.open(RunIdentity("table-copy", table_identity(source, options.source),
                               table_identity(target, options.target),
                               mapping_digest(dumps_mapping(mapping.mapping)) if mapping is not None else "",
                               plan.splits))
        resume = _Resume(state, state.segments())
        todo = [n for n in todo if not (n in resume.records and resume.records[n].done)]
        log.info("--run_id %s: %d of %d segment(s) done by an earlier run, skipped", state.run_id,
                 plan.splits - len(todo), plan.splits)
    scanned = sc.accumulator(ScanStats(), MergeParam())
    drifted = sc.accumulator(DriftCounts(), MergeParam())

    def scan_partition(_: int, numbers: Iterator[int]) -> Iterator[Any]:
        for segment in numbers:  # one segment per partition (none when a resume finds every segment done)
            stats, drift = ScanStats(), DriftCounts()
            with reporting(channel, f"scan-{segment:05d}", attempt=_attempt()) as reporter:
                if reporter is not None:
                    reporter.follow(lambda stats=stats: Totals(read=stats.items, consumed_rcu=stats.consumed_rcu))
                yield from _scan_partition(segment, stats, drift)

    def _scan_partition(segment: int, stats: ScanStats, drift: DriftCounts) -> Iterator[Any]:
        try:
            rows: Iterator[Any] = _scan(plan, segment, stats, resume, drift, prepared=mapping is None)
            if mapping is not None:
                rows = _mapped(rows, mapping, plan.key_schema, drift)
            yield from rows
        finally:
            scanned.add(stats)
            drifted.add(drift)

    segments = sc.parallelize(todo, max(1, len(todo))).mapPartitionsWithIndex(scan_partition)
    sink = SinkOptions(
        table=options.target_table, target=options.target, write_percent=options.write_percent,
        capacity_override=options.write_capacity, parallel_tasks=plan.tasks,
        max_retries=options.max_retries, dead_letter=options.dead_letter,
        requests_in_flight=options.requests_in_flight, dead_letter_account=options.job_account,
    )
    goal = Goal(total_items=describe_table(options.source, plan.source_table, option="--source_table").item_count,
                budget_wcu=float(job_budget(describe_table(options.target, options.target_table,
                                                           option="--target_table").with_capacity(
                    write=options.write_capacity).write_capacity, options.write_percent)),
                budget_rcu=float(plan.read_budget))
    with watch_job(spark, table=options.target_table, goal=goal, metrics=options.cloudwatch_metrics,
                   account=options.job_account) as monitor:
        channel = monitor.channel  # the scan's segments report their reads too (RCU)
        stats = write_partitions(segments, sink, on_checkpoint=state.checkpoint_reached if state is not None else None)
    read: ScanStats = scanned.value
    result = CopyResult(
        read=read.items, written=stats.written, dead_lettered=stats.dead_lettered,
        consumed_wcu=stats.consumed_wcu, elapsed_seconds=time.monotonic() - started,
        retries=stats.retries, throttles=stats.throttles, dead_letter_location=options.dead_letter,
        stages={"segments": plan.splits, "tasks": plan.tasks, "pages": read.pages},
        read_budget=plan.read_budget, scan=read, drift=drifted.value, cpu_seconds=stats.cpu_seconds,
    )
    if state is not None:  # the counts of every run of the id, segment by segment
        result.resume = state.totals(plan.splits, skipped=plan.splits - len(todo), segments=True, this_run=read.items)
        result.read, result.written = result.resume.read, result.resume.written
        result.dead_lettered, result.drift = result.resume.dead_lettered, result.resume.drift
    return result

