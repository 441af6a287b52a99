"""How running tasks reach the driver: a small HTTP listener on the driver, reports posted to it.

Spark accumulators arrive only when a task ends, and a writing task may run for hours; so each
task posts its running totals to the driver every few seconds, over plain HTTP (standard library
only: it runs on Glue workers). On Glue the executors reach the driver at ``spark.driver.host``
(Spark's own block manager and RPC use that path); locally it is loopback. A report carries a
per-run token, and progress never fails a job: a report that cannot be delivered is dropped (the
next one carries the same running totals). Why this and not a file, S3 or CloudWatch: docs/progress.md.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ddbmigrate.progress.counters import Board, Totals

__all__ = ["REPORT_INTERVAL", "Channel", "Listener", "TaskReporter", "reporting"]

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0
"""Seconds between two reports of one task (the issue asks for at most 10)."""
_TIMEOUT = 2.0
_MAX_BODY = 64 * 1024
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Straight to the driver: an ``HTTP_PROXY`` of the environment must not carry reports away."""


@dataclass(frozen=True)
class Channel:
    """Where a task posts its reports (picklable: it travels in the task's closure)."""

    url: str
    token: str
    interval: float = REPORT_INTERVAL
    """Seconds between two reports of one task: the driver decides, the tasks follow."""


class Listener:
    """The driver's end: an HTTP server on its own threads, writing reports into ``board``."""

    def __init__(self, board: Board, *, host: str = "127.0.0.1", advertise: str | None = None,
                 interval: float = REPORT_INTERVAL) -> None:
        self.board = board
        token = secrets.token_hex(16)
        self.rejected = 0

        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    if length > _MAX_BODY:
                        raise ValueError("report too large")
                    report = json.loads(self.rfile.read(length))
                    if not isinstance(report, dict) or report.get("token") != token:
                        raise ValueError("bad token")
                    listener.board.update(str(report["task"]), Totals.from_dict(report["totals"]),
                                          attempt=int(report.get("attempt", 0)), seq=int(report.get("seq", 0)))
                except (ValueError, KeyError, TypeError):
                    listener.rejected += 1
                    self.send_response(400)
                else:
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.channel = Channel(f"http://{advertise or host}:{port}/progress", token, interval)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="ddbmigrate-progress-listener", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class TaskReporter:
    """One task's end: posts ``read()``'s running totals every ``interval`` s on its own thread, and
    once more, synchronously, when the task's work ends — so the board's last word is the task's."""

    def __init__(self, channel: Channel, task: str, *, attempt: int = 0, interval: float = REPORT_INTERVAL,
                 post: Callable[[Channel, dict[str, Any]], None] | None = None) -> None:
        self._channel = channel
        self._task = task
        self._attempt = attempt
        self._interval = interval
        self._post = post or _post
        self._seq = 0
        self._read: Callable[[], Totals] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._warned = False
        self._thread = threading.Thread(target=self._loop, name=f"ddbmigrate-progress-{task}", daemon=True)

    def follow(self, read: Callable[[], Totals]) -> None:
        """Start reporting what ``read`` returns (called on the reporter's thread: keep it cheap)."""
        self._read = read
        self._thread.start()

    def report(self) -> None:
        if self._read is None:
            return
        with self._lock:
            self._seq += 1
            body = {"token": self._channel.token, "task": self._task, "attempt": self._attempt, "seq": self._seq,
                    "totals": self._read().as_dict()}
            try:
                self._post(self._channel, body)
            except Exception as exc:  # progress never fails a job; the next report carries the same totals
                if not self._warned:
                    self._warned = True
                    log.warning("progress report to %s failed (%s); the job goes on", self._channel.url,
                                type(exc).__name__)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.report()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.report()


@contextmanager
def reporting(channel: Channel | None, task: str, *, attempt: int = 0) -> Iterator[TaskReporter | None]:
    """A :class:`TaskReporter` for the block (None without a channel); its final report on exit."""
    if channel is None:
        yield None
        return
    reporter = TaskReporter(channel, task, attempt=attempt, interval=channel.interval)
    try:
        yield reporter
    finally:
        reporter.close()


def _post(channel: Channel, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(channel.url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    started = time.monotonic()
    with _OPENER.open(request, timeout=_TIMEOUT) as response:
        response.read()
    log.debug("progress report posted in %.3fs", time.monotonic() - started)
