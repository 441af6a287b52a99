"""The local view of a watched run: a progress row per run on the command's bar, and ``--report DIR``.

The row is an observer of :mod:`ddbmigrate.progress` (the same samples the Glue log line and the
CloudWatch metrics are made from): items settled of the run's total, items/s, WCU/s next to the
budget, the dead letters and the ETA. After the run, ``--report DIR`` writes the charts and the
series of the run that ran last (:func:`ddbmigrate.progress.charts.write_charts`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

from ddbmigrate.progress import Monitor, Status, last_monitor, observing
from ddbmigrate.progress.counters import format_duration

__all__ = ["RunMetricsView", "describe_status", "item_rows", "quiet_spark_logs", "write_run_report"]


def describe_status(status: Status) -> str:
    """``812 items/s · 405/500 WCU/s · dead-lettered 0 · ETA 1m10s`` (the bar's text after the count)."""
    budget = f"/{status.goal.budget_wcu:,.0f}" if status.goal.budget_wcu else ""
    dead = status.totals.dead_lettered
    dead_text = f"[red]dead-lettered {dead:,}[/red]" if dead else "dead-lettered 0"
    return (f"{status.items_per_second:,.0f} items/s · {status.wcu_per_second:,.0f}{budget} WCU/s · "
            f"{dead_text} · ETA {format_duration(status.eta_seconds)}")


@contextmanager
def item_rows(progress: Progress) -> Iterator[None]:
    """While the block runs, each watched run gets a row on ``progress`` (fields ``unit`` and ``rates``)."""
    rows: dict[int, TaskID] = {}

    def observe(monitor: Monitor) -> None:
        status = monitor.status()
        row = rows.get(id(monitor))
        if row is None:
            row = rows[id(monitor)] = progress.add_task(f"writing {monitor.info.label}", total=monitor.goal.total_items,
                                                        unit="items", rates="")
        progress.update(row, completed=status.totals.done, rates=describe_status(status))

    with observing(observe):
        yield


class RunMetricsView:
    """A Glue run's ddbmigrate metrics read back from CloudWatch, one line per table (``start --follow``).

    Reading them must never end the follow: an error (no ``cloudwatch:GetMetricStatistics``, say)
    becomes the line itself.
    """

    def __init__(self, client: Any, job_name: str, run_id: str) -> None:
        self._client, self._job, self._run = client, job_name, run_id
        self.last = ""

    def refresh(self) -> str:
        from ddbmigrate.progress.metrics import read_run_metrics

        try:
            found = read_run_metrics(self._client, self._job, self._run)
        except Exception as exc:  # botocore's errors, a missing region: shown, never raised
            self.last = f"metrics unavailable ({type(exc).__name__})"
        else:
            self.last = " | ".join(m.line() for m in found)
        return self.last


def write_run_report(folder: str, console: Console) -> Any:
    """The last run's charts and series into ``folder``; says where (nothing to do when none ran)."""
    from ddbmigrate.progress.charts import write_charts

    monitor = last_monitor()
    if monitor is None or not monitor.series.samples:
        console.print(f"report: no watched run to chart; nothing written to {folder}")
        return None
    files = write_charts(monitor.series, monitor.goal, folder, title=monitor.info.label)
    console.print(f"report: {files.wcu}, {files.items}, {files.series_csv}, {files.series_json}")
    return files


_LOG4J2 = """\
# ddbmigrate run: only Spark's errors reach the terminal (its start-up warnings are noise there).
# The root level stays WARN, the level Spark gives a shell (PySpark counts as one), so Spark has no
# level change to announce; the console's threshold filter drops everything below ERROR instead.
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
appender.stderr.filter.threshold.type = ThresholdFilter
appender.stderr.filter.threshold.level = error
"""


@contextmanager
def quiet_spark_logs(starting: bool = True) -> Iterator[None]:
    """While a local Spark starts in the block, its log4j2 configuration logs errors only.

    Spark reads ``log4j2.properties`` from ``SPARK_CONF_DIR`` when its JVM starts; a folder the
    user set is theirs and left alone, as is an already running session (``starting`` False).
    """
    if not starting or os.environ.get("SPARK_CONF_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="ddbmigrate-spark-conf-") as folder:
        Path(folder, "log4j2.properties").write_text(_LOG4J2, encoding="utf-8")
        os.environ["SPARK_CONF_DIR"] = folder
        try:
            yield
        finally:
            os.environ.pop("SPARK_CONF_DIR", None)
