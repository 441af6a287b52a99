"""Prove that the target table equals the source: counts, missing, extra and differing items.

Both tables are scanned in parallel (:mod:`ddbmigrate.source`), each within ``read_percent`` of its
own read capacity, and every item becomes a :class:`DigestRecord` through one function,
:func:`digest_record`, whether the comparison runs in threads (:func:`verify_tables`) or in Spark
(:func:`verify_spark`). Comparing digests keeps memory small and reports free of item data (only
keys and attribute paths). A ``transform`` (:func:`mapping_transform`) compares sources with what
the target *should* hold; ``sample`` picks the same keys on both sides. See docs/verify.md.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, NamedTuple

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_READ_PERCENT, job_budget, validate_percent
from ddbmigrate.digest import describe_differences, in_sample, item_digest, key_digest
from ddbmigrate.dynamodb import TableDescription, describe_table, dynamodb_client
from ddbmigrate.errors import ConfigError, DdbMigrateError, VerifyMismatch
from ddbmigrate.mapping import MappingFile, load_mapping
from ddbmigrate.mapping.items import ItemMapping
from ddbmigrate.source import PageStats, scan_segment, scan_table
from ddbmigrate.values import Item, item_from_json, item_to_json

__all__ = [
    "Difference",
    "DigestRecord",
    "MappingTransform",
    "Transform",
    "VerifyOptions",
    "VerifyReport",
    "digest_record",
    "explain_differences",
    "mapping_transform",
    "verify_spark",
    "verify_tables",
]

Transform = Callable[[Item], Item]
"""Source item → the item the target should hold (a mapping). Raise a DdbMigrateError to refuse one."""

Progress = Callable[[str, int, float], None]
"""``(side, items read so far, read units consumed so far)``; called from reading threads."""


@dataclass(frozen=True)
class VerifyOptions:
    """What to compare and how gently. Validated on construction (errors name the CLI option)."""

    source: Account
    source_table: str
    target: Account
    target_table: str
    segments: int = 4
    sample: float = 1.0
    read_percent: float = DEFAULT_READ_PERCENT
    read_capacity: int | None = None
    consistent: bool = False
    max_samples: int = 10

    def __post_init__(self) -> None:
        if not self.source_table or not self.target_table:
            raise ConfigError("--source-table and --target-table are required")
        if not 1 <= self.segments <= 10_000:
            raise ConfigError(f"--segments: expected 1 to 10000 parallel Scan segments, got {self.segments}")
        if not 0.0 < self.sample <= 1.0:
            raise ConfigError(f"--sample: expected a fraction of keys in (0, 1], e.g. 0.01 for 1 %, got {self.sample}")
        object.__setattr__(self, "read_percent", validate_percent(self.read_percent, option="--read-percent"))
        if self.read_capacity is not None and self.read_capacity < 1:
            raise ConfigError(f"--read-capacity: expected a positive number of RCU, got {self.read_capacity}")
        if self.max_samples < 0:
            raise ConfigError(f"--max-samples: expected 0 or more, got {self.max_samples}")


class DigestRecord(NamedTuple):
    """One item, as verify compares it."""

    key_digest: bytes
    item_digest: bytes
    key: Item
    """The item's key as it is in *its own* table (the source key before any transform)."""


@dataclass(frozen=True)
class Difference:
    """A differing item: its keys and the paths/types that differ (never values)."""

    source_key: dict[str, Any]
    target_key: dict[str, Any]
    details: list[str]


