"""The driver's side of live progress: one :class:`Monitor` per running job.

It owns the board the tasks report into (through the :class:`~ddbmigrate.progress.channel.Listener`),
samples it every ``tick`` seconds into a series, and hands each status to whoever watches: the
local bar (an observer, :func:`observing`), the Glue log line and CloudWatch metrics (every 60 s),
the charts after the run. The pipelines open it with :func:`watch`; the sink finds its channel with
:func:`active_channel`, so no option is threaded through the stages. Clock and sinks are injected.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from ddbmigrate.progress import channel as _channel
from ddbmigrate.progress.channel import Channel, Listener
from ddbmigrate.progress.counters import Board, Goal, Sample, Series, Status, Totals, progress_line, status_of
from ddbmigrate.progress.metrics import MetricsPublisher, RunDimensions

__all__ = ["LOG_INTERVAL", "METRICS_CHOICES", "Monitor", "active_channel", "last_monitor", "observing", "watch",
           "watch_job"]

log = logging.getLogger(__name__)

LOG_INTERVAL = 60.0
"""Seconds between two progress lines in the driver's log (and two metric publications)."""
METRICS_CHOICES = ("auto", "on", "off")
"""``auto``: publish on AWS Glue only (a run id Glue gave, not ``jr_local_…``)."""

TICK = 1.0
"""Seconds between two samples of the board on the driver (what the bar redraws from)."""

Observer = Callable[["Monitor"], None]

_lock = threading.Lock()
_active: Monitor | None = None
_last: Monitor | None = None
_observers: list[Observer] = []


@dataclass(frozen=True)
class RunInfo:
    """What one watched run is: its name in logs and metrics, and what it is measured against."""

    label: str
    goal: Goal
    dimensions: RunDimensions | None = None


class Monitor:
    """Samples a :class:`Board`; ``tick()`` is what the timer thread calls (tests call it directly)."""

    def __init__(self, info: RunInfo, *, board: Board | None = None, clock: Callable[[], float] = time.monotonic,
                 publisher: MetricsPublisher | None = None, log_interval: float = LOG_INTERVAL,
                 emit: Callable[[str], None] | None = None) -> None:
        self.info = info
        self.board = board or Board()
        self.series = Series()
        self.channel: Channel | None = None
        self.publisher = publisher
        self._clock = clock
        self._started = clock()
        self._log_interval = log_interval
        self._last_logged: float | None = None
        self._emit = emit or (lambda line: log.info("%s", line))
        self._tick_lock = threading.Lock()

    @property
    def goal(self) -> Goal:
        return self.info.goal

    def status(self) -> Status:
        return status_of(self.series.samples, self.goal)

    def tick(self, *, final: bool = False) -> Status:
        """Take a sample; log it and publish it when due (always when ``final``); tell the observers."""
        with self._tick_lock:
            now = self._clock() - self._started
            self.series.add(Sample(now, self.board.totals()))
            status = self.status()
            if final or self._last_logged is None or now - self._last_logged >= self._log_interval:
                self._last_logged = now
                self._emit(progress_line(status, label=self.info.label))
                if self.publisher is not None:
                    self.publisher.publish(status)
        for observer in list(_observers):
            try:
                observer(self)
            except Exception:  # an observer (the bar) never stops the job
                log.debug("progress observer failed", exc_info=True)
        return status

    def last_totals(self) -> Totals:
        return self.series.samples[-1].totals if self.series.samples else Totals()


def active_channel() -> Channel | None:
    """The running job's channel, for tasks to report into (None when nothing watches)."""
    monitor = _active
    return monitor.channel if monitor is not None else None


def last_monitor() -> Monitor | None:
    """The monitor of the run that ran last in this process (its series, for the report)."""
    return _last


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Call ``observer(monitor)`` at every sample of any run watched during the block (the local bar)."""
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


@contextmanager
def watch(info: RunInfo, *, host: str = "127.0.0.1", advertise: str | None = None, tick: float | None = None,
          report_interval: float | None = None, publisher: MetricsPublisher | None = None,
          clock: Callable[[], float] = time.monotonic, emit: Callable[[str], None] | None = None) -> Iterator[Monitor]:
    """Listen for the tasks' reports for the block's duration, sampling every ``tick`` seconds
    (default :data:`TICK`); tasks report every ``report_interval`` (default ``channel.REPORT_INTERVAL``).

    A listener that cannot start (no free port, a sandbox) leaves the job unwatched, never failed.
    """
    global _active, _last
    monitor = Monitor(info, clock=clock, publisher=publisher, emit=emit)
    listener = None
    try:
        listener = Listener(monitor.board, host=host, advertise=advertise,
                            interval=report_interval or _channel.REPORT_INTERVAL)
        monitor.channel = listener.channel
    except OSError as exc:
        log.warning("live progress off: cannot listen on %s (%s)", host, exc)
    stop = threading.Event()

    every = tick or TICK

    def run() -> None:
        while not stop.wait(every):
            monitor.tick()

    timer = threading.Thread(target=run, name="ddbmigrate-progress-timer", daemon=True)
    with _lock:
        _active = monitor
    timer.start()
    try:
        yield monitor
    finally:
        stop.set()
        timer.join()
        with _lock:
            _active = None
            _last = monitor
        if listener is not None:
            listener.close()
        monitor.tick(final=True)


def watch_job(spark: Any, *, table: str, goal: Goal, metrics: str = "auto", account: Any = None,
              argv: Sequence[str] | None = None) -> AbstractContextManager[Monitor]:
    """:func:`watch` for a Spark job: the listener where executors reach the driver, dimensions
    from Glue's ``--JOB_NAME``/``--JOB_RUN_ID``, CloudWatch per ``metrics`` with ``account``'s client."""
    argv = sys.argv if argv is None else argv
    job_name, run_id = _argv_value(argv, "--JOB_NAME") or "ddbmigrate", _argv_value(argv, "--JOB_RUN_ID") or "local"
    dimensions = RunDimensions(job_name, run_id, table)
    publisher = None
    on_glue = run_id.startswith("jr_") and not run_id.startswith("jr_local")
    if account is not None and (metrics == "on" or (metrics == "auto" and on_glue)):
        try:
            publisher = MetricsPublisher(account.client("cloudwatch"), dimensions)
        except Exception as exc:  # no region, no credentials: the job goes on unmeasured
            log.warning("CloudWatch metrics off: no client (%s)", exc)
    host, advertise = _listen_address(spark)
    emit = _print_line if on_glue and not _logged(log) else None
    return watch(RunInfo(table, goal, dimensions), host=host, advertise=advertise, publisher=publisher, emit=emit)


def _logged(logger: logging.Logger) -> bool:
    """Whether an INFO record of ``logger`` reaches a handler (a Glue script seldom configures logging)."""
    if not logger.isEnabledFor(logging.INFO):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return True
        current = current.parent if current.propagate else None
    return False


def _print_line(line: str) -> None:
    """The driver's stdout: what Glue's continuous log records when logging is not configured."""
    print(line, flush=True)


def _argv_value(argv: Sequence[str], name: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _listen_address(spark: Any) -> tuple[str, str | None]:
    """Loopback for a local master; else every interface, advertised as ``spark.driver.host``."""
    try:
        context = spark.sparkContext
        master = context.master or ""
        driver = context.getConf().get("spark.driver.host")
    except Exception:
        return "127.0.0.1", None
    if master.startswith("local"):
        return "127.0.0.1", None
    return "0.0.0.0", driver or socket.gethostname()
