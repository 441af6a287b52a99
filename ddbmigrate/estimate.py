"""How long a migration run takes, what it costs in Glue, and which path fits — pure arithmetic.

The write side bounds a run: the sink never spends more than ``floor(WCU × write percent)`` write
units per second and an item costs one unit per started kilobyte, so time follows from item count
and size; DPU-hours and cost from the workers. The average size makes it an approximation, and
:data:`PRICE_PER_DPU_HOUR` is a us-east-1 price (pass yours). Nothing here imports boto3. The
formulas and their limits: docs/deploy.md, "ddbmigrate estimate".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ddbmigrate.capacity import (
    DEFAULT_READ_PERCENT,
    DPU_PER_WORKER,
    glue_slots,
    job_budget,
    validate_percent,
    validate_worker_type,
)
from ddbmigrate.errors import ConfigError

if TYPE_CHECKING:  # a description is only read here; the DynamoDB layer (botocore) stays unimported
    from ddbmigrate.dynamodb import TableDescription

__all__ = [
    "EXPORT_IMPORT",
    "MINIMUM_BILLED_SECONDS",
    "PATHS",
    "PRICE_PER_DPU_HOUR",
    "STARTUP_SECONDS",
    "TABLE_COPY",
    "TABLE_COPY_MAX_BYTES",
    "Estimate",
    "TableStats",
    "estimate_run",
    "format_bytes",
    "format_duration",
    "stats_from_export_summary",
    "stats_from_table",
]

PRICE_PER_DPU_HOUR = 0.44
"""USD per DPU-hour for Glue Spark jobs (standard class) in us-east-1/us-east-2/us-west-2; other
regions differ — pass ``price_per_dpu_hour`` (CLI: ``--price-per-dpu-hour``) for yours."""

MINIMUM_BILLED_SECONDS = 60
"""Glue 2.0+ bills per second with a one-minute minimum per run."""

STARTUP_SECONDS = 60.0
"""Allowance for a Glue 5.0 run to start, install the wheel and open the export (typical: under a minute)."""

TABLE_COPY_MAX_BYTES = 10 * 1024**3
"""Above this size the table-copy path is not recommended (long scans of the live table)."""

TABLE_COPY = "table-copy"
EXPORT_IMPORT = "export-import"
PATHS = (TABLE_COPY, EXPORT_IMPORT)

_KB = 1024
_READ_UNIT_BYTES = 4 * 1024


@dataclass(frozen=True)
class TableStats:
    """What an estimate needs from a table (DescribeTable) or an export (manifest summary).

    DescribeTable's ``ItemCount`` and ``TableSizeBytes`` are refreshed about every six hours, so
    they lag a busy table a little; an export's manifest counts are exact.
    """

    items: int
    table_bytes: int
    write_capacity: int | None = None
    read_capacity: int | None = None
    on_demand: bool = False
    source: str = "given"

    @property
    def avg_item_bytes(self) -> int:
        """Average item size, rounded up; 0 for an empty table."""
        return math.ceil(self.table_bytes / self.items) if self.items else 0


@dataclass(frozen=True)
class Estimate:
    """One run's estimate. Times in seconds, money in USD; see the module docstring for formulas."""

    path: str
    recommended_path: str
    reasons: tuple[str, ...]
    items: int
    avg_item_bytes: int
    table_bytes: int
    units_per_item: int
    write_units: int
    write_capacity: int
    write_percent: float
    write_budget: int
    write_seconds: float
    read_seconds: float | None
    startup_seconds: float
    seconds: float
    worker_type: str
    workers: int
    slots: int
    dpu: int
    dpu_hours: float
    price_per_dpu_hour: float
    cost: float
    notes: tuple[str, ...] = field(default=())

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def stats_from_table(table: TableDescription, *, capacity_override: int | None = None) -> TableStats:
    """Item count, size and capacity of a described table.

    Capacity follows Glue's rules (:func:`~ddbmigrate.capacity.table_write_capacity`): on-demand
    tables count as 40,000 units unless a maximum throughput or ``capacity_override`` is set.
    """
    table = table.with_capacity(write=capacity_override)
    return TableStats(
        items=table.item_count,
        table_bytes=table.size_bytes,
        write_capacity=table.write_capacity,
        read_capacity=table.read_capacity,
        on_demand=table.on_demand,
        source=f"DescribeTable {table.name or '?'}",
    )