@dataclass
class VerifyReport:
    """The outcome. ``identical`` is the verdict; the rest says how the tables differ."""

    source_table: str
    target_table: str
    mode: str
    sample: float
    source_items: int = 0
    target_items: int = 0
    compared_source: int = 0
    compared_target: int = 0
    matching: int = 0
    missing: int = 0
    extra: int = 0
    differing: int = 0
    invalid_source: int = 0
    missing_keys: list[dict[str, Any]] = field(default_factory=list)
    extra_keys: list[dict[str, Any]] = field(default_factory=list)
    differing_items: list[Difference] = field(default_factory=list)
    invalid_samples: list[dict[str, Any]] = field(default_factory=list)
    source_read_units: float = 0.0
    target_read_units: float = 0.0
    source_read_budget: float = 0.0
    target_read_budget: float = 0.0
    elapsed_seconds: float = 0.0
    transformed: bool = False

    @property
    def identical(self) -> bool:
        return self.missing == self.extra == self.differing == self.invalid_source == 0

    def summary(self) -> str:
        """One line for logs and the CLI's error message."""
        scope = "" if self.sample >= 1.0 else f" (sample {self.sample:g} of keys)"
        if self.identical:
            return f"{self.target_table} equals {self.source_table}: {self.matching:,} items compared{scope}"
        parts = [f"{self.missing:,} missing", f"{self.extra:,} extra", f"{self.differing:,} differing"]
        if self.invalid_source:
            parts.append(f"{self.invalid_source:,} source items could not be compared")
        return f"{self.target_table} differs from {self.source_table}{scope}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["identical"] = self.identical
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def raise_if_different(self) -> None:
        """:class:`VerifyMismatch` (exit code 8) unless the tables are identical."""
        if not self.identical:
            raise VerifyMismatch(self.summary())


# --------------------------------------------------------------------------- the one digest path


def digest_record(
    item: Item,
    *,
    key_names: Sequence[str],
    own_key_names: Sequence[str] | None = None,
    transform: Transform | None = None,
    fraction: float = 1.0,
) -> DigestRecord | None:
    """The record verify compares, or None when the key is outside the sample.

    ``key_names`` are the *target's* key attributes (what the join uses); ``own_key_names`` the
    item's own table's, for the report (default: the same). Raises
    :class:`~ddbmigrate.errors.DdbMigrateError` for an item that cannot be compared (the
    transform refused it, a key attribute is missing): the caller counts it, naming the reason.
    """
    compared = transform(item) if transform is not None else item
    kd = key_digest(compared, key_names)
    if not in_sample(kd, fraction):
        return None
    own = own_key_names or key_names
    return DigestRecord(kd, item_digest(compared), {name: item[name] for name in own if name in item})


# --------------------------------------------------------------------------- tables


def _read_budget(table: TableDescription, options: VerifyOptions) -> float:
    """This verify's read rate for the table (RCU/s): floor(capacity × read percent)."""
    return float(job_budget(table.read_capacity, options.read_percent))


def _new_report(options: VerifyOptions, mode: str, source: TableDescription, target: TableDescription, *,
                transformed: bool) -> VerifyReport:
    return VerifyReport(options.source_table, options.target_table, mode, options.sample,
                        source_read_budget=_read_budget(source, options), target_read_budget=_read_budget(target, options),
                        transformed=transformed)


def _tables(options: VerifyOptions, transform: Transform | None) -> tuple[TableDescription, TableDescription]:
    source = describe_table(options.source, options.source_table, option="--source-table").with_capacity(
        read=options.read_capacity)
    target = describe_table(options.target, options.target_table, option="--target-table").with_capacity(
        read=options.read_capacity)
    if transform is None and set(source.key_names) != set(target.key_names):
        raise ConfigError(
            f"the source key ({', '.join(source.key_names)}) and the target key ({', '.join(target.key_names)}) "
            "differ; pass the mapping the migration used (--mapping FILE)"
        )
    return source, target


def _key_json(key: Mapping[str, Any]) -> dict[str, Any]:
    return item_to_json(key)


# --------------------------------------------------------------------------- local mode


class _Counter:
    """Thread-safe page totals for one side, forwarded to the progress callback."""

    def __init__(self, side: str, progress: Progress | None) -> None:
        self.side, self.progress = side, progress
        self.items, self.units = 0, 0.0
        self._lock = threading.Lock()

    def __call__(self, page: PageStats) -> None:
        with self._lock:
            self.items += page.items
            self.units += page.consumed_units
            items, units = self.items, self.units
        if self.progress:
            self.progress(self.side, items, units)


