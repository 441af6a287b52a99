"""Several writers per task, each on its own thread, so requests are in flight while the task reads on.

With one :class:`~ddbmigrate.sink.writer.TableWriter` a task waits out every request, so a job never
has more requests in flight than cores. A pool of ``count`` writers keeps per-key order (items are
routed by a stable hash of their key), shares the task's one token bucket (never faster than one
writer would be allowed) and merges the writers' counts at :meth:`WriterPool.close`; a writer that
gives up makes the pool raise its :class:`~ddbmigrate.errors.SinkError` once the others have
flushed. ``count=1`` is the plain writer on the calling thread. See docs/sink.md, "Writers per task".
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from ddbmigrate.errors import SinkError
from ddbmigrate.ratelimit import TokenBucket
from ddbmigrate.sink.stats import SinkStats
from ddbmigrate.sink.writer import TableWriter
from ddbmigrate.values import Item, key_of

__all__ = ["WriterPool", "key_hash"]

_CHUNK = 25
"""Messages handed to a writer's thread at once (one batch's worth). Handing them over one by one
woke the writer's thread for nearly every item: a context switch and a GIL hand-off from the
reading thread each time, for a few microseconds of work."""
_QUEUED_CHUNKS = 8
"""Chunks waiting for one writer at most (200 items): enough to keep it busy, little enough to bound memory."""
_STOP = None


def key_hash(item: Any, key_schema: Sequence[Any]) -> int:
    """A hash of the item's primary key that is the same in every process (no salted ``hash()``).

    An item whose key cannot be read hashes to 0: whichever writer gets it dead-letters it.
    """
    try:
        return zlib.crc32(repr(key_of(item, key_schema)).encode("utf-8"))
    except Exception:
        return 0


def _writer_of(item: Item, key_schema: Sequence[Any], writers: int) -> int:
    """Which of this pool's writers takes ``item``: every write of one key goes to the same writer, so
    they stay in order. Python's own ``hash`` of the key (salted per process, which is all a pool needs;
    a third of :func:`key_hash`'s cost). An item whose key cannot be read goes to the first writer."""
    try:
        return hash(key_of(item, key_schema)) % writers
    except Exception:
        return 0