def stats_from_export_summary(summary: Mapping[str, Any]) -> TableStats:
    """Item count and size from an export's ``manifest-summary.json`` (``itemCount``, ``billedSizeBytes``)."""
    try:
        items = int(summary["itemCount"])
        size = int(summary["billedSizeBytes"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError("manifest-summary.json: itemCount and billedSizeBytes are needed for an estimate") from None
    return TableStats(items=items, table_bytes=size, source=f"export {summary.get('exportArn', '?')}")


def estimate_run(
    item_count: int,
    avg_item_bytes: int,
    wcu: int,
    write_percent: float,
    worker_type: str,
    workers: int,
    *,
    table_bytes: int | None = None,
    rcu: int | None = None,
    read_percent: float = DEFAULT_READ_PERCENT,
    path: str | None = None,
    price_per_dpu_hour: float = PRICE_PER_DPU_HOUR,
    startup_seconds: float = STARTUP_SECONDS,
    table_copy_max_bytes: int = TABLE_COPY_MAX_BYTES,
) -> Estimate:
    """Estimate one run; ``path`` is the job's path, or None for the recommended one.

    ``wcu`` is the target's write capacity as Glue budgets it (provisioned WCU, 40,000 for
    on-demand, or the absolute cap), ``rcu`` the source's read capacity (table copy only: without
    it the read side is not estimated). ``table_bytes`` defaults to items × average size.

    >>> e = estimate_run(1_000_000, 2500, 1000, 0.5, "G.1X", 10)
    >>> e.write_units, e.write_budget, round(e.write_seconds)
    (3000000, 500, 6000)
    """
    _check_count(item_count, "item count")
    _check_count(avg_item_bytes, "average item size")
    if wcu < 1:
        raise ConfigError(f"write capacity: expected at least 1 WCU, got {wcu}")
    if rcu is not None and rcu < 1:
        raise ConfigError(f"read capacity: expected at least 1 RCU, got {rcu}")
    percent = validate_percent(write_percent, option="write percent")
    read_pct = validate_percent(read_percent, option="read percent")
    validate_worker_type(worker_type)
    slots = glue_slots(worker_type, workers)
    if path is not None and path not in PATHS:
        raise ConfigError(f"path: {path!r} is not one of {', '.join(PATHS)}")
    if price_per_dpu_hour < 0 or startup_seconds < 0:
        raise ConfigError("price per DPU-hour and start-up seconds may not be negative")
    size = table_bytes if table_bytes is not None else item_count * avg_item_bytes

    units_per_item = max(1, math.ceil(avg_item_bytes / _KB))
    write_units = item_count * units_per_item
    budget = job_budget(wcu, percent)
    write_seconds = write_units / budget
    recommended, reasons = _recommend(size, rcu, read_pct, table_copy_max_bytes)
    chosen = path or recommended
    read_seconds = None
    if chosen == TABLE_COPY and rcu is not None:
        read_units = math.ceil(size / _READ_UNIT_BYTES) * 0.5
        read_seconds = read_units / job_budget(rcu, read_pct)
    seconds = startup_seconds + max(write_seconds, read_seconds or 0.0)
    dpu = workers * DPU_PER_WORKER[worker_type]
    dpu_hours = dpu * max(seconds, MINIMUM_BILLED_SECONDS) / 3600
    return Estimate(
        path=chosen, recommended_path=recommended, reasons=tuple(reasons),
        items=item_count, avg_item_bytes=avg_item_bytes, table_bytes=size, units_per_item=units_per_item,
        write_units=write_units, write_capacity=wcu, write_percent=percent, write_budget=budget,
        write_seconds=write_seconds, read_seconds=read_seconds, startup_seconds=startup_seconds, seconds=seconds,
        worker_type=worker_type, workers=workers, slots=slots, dpu=dpu, dpu_hours=dpu_hours,
        price_per_dpu_hour=price_per_dpu_hour, cost=dpu_hours * price_per_dpu_hour,
        notes=tuple(_notes(budget, slots, read_seconds, write_seconds, worker_type, workers)),
    )


def _check_count(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{what}: expected a whole number ≥ 0, got {value!r}")


def _recommend(size: int, rcu: int | None, read_percent: float, max_bytes: int) -> tuple[str, list[str]]:
    limit = format_bytes(max_bytes)
    if size > max_bytes:
        return EXPORT_IMPORT, [
            f"the table holds {format_bytes(size)}, above the {limit} where a table copy stops being sensible",
            "export-import reads point-in-time-recovery data, so it costs the source table no read capacity",
            "it needs PITR on the source and a bucket in the target account; the export itself adds minutes to hours",
        ]
    reasons = [
        f"the table holds {format_bytes(size)}, within the {limit} a table copy handles well",
        "a table copy needs no PITR, no bucket and no export wait",
    ]
    if rcu is not None:
        reasons.append(f"it scans the live source table at {read_percent:g} of its {rcu:,} RCU, "
                       "leaving the rest for production traffic")
    else:
        reasons.append("it scans the live source table (at the read percent of its RCU); choose export-import "
                       "if the source cannot spare read capacity")
    return TABLE_COPY, reasons


def _notes(budget: int, slots: int, read_seconds: float | None, write_seconds: float,
           worker_type: str, workers: int) -> list[str]:
    notes = []
    if budget < slots:
        useful = max(2, budget // (slots // (workers - 1)) + 1)
        notes.append(
            f"the write budget ({budget:,} WCU/s) is below one unit per Spark task ({slots} slots on "
            f"{workers} × {worker_type}); {useful} workers would write as fast for less"
        )
    if read_seconds is not None and read_seconds > write_seconds:
        notes.append("the source's read capacity, not the target's write capacity, bounds this run")
    return notes


def format_duration(seconds: float) -> str:
    """``3725`` → ``"1 h 2 min"``; under a minute in seconds; days past 48 hours."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_bytes(size: float) -> str:
    """Binary units, one decimal: ``1536`` → ``"1.5 KiB"``."""
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024 or unit == "TiB":
            break
    return f"{size:.1f} {unit}"
