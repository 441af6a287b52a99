"""The pure core of live progress: running totals per task, their sum, rates and the ETA.

Tasks report *running totals* (not deltas), numbered, so a lost or repeated report does no harm:
the board keeps each task's newest report, and a retried task attempt replaces the attempt before
it — the same rule by which Spark's accumulators count only the attempt that succeeded, so the
live sum ends equal to the final summary. No I/O, no clock of its own: callers pass times in.
See docs/progress.md.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import pairwise
from typing import Any

__all__ = ["Board", "Goal", "LagPoint", "RatePoint", "Sample", "Series", "Status", "Totals", "format_duration", "progress_line",
           "rate_points", "status_of"]


@dataclass
class Totals:
    """Running counts of one task, or of a whole run (:meth:`merge`)."""

    read: int = 0
    """Items the source handed over (the copy's Scan; an import's sink counts them as ``received``)."""
    received: int = 0
    """Items (and refusals) the sink was given."""
    written: int = 0
    dead_lettered: int = 0
    consumed_wcu: float = 0.0
    consumed_rcu: float = 0.0
    throttles: int = 0
    retries: int = 0

    @property
    def done(self) -> int:
        """Items settled: written or dead-lettered."""
        return self.written + self.dead_lettered

    def merge(self, other: Totals) -> Totals:
        """Add ``other`` into this one (in place) and return it."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Totals:
        """Known numeric fields only (a report is data from the network: anything else is ignored)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            values[f.name] = int(value) if f.type in ("int", int) else float(value)
        return cls(**values)


@dataclass
class _Latest:
    attempt: int
    seq: int
    totals: Totals


class Board:
    """Each task's newest running totals; :meth:`totals` is their sum. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, _Latest] = {}

    def update(self, task: str, totals: Totals, *, attempt: int = 0, seq: int = 0) -> bool:
        """Record ``task``'s report; False when it is older than what the board holds."""
        with self._lock:
            held = self._tasks.get(task)
            if held is not None and (attempt, seq) <= (held.attempt, held.seq):
                return False
            self._tasks[task] = _Latest(attempt, seq, totals)
            return True

    def totals(self) -> Totals:
        with self._lock:
            held = [latest.totals for latest in self._tasks.values()]
        total = Totals()
        for totals in held:
            total.merge(totals)
        return total

    @property
    def tasks(self) -> int:
        with self._lock:
            return len(self._tasks)


@dataclass(frozen=True)
class Sample:
    """The run's totals ``at`` seconds after it started."""

    at: float
    totals: Totals


@dataclass(frozen=True)
class Goal:
    """What a run is measured against: the items to write and the WCU/s it may use."""

    total_items: int | None = None
    budget_wcu: float | None = None
    budget_rcu: float | None = None


@dataclass(frozen=True)
class Status:
    """What the bar, the log line and the metrics show at one moment."""

    sample: Sample
    goal: Goal
    items_per_second: float
    wcu_per_second: float
    eta_seconds: float | None
    """None while nothing has been written yet or the total is unknown."""

    @property
    def totals(self) -> Totals:
        return self.sample.totals


RATE_WINDOW = 60.0
"""Seconds of history the rates (and so the ETA) are taken over: long enough to smooth a task's
bursts, short enough to follow a change of pace."""


def status_of(samples: Sequence[Sample], goal: Goal, *, window: float = RATE_WINDOW) -> Status:
    """The status at the newest sample: rates over the last ``window`` seconds, ETA at that rate."""
    if not samples:
        return Status(Sample(0.0, Totals()), goal, 0.0, 0.0, None)
    last = samples[-1]
    first = next((s for s in samples if s.at >= last.at - window), last)
    if first is last and len(samples) > 1:
        first = samples[-2]
    elapsed = last.at - first.at
    items = (last.totals.done - first.totals.done) / elapsed if elapsed > 0 else 0.0
    wcu = (last.totals.consumed_wcu - first.totals.consumed_wcu) / elapsed if elapsed > 0 else 0.0
    eta = None
    if goal.total_items is not None:
        remaining = max(0, goal.total_items - last.totals.done)
        eta = 0.0 if remaining == 0 else (remaining / items if items > 0 else None)
    return Status(last, goal, items, wcu, eta)


@dataclass
class Series:
    """A run's samples, thinned to at most ``limit`` (every other one dropped, the newest kept)."""

    samples: list[Sample] = field(default_factory=list)
    limit: int = 2000

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        if len(self.samples) > self.limit:
            newest = self.samples[-1]
            self.samples = [*self.samples[:-1:2], newest]

    def rows(self) -> list[dict[str, float]]:
        """One flat row per sample: ``at`` then every counter (the CSV's and JSON's shape)."""
        return [{"at": round(s.at, 3), **s.totals.as_dict()} for s in self.samples]

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> Series:
        return cls([Sample(float(row["at"]), Totals.from_dict(row)) for row in rows])


@dataclass(frozen=True)
class RatePoint:
    """The rates between two consecutive samples, placed at the later one."""

    at: float
    items_per_second: float
    wcu_per_second: float


@dataclass(frozen=True)
class LagPoint:
    """Replication's lag ``at`` seconds into the run (for its chart)."""

    at: float
    seconds: float


def rate_points(samples: Sequence[Sample]) -> list[RatePoint]:
    """Items/s and WCU/s between each pair of consecutive samples (what the charts plot)."""
    points = []
    for before, after in pairwise(samples):
        elapsed = after.at - before.at
        if elapsed > 0:
            points.append(RatePoint(after.at, (after.totals.done - before.totals.done) / elapsed,
                                    (after.totals.consumed_wcu - before.totals.consumed_wcu) / elapsed))
    return points


def format_duration(seconds: float | None) -> str:
    """``1h02m03s`` / ``4m05s`` / ``6s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(status: Status, *, label: str = "") -> str:
    """One line with the run's figures (the Glue log line; counts only, never item contents)."""
    totals, goal = status.totals, status.goal
    of = ""
    if goal.total_items:
        of = f" of {goal.total_items:,} ({100.0 * totals.done / goal.total_items:.1f}%)"
    budget = f" (budget {goal.budget_wcu:,.0f})" if goal.budget_wcu else ""
    read = f" read={totals.read:,} consumed_rcu={totals.consumed_rcu:,.1f}" if totals.read else ""
    prefix = f"{label}: " if label else ""
    return (
        f"{prefix}progress: written={totals.written:,}{of} dead_lettered={totals.dead_lettered:,}{read} "
        f"items/s={status.items_per_second:,.1f} wcu/s={status.wcu_per_second:,.1f}{budget} "
        f"consumed_wcu={totals.consumed_wcu:,.1f} throttles={totals.throttles:,} retries={totals.retries:,} "
        f"elapsed={format_duration(status.sample.at)} eta={format_duration(status.eta_seconds)}"
    )