class WriterPool:
    """``count`` writers made by ``make_writer(index, bucket)``; use as a context manager.

    ``rate`` is the task's WCU per second (``None``: unlimited), shared through one bucket.
    """

    def __init__(self, make_writer: Callable[[int, TokenBucket | None], TableWriter], count: int, *,
                 key_schema: Sequence[Any], rate: float | None) -> None:
        if count < 1:
            raise SinkError(f"requests in flight per task must be at least 1, got {count}")
        self._bucket = TokenBucket(rate) if rate is not None else None
        self._writers = [make_writer(index, self._bucket) for index in range(count)]
        self._key_schema = key_schema
        self._failure: BaseException | None = None
        self._closed = False
        self._queues: list[queue.Queue[Any]] = []
        self._pending: list[list[tuple[Any, ...]]] = []
        self._threads: list[threading.Thread] = []
        if count > 1:
            for writer in self._writers:
                inbox: queue.Queue[Any] = queue.Queue(maxsize=_QUEUED_CHUNKS)
                thread = threading.Thread(target=self._drain, args=(writer, inbox), daemon=True,
                                          name=f"ddbmigrate-writer-{len(self._threads)}")
                thread.start()
                self._queues.append(inbox)
                self._pending.append([])
                self._threads.append(thread)

    # ------------------------------------------------------------------ the writer API

    def put(self, item: Item, *, origin: str = "", size: int | None = None, document: Any = None) -> None:
        self._send(item, ("put", item, origin, size, document))

    def delete(self, key: Item, *, origin: str = "") -> None:
        self._send(key, ("delete", key, origin))

    def reject(self, reason: str, *, origin: str = "", key: Item | None = None, item: Item | None = None) -> None:
        self._send(key or item, ("reject", reason, origin, key, item))

    def flush(self) -> None:
        """Return once everything handed over so far is written or dead-lettered (:meth:`TableWriter.flush`
        in each writer, in parallel): replication's batch boundary. Raises a writer's failure."""
        self._wait_for("flush")

    def sync(self) -> None:
        """Return once everything handed over so far is written or durably dead-lettered
        (:meth:`TableWriter.sync` in each writer): what a caller waits for before it records
        progress (a data file done, a Scan page). Raises a writer's failure."""
        self._wait_for("sync")

    def _wait_for(self, step: str) -> None:
        if self._failure is not None:
            raise self._failure
        if not self._threads:
            try:
                getattr(self._writers[0], step)()
            except BaseException as exc:
                self._failure = exc
                raise
            return
        synced = [threading.Event() for _ in self._queues]
        for index, (inbox, event) in enumerate(zip(self._queues, synced, strict=True)):
            chunk, self._pending[index] = self._pending[index], []
            inbox.put([*chunk, (step, event)])
        for event in synced:
            event.wait()
        if self._failure is not None:
            raise self._failure

    def close(self) -> SinkStats:
        """Let every writer finish and close; return their merged counters. Raises a writer's failure."""
        if not self._closed:
            self._closed = True
            if self._threads:
                for inbox, pending in zip(self._queues, self._pending, strict=True):
                    if pending:
                        inbox.put(pending)
                    inbox.put(_STOP)
                for thread in self._threads:
                    thread.join()
            else:
                try:
                    self._writers[0].close()
                except BaseException as exc:
                    self._failure = self._failure or exc
        if self._failure is not None:
            raise self._failure
        return self.stats

    @property
    def stats(self) -> SinkStats:
        merged = SinkStats()
        for writer in self._writers:
            merged.merge(writer.stats)
        if self._bucket is not None:  # each writer reports the shared bucket's wait: count it once
            merged.waited_seconds = self._bucket.waited_seconds
        return merged

    def __enter__(self) -> WriterPool:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.close()
        except BaseException:
            if exc is None:  # an error already on its way out wins; else the writers' failure is raised
                raise

    # ------------------------------------------------------------------ routing

    def _send(self, routing: Any, message: tuple[Any, ...]) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise SinkError("this writer pool is closed")
        if not self._threads:
            try:
                self._apply(self._writers[0], message)
            except BaseException as exc:
                self._failure = exc
                raise
            return
        index = _writer_of(routing, self._key_schema, len(self._queues)) if isinstance(routing, dict) else 0
        pending = self._pending[index]
        pending.append(message)
        if len(pending) >= _CHUNK:
            self._pending[index] = []
            self._queues[index].put(pending)

    def _drain(self, writer: TableWriter, inbox: queue.Queue[Any]) -> None:
        """One writer's thread: apply chunks of messages until the stop mark; after a failure, only drain."""
        failed = False
        for chunk in iter(inbox.get, _STOP):
            for message in chunk:
                if message[0] in ("sync", "flush"):  # always answered, even after a failure: the caller waits
                    if not (failed or self._failure is not None):
                        try:
                            getattr(writer, message[0])()
                        except BaseException as exc:
                            failed = True
                            self._failure = self._failure or exc
                    message[1].set()
                    continue
                if failed or self._failure is not None:
                    continue  # the pool raises at the caller's next call; keep the queue moving meanwhile
                try:
                    self._apply(writer, message)
                except BaseException as exc:
                    failed = True
                    self._failure = self._failure or exc
        try:
            writer.close()
        except BaseException as exc:
            self._failure = self._failure or exc

    @staticmethod
    def _apply(writer: TableWriter, message: tuple[Any, ...]) -> None:
        if message[0] == "put":
            _, item, origin, size, document = message
            writer.put(item, origin=origin, size=size, document=document)
        elif message[0] == "delete":
            writer.delete(message[1], origin=message[2])
        else:
            _, reason, origin, key, item = message
            writer.reject(reason, origin=origin, key=key, item=item)
