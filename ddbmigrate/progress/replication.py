"""Replication's side of live progress: the lag and records applied, as a log line, metrics and a series.

The poller already reports each shard's status (records seen, lag) to its caller's status line;
:class:`ReplicationWatch` takes the same updates and, at most every ``interval`` seconds, logs one
line, publishes ``ReplicationLagSeconds`` (the worst shard's) and ``RecordsApplied`` (the increase)
through :class:`~ddbmigrate.progress.metrics.MetricsPublisher`, and keeps the lag series for the
report's chart. Clock and sinks are injected; nothing here knows the stream API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ddbmigrate.progress.counters import LagPoint, format_duration
from ddbmigrate.progress.metrics import MetricsPublisher

__all__ = ["ReplicationWatch", "ShardProgress"]

log = logging.getLogger(__name__)


class ShardProgress(Protocol):
    """What a shard's status carries for the watch (the poller's ``ShardStatus`` is one)."""

    shard_id: str
    applied: int
    lag_seconds: float | None


@dataclass
class _Shard:
    records: int = 0
    lag_seconds: float | None = None


class ReplicationWatch:
    """Feed it every shard status (:meth:`update`); it ticks by itself when a tick is due."""

    def __init__(self, label: str, *, publisher: MetricsPublisher | None = None, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, emit: Callable[[str], None] | None = None) -> None:
        self.label = label
        self.lag: list[LagPoint] = []
        self._publisher = publisher
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_tick: float | None = None
        self._published_records = 0
        self._emit = emit or (lambda line: log.info("%s", line))
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()

    def update(self, shard_id: str, *, records: int, lag_seconds: float | None) -> None:
        """One shard's running count of records applied and its lag (None: not known yet)."""
        with self._lock:
            self._shards[shard_id] = _Shard(records, lag_seconds)
        now = self._clock()
        if self._last_tick is None or now - self._last_tick >= self._interval:
            self.tick()

    def observe(self, status: ShardProgress) -> None:
        """:meth:`update` from a shard's status: what ``replicate run`` and ``migrate`` feed it."""
        self.update(status.shard_id, records=status.applied, lag_seconds=status.lag_seconds)

    @property
    def records(self) -> int:
        with self._lock:
            return sum(s.records for s in self._shards.values())

    @property
    def lag_seconds(self) -> float | None:
        """The worst shard's lag: replication is as far behind as its slowest shard."""
        with self._lock:
            lags = [s.lag_seconds for s in self._shards.values() if s.lag_seconds is not None]
        return max(lags) if lags else None

    def tick(self) -> None:
        """Log, publish and record now (the last call, at the end of a run, too)."""
        now = self._clock()
        self._last_tick = now
        records, lag = self.records, self.lag_seconds
        if lag is not None:
            self.lag.append(LagPoint(now - self._started, lag))
        self._emit(f"{self.label}: replication progress: shards={len(self._shards)} records_applied={records:,} "
                   f"lag={format_duration(lag)} elapsed={format_duration(now - self._started)}")
        applied = records - self._published_records
        if self._publisher is not None and self._publisher.publish_replication(lag_seconds=lag, records_applied=applied):
            self._published_records = records
