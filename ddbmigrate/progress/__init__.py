"""Live progress of a long run: tasks report running totals, the driver shows, logs and publishes them.

* :mod:`~ddbmigrate.progress.counters` — the pure core: :class:`Totals`, the :class:`Board` of
  every task's newest report, samples, rates, ETA and the one-line status;
* :mod:`~ddbmigrate.progress.channel` — tasks → driver over a small HTTP listener;
* :mod:`~ddbmigrate.progress.monitor` — :func:`watch` a run: sampling, the log line, observers;
* :mod:`~ddbmigrate.progress.metrics` — CloudWatch custom metrics (namespace ``ddbmigrate``);
* :mod:`~ddbmigrate.progress.replication` — replication's lag and records applied, the same ways;
* :mod:`~ddbmigrate.progress.charts` — PNG charts and the series beside a report (matplotlib, CLI only).

Standard library only, except the charts: the rest runs on Glue workers. See docs/progress.md.
"""

from __future__ import annotations

from ddbmigrate.progress.channel import Channel, reporting
from ddbmigrate.progress.counters import Board, Goal, Sample, Series, Status, Totals, progress_line, status_of
from ddbmigrate.progress.metrics import NAMESPACE, MetricsPublisher, RunDimensions
from ddbmigrate.progress.monitor import (
    METRICS_CHOICES,
    Monitor,
    active_channel,
    last_monitor,
    observing,
    watch,
    watch_job,
)

__all__ = [
    "METRICS_CHOICES",
    "NAMESPACE",
    "Board",
    "Channel",
    "Goal",
    "MetricsPublisher",
    "Monitor",
    "RunDimensions",
    "Sample",
    "Series",
    "Status",
    "Totals",
    "active_channel",
    "last_monitor",
    "observing",
    "progress_line",
    "reporting",
    "status_of",
    "watch",
    "watch_job",
]