def verify_tables(
    options: VerifyOptions,
    *,
    transform: Transform | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> VerifyReport:
    """Compare the tables on this machine with threads (see the module docstring).

    Reads: one full Scan of each table, ``options.segments`` threads per side, each side within
    its own read budget; then up to ``2 × max_samples`` GetItems to explain differing items.
    Returns the report; call :meth:`VerifyReport.raise_if_different` to fail on differences.
    """
    started = clock()
    source_info, target_info = _tables(options, transform)
    report = _new_report(options, "local", source_info, target_info, transformed=transform is not None)
    key = target_info.key_names

    # 1. source: records held in memory, keyed by key digest
    expected: dict[bytes, tuple[bytes, Item]] = {}
    source_counter = _Counter("source", progress)
    for item in _scan(options.source, source_info, options, source_counter, clock, sleep):
        report.source_items += 1
        try:
            record = digest_record(item, key_names=key, own_key_names=source_info.key_names,
                                   transform=transform, fraction=options.sample)
        except DdbMigrateError as exc:
            _invalid(report, options, _own_key(item, source_info.key_names), str(exc))
            continue
        if record is None:
            continue
        report.compared_source += 1
        if record.key_digest in expected:
            _invalid(report, options, record.key, "another source item maps to the same target key")
            continue
        expected[record.key_digest] = (record.item_digest, record.key)

    # 2. target: streamed against them
    differing: list[tuple[Item, Item]] = []
    target_counter = _Counter("target", progress)
    for item in _scan(options.target, target_info, options, target_counter, clock, sleep):
        report.target_items += 1
        try:
            record = digest_record(item, key_names=key, fraction=options.sample)
        except DdbMigrateError as exc:  # a target item without its key: cannot happen in DynamoDB
            raise ConfigError(f"--target-table {options.target_table!r}: {exc}") from None
        if record is None:
            continue
        report.compared_target += 1
        found = expected.pop(record.key_digest, None)
        if found is None:
            report.extra += 1
            if len(report.extra_keys) < options.max_samples:
                report.extra_keys.append(_key_json(record.key))
        elif found[0] != record.item_digest:
            report.differing += 1
            if len(differing) < options.max_samples:
                differing.append((found[1], record.key))
        else:
            report.matching += 1
    report.missing = len(expected)
    report.missing_keys = [_key_json(k) for _, k in list(expected.values())[: options.max_samples]]
    report.source_read_units, report.target_read_units = source_counter.units, target_counter.units
    report.differing_items = explain_differences(options, differing, transform=transform)
    report.elapsed_seconds = round(clock() - started, 3)
    return report


def _scan(account: Account, info: TableDescription, options: VerifyOptions, counter: _Counter,
          clock: Callable[[], float], sleep: Callable[[float], None]) -> Iterator[Item]:
    return scan_table(account, info.name, total_segments=options.segments, read_units_per_second=_read_budget(info, options),
                      consistent=options.consistent, clock=clock, sleep=sleep, on_page=counter)


def _own_key(item: Item, names: Sequence[str]) -> Item:
    return {name: item[name] for name in names if name in item}


def _invalid(report: VerifyReport, options: VerifyOptions, key: Item, reason: str) -> None:
    report.invalid_source += 1
    if len(report.invalid_samples) < options.max_samples:
        report.invalid_samples.append({"source_key": _key_json(key), "reason": reason})


def explain_differences(
    options: VerifyOptions,
    pairs: Sequence[tuple[Item, Item]],
    *,
    transform: Transform | None = None,
) -> list[Difference]:
    """Re-read each (source key, target key) pair with a consistent GetItem and name what differs."""
    if not pairs:
        return []
    source, target = dynamodb_client(options.source), dynamodb_client(options.target)
    explained = []
    for source_key, target_key in pairs:
        old = source.get_item(TableName=options.source_table, Key=source_key, ConsistentRead=True).get("Item")
        new = target.get_item(TableName=options.target_table, Key=target_key, ConsistentRead=True).get("Item")
        if old is None or new is None:
            details = ["the item was deleted while verifying; re-run"]
        else:
            try:
                details = describe_differences(transform(old) if transform else old, new)
            except DdbMigrateError as exc:
                details = [str(exc)]
            details = details or ["no difference on re-reading: the item changed while verifying; re-run"]
        explained.append(Difference(_key_json(source_key), _key_json(target_key), details))
    return explained


# --------------------------------------------------------------------------- Spark mode


@dataclass(frozen=True)
class _SideTask:
    """Everything an executor needs to digest one side's segments (picklable)."""

    account: Account
    table: str
    total_segments: int
    units_per_segment: float
    consistent: bool
    key_names: tuple[str, ...]
    own_key_names: tuple[str, ...]
    fraction: float
    transform: Transform | None


def _digest_partition(task: _SideTask, items_acc: Any, units_acc: Any, segments: Iterator[int]) -> Iterator[tuple[Any, ...]]:
    """Executor side: scan the partition's segments and yield (kd, digest, key JSON, error) rows."""

    def count(page: PageStats) -> None:
        items_acc.add(page.items)
        units_acc.add(page.consumed_units)

    for segment in segments:
        for item in scan_segment(task.account, task.table, segment, task.total_segments,
                                 read_units_per_second=task.units_per_segment, consistent=task.consistent,
                                 on_page=count):
            try:
                record = digest_record(item, key_names=task.key_names, own_key_names=task.own_key_names,
                                       transform=task.transform, fraction=task.fraction)
            except DdbMigrateError as exc:
                own = json.dumps(_key_json(_own_key(item, task.own_key_names)))
                yield (None, None, own, str(exc))
                continue
            if record is not None:
                yield (bytearray(record.key_digest), bytearray(record.item_digest),
                       json.dumps(_key_json(record.key)), None)


def _propagate_aws_environment(spark_context: Any) -> None:
    """Executors of a *local* Spark see the driver's AWS config files (profiles), as threads would.

    On Glue these variables are unset and executors use the job's role; nothing changes there.
    """
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        if os.environ.get(name) and name not in spark_context.environment:
            spark_context.environment[name] = os.environ[name]


def verify_spark(spark: Any, options: VerifyOptions, *, transform: Transform | None = None) -> VerifyReport:
    """Compare the tables with Spark: one partition per Scan segment, digests in the executors,
    a full outer join on the key digest. For tables too big for one machine's memory.

    Each side's budget is split evenly over its segments (all may run at once). Both scans run
    once: their digests are persisted before counting. ``transform`` must be picklable.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    started = time.monotonic()
    source_info, target_info = _tables(options, transform)
    report = _new_report(options, "spark", source_info, target_info, transformed=transform is not None)
    sc = spark.sparkContext
    _propagate_aws_environment(sc)
    schema = T.StructType([
        T.StructField("kd", T.BinaryType()), T.StructField("digest", T.BinaryType()),
        T.StructField("key", T.StringType()), T.StructField("error", T.StringType()),
    ])

    def side(account: Account, info: TableDescription, own: tuple[str, ...], fn: Transform | None) -> tuple[Any, int, Any, Any]:
        items_acc, units_acc = sc.accumulator(0), sc.accumulator(0.0)
        task = _SideTask(account, info.name, options.segments, _read_budget(info, options) / options.segments,
                         options.consistent, target_info.key_names, own, options.sample, fn)
        rdd = sc.parallelize(range(options.segments), options.segments).mapPartitions(
            partial(_digest_partition, task, items_acc, units_acc))
        frame = spark.createDataFrame(rdd, schema).persist(StorageLevel.MEMORY_AND_DISK)
        rows = frame.count()  # the one scan of this table
        return frame, rows, items_acc, units_acc

    source_df, source_rows, source_items, source_units = side(options.source, source_info, source_info.key_names,
                                                              transform)
    target_df, target_rows, target_items, target_units = side(options.target, target_info, target_info.key_names, None)
    try:
        invalid = source_df.filter(F.col("error").isNotNull())
        grouped = source_df.filter(F.col("error").isNull()).groupBy("kd").agg(
            F.count(F.lit(1)).alias("n"), F.first("digest").alias("s_digest"), F.first("key").alias("s_key"))
        target = target_df.select("kd", F.col("digest").alias("t_digest"), F.col("key").alias("t_key"))
        joined = grouped.join(target, "kd", "full_outer").withColumn(
            "status",
            F.when(F.col("t_digest").isNull(), "missing").when(F.col("s_digest").isNull(), "extra")
            .when(F.col("s_digest") != F.col("t_digest"), "differing").otherwise("matching"),
        ).persist(StorageLevel.MEMORY_AND_DISK)
        counts: dict[str, int] = {}
        duplicates = 0
        for row in joined.groupBy("status").agg(F.count(F.lit(1)).alias("keys"),
                                                F.sum(F.col("n") - 1).alias("duplicates")).collect():
            counts[row["status"]] = row["keys"]
            duplicates += int(row["duplicates"] or 0)
        report.matching, report.missing = counts.get("matching", 0), counts.get("missing", 0)
        report.extra, report.differing = counts.get("extra", 0), counts.get("differing", 0)
        report.compared_target = target_rows
        source_keys = report.matching + report.missing + report.differing
        report.invalid_source = source_rows - source_keys  # refused by the transform, or a duplicate key
        report.compared_source = source_keys + duplicates  # as counted locally: every record digested

        # sample keys of every kind in one job, the same ones on every run (ordered by key digest)
        rank = F.row_number().over(Window.partitionBy("status").orderBy("kd"))
        picked = (joined.filter((F.col("status") != "matching") | (F.col("n") > 1))
                  .withColumn("rank", rank).filter(F.col("rank") <= options.max_samples)
                  .select("status", "n", "s_key", "t_key").collect()) if options.max_samples else []
        report.missing_keys = [json.loads(r.s_key) for r in picked if r.status == "missing"]
        report.extra_keys = [json.loads(r.t_key) for r in picked if r.status == "extra"]
        pairs = [(item_from_json(json.loads(r.s_key)), item_from_json(json.loads(r.t_key)))
                 for r in picked if r.status == "differing"]
        if report.invalid_source:
            report.invalid_samples = [{"source_key": json.loads(r.key), "reason": r.error}
                                      for r in invalid.orderBy("key").limit(options.max_samples).collect()]
            report.invalid_samples += [
                {"source_key": json.loads(r.s_key), "reason": "another source item maps to the same target key"}
                for r in picked if r.n is not None and r.n > 1][: options.max_samples - len(report.invalid_samples)]
        joined.unpersist()
    finally:
        source_df.unpersist()
        target_df.unpersist()
    report.source_items, report.target_items = source_items.value, target_items.value
    report.source_read_units, report.target_read_units = source_units.value, target_units.value
    report.differing_items = explain_differences(options, pairs, transform=transform)
    report.elapsed_seconds = round(time.monotonic() - started, 3)
    return report


# --------------------------------------------------------------------------- mapping files


class MappingTransform(ItemMapping):
    """A mapping file as a verify transform: each source item mapped as the import job maps it.

    See :class:`ddbmigrate.mapping.items.ItemMapping`; a rule that casts is refused.
    """

    def __init__(self, mapping: MappingFile) -> None:
        super().__init__(mapping, cast_hint=(
            "verify without --mapping against a copy made with the generated mapping, or compare that attribute yourself"
        ))


def mapping_transform(path: str) -> MappingTransform:
    """Load a mapping file (``ddbmigrate.mapping.load_mapping``) as a verify transform."""
    return MappingTransform(load_mapping(path))
