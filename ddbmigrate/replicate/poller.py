"""Replication without Lambda: read the source's stream shard by shard and apply it to the target.

How it runs:

* **Shards.** DescribeStream (paginated) finds them; a child shard starts only once its parent is
  finished, or gone from the stream (trimmed). Shards run in parallel threads (at most
  ``max_shards``), the batches of one shard strictly one after another, each shard under a
  :class:`~ddbmigrate.replicate.checkpoints.Lease` renewed while it runs.
* **One batch.** GetRecords → :func:`~ddbmigrate.replicate.applier.plan_changes` →
  :func:`~ddbmigrate.replicate.applier.apply_changes` (which flushes the writer) → the writer's
  ``sync`` (its dead letters stored: fsynced, or an S3 object of their own) → checkpoint. In that
  order: a crash before the checkpoint only replays changes already applied (full-image writes make
  that harmless; a letter may be written twice), and a crash after it never loses a dead letter of
  a record it covers. A checkpoint is saved only while our lease holds. The next page is read
  while a batch is written (one page ahead, never applied before the batch's checkpoint), and a
  batch's writes — one per key after planning — go out on several writers at once.
* **Iterators.** TRIM_HORIZON without a checkpoint, AFTER_SEQUENCE_NUMBER of it otherwise (never
  AT_TIMESTAMP: changes before the cut-off are skipped by the applier). An expired iterator (they
  last 15 minutes) is replaced by a new one after the last checkpoint.
* **Gaps stop it.** ``TrimmedDataAccessException``, or a cut-off older than the 24-hour retention
  minus :data:`RETENTION_SAFETY`, raises :class:`ReplicationError`: changes are lost, the bulk
  load must be redone (or the Kinesis path used). It never continues past a gap.
* **When to stop.** ``until="caught-up"``: once every shard is finished or at its tip (an empty
  batch with the shard's lag under ``caught_up_lag``, or ``tip_empty_batches`` empty batches in a
  row: GetRecords may return empty pages while it crosses a quiet stretch of a shard).
  ``until="stopped"``: when ``stop`` is set. Clock and sleep are injected; waits end early on stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, NamedTuple

from botocore.exceptions import ClientError

from ddbmigrate.dynamodb import error_code
from ddbmigrate.errors import ReplicationError
from ddbmigrate.replicate.applier import ApplyPolicy, ReplicationStats, apply_changes, plan_changes
from ddbmigrate.replicate.checkpoints import (
    DEFAULT_LEASE_SECONDS,
    Checkpoint,
    CheckpointStore,
    Lease,
    new_owner_id,
    renew,
)
from ddbmigrate.replicate.local import Quirks, adapt_dynamodb_local
from ddbmigrate.replicate.records import WIRE_RECORDS, ChangeRecord, from_stream_record
from ddbmigrate.values import Item

__all__ = [
    "RETENTION",
    "RETENTION_SAFETY",
    "PollResult",
    "Poller",
    "PollerOptions",
    "ShardInfo",
    "ShardStatus",
    "check_retention",
    "describe_shards",
]

RETENTION = timedelta(hours=24)
"""How long DynamoDB Streams keeps a record."""
RETENTION_SAFETY = timedelta(hours=1)
"""Kept back from the retention: records near the edge may be trimmed before the poller reaches them."""

Until = Literal["caught-up", "stopped"]


@dataclass(frozen=True)
class ShardInfo:
    """A shard as DescribeStream lists it; ``closed`` once it has an ending sequence number."""

    shard_id: str
    parent_id: str | None
    closed: bool


@dataclass
class ShardStatus:
    """What the status line shows of one shard (updated by its thread, read by the caller's)."""

    shard_id: str
    state: str = "waiting"
    """waiting, running, caught-up, finished."""
    checkpoint: str | None = None
    seen: int = 0
    applied: int = 0
    """Of ``seen``: written to the target (the rest skipped, superseded or dead-lettered)."""
    lag_seconds: float | None = None
    records_per_second: float = 0.0


@dataclass(frozen=True)
class PollerOptions:
    """How the poller runs (what is applied is the :class:`ApplyPolicy`)."""

    stream_arn: str
    policy: ApplyPolicy
    until: Until = "caught-up"
    max_shards: int = 4
    batch_limit: int = 1000
    idle_wait: float = 1.0
    """Seconds between GetRecords calls that returned nothing."""
    caught_up_lag: float = 120.0
    tip_empty_batches: int = 3
    discover_every: float = 30.0
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    quirks: Quirks = "none"
    owner: str = field(default_factory=new_owner_id)


class _Page(NamedTuple):
    """A GetRecords page: its records, and the iterator after it (None: the shard is closed and read)."""

    records: list[ChangeRecord]
    next_iterator: str | None


@dataclass(frozen=True)
class PollResult:
    """Counts of the run (they reconcile) and each shard's last status."""

    stats: ReplicationStats
    shards: Mapping[str, ShardStatus]


def check_retention(cutoff: datetime, now: datetime, *, stream_arn: str) -> None:
    """Refuse a cut-off whose changes may already be trimmed from the stream (a gap)."""
    if cutoff < now - (RETENTION - RETENTION_SAFETY):
        raise ReplicationError(
            f"stream {stream_arn}: the cut-off {cutoff.isoformat(timespec='seconds')} is older than the stream's "
            f"24 h retention minus {RETENTION_SAFETY.total_seconds() / 3600:g} h; changes since then may be trimmed "
            "(a gap): redo the bulk load and start replication right after it, or use the Kinesis path")


def describe_shards(streams: Any, stream_arn: str) -> tuple[ShardInfo, ...]:
    """Every shard of the stream (DescribeStream pages through ``ExclusiveStartShardId``)."""
    shards: list[ShardInfo] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        shards += [ShardInfo(s["ShardId"], s.get("ParentShardId"),
                             "EndingSequenceNumber" in s.get("SequenceNumberRange", {}))
                   for s in description.get("Shards", ())]
        last = description.get("LastEvaluatedShardId")
        if not last:
            return tuple(shards)
        kwargs["ExclusiveStartShardId"] = last


def _gap(stream_arn: str, shard_id: str) -> ReplicationError:
    return ReplicationError(
        f"stream {stream_arn} shard {shard_id}: records past the last checkpoint were trimmed "
        "(TrimmedDataAccessException) — there is a gap: redo the bulk load and start replication again, "
        "or use the Kinesis path for loads longer than the 24 h retention")


class Poller:
    """Apply the stream ``options.stream_arn`` to the target; see the module docstring.

    ``writer_for(shard_id)`` opens a sink :class:`~ddbmigrate.sink.TableWriter` for one shard's
    thread (writers are not thread-safe; they may share one token bucket). ``transform`` is the
    bulk load's item mapping. ``on_status`` receives a shard's :class:`ShardStatus` after each batch.
    """

    def __init__(self, streams: Any, store: CheckpointStore, writer_for: Callable[[str], Any], options: PollerOptions,
                 *, transform: Callable[[Item], Item] | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None, stop: threading.Event | None = None,
                 on_status: Callable[[ShardStatus], None] | None = None) -> None:
        self.streams = streams
        self.store = store
        self.writer_for = writer_for
        self.options = options
        self.transform = transform
        self.clock = clock
        self.stop = stop or threading.Event()
        self.sleep = sleep or self.stop.wait
        self.on_status = on_status or (lambda status: None)
        self._lock = threading.Lock()
        self._stats = ReplicationStats()
        self._status: dict[str, ShardStatus] = {}

    # ------------------------------------------------------------------ coordination

    def run(self) -> PollResult:
        """Run until caught up or stopped; the first shard's error stops the others and is raised."""
        check_retention(self.options.policy.cutoff, datetime.fromtimestamp(self.clock(), timezone.utc),
                        stream_arn=self.options.stream_arn)
        running: dict[str, Future[str]] = {}
        pool = ThreadPoolExecutor(max_workers=self.options.max_shards, thread_name_prefix="shard")
        try:
            self._coordinate(pool, running)
        except BaseException:
            self.stop.set()
            raise
        finally:
            pool.shutdown(wait=True)
        for future in running.values():
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return PollResult(stats=self._stats, shards={k: replace(v) for k, v in self._status.items()})

    def _coordinate(self, pool: ThreadPoolExecutor, running: dict[str, Future[str]]) -> None:
        arn, options = self.options.stream_arn, self.options
        at_tip: set[str] = set()
        while not self.stop.is_set():
            shards = describe_shards(self.streams, arn)
            done = {s for s, c in self.store.checkpoints(arn).items() if c.finished}
            present = {s.shard_id for s in shards}
            ready = [s for s in shards if s.shard_id not in done | running.keys() | at_tip
                     and (s.parent_id is None or s.parent_id in done or s.parent_id not in present)]
            for shard in ready[: options.max_shards - len(running)]:
                self._status.setdefault(shard.shard_id, ShardStatus(shard.shard_id))
                running[shard.shard_id] = pool.submit(self._run_shard, shard)
            if not running:
                if options.until == "caught-up":
                    return
                self.sleep(options.idle_wait)
                at_tip.clear()  # until stopped: shards at their tip are polled again
                continue
            finished, _ = wait(running.values(), timeout=options.discover_every, return_when=FIRST_COMPLETED)
            for shard_id, future in list(running.items()):
                if future in finished:
                    del running[shard_id]
                    if future.result() == "caught-up":  # re-raises a shard's error
                        at_tip.add(shard_id)

    # ------------------------------------------------------------------ one shard

    def _run_shard(self, shard: ShardInfo) -> str:
        """Apply one shard until it is finished ("finished"), at its tip ("caught-up") or stopped ("stopped")."""
        arn, owner = self.options.stream_arn, self.options.owner
        lease = self.store.acquire(arn, shard.shard_id, owner=owner, now=self.clock(), duration=self.options.lease_seconds)
        writer = self.writer_for(shard.shard_id)
        status = self._status[shard.shard_id]
        status.state = "running"
        try:
            return self._drain(shard, lease, writer, status)
        finally:
            writer.close()
            self.store.release(lease)

    def _drain(self, shard: ShardInfo, lease: Lease, writer: Any, status: ShardStatus) -> str:
        arn, options = self.options.stream_arn, self.options
        checkpoint = self.store.checkpoints(arn).get(shard.shard_id) or Checkpoint(arn, shard.shard_id)
        status.checkpoint = checkpoint.sequence_number
        iterator: str | None = self._iterator(shard.shard_id, checkpoint.sequence_number)
        empty_in_row, newest_seen, started, rate_start = 0, 0.0, self.clock(), 0
        # one page is read ahead while the last one is written (GetRecords took a third of a batch's time)
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"records-{shard.shard_id}")
        ahead: Future[_Page] | None = None
        try:
            while not self.stop.is_set():
                if lease.remaining(self.clock()) < options.lease_seconds / 2:
                    lease = renew(self.store, lease, now=self.clock(), duration=options.lease_seconds)
                try:
                    page = (ahead or reader.submit(self._page, str(iterator), shard.shard_id)).result()
                except ClientError as exc:
                    ahead = None
                    code = error_code(exc)
                    if code == "ExpiredIteratorException":
                        iterator = self._iterator(shard.shard_id, checkpoint.sequence_number)
                        continue
                    if code == "TrimmedDataAccessException":
                        raise _gap(arn, shard.shard_id) from None
                    raise
                records, iterator = page.records, page.next_iterator
                ahead = reader.submit(self._page, iterator, shard.shard_id) if records and iterator else None
                if records:
                    stats = apply_changes(plan_changes(records, options.policy), writer, transform=self.transform)
                    writer.sync()  # the batch's dead letters are stored before the checkpoint that covers them
                    checkpoint = replace(checkpoint, sequence_number=records[-1].sequence_number)
                    self.store.save(checkpoint, owner=lease.owner)  # only after the flush: a crash here replays
                    newest_seen = max(newest_seen, max(r.created.timestamp() for r in records))
                    self._count(stats)
                    status.applied += stats.applied
                    empty_in_row = 0
                else:
                    empty_in_row += 1
                now = self.clock()
                status.checkpoint, status.seen = checkpoint.sequence_number, status.seen + len(records)
                status.lag_seconds = max(0.0, now - newest_seen) if newest_seen else None
                status.records_per_second = (status.seen - rate_start) / max(now - started, 1e-9)
                if iterator is None:  # closed and read to its end
                    self.store.save(replace(checkpoint, finished=True), owner=lease.owner)
                    status.state = "finished"
                    self.on_status(status)
                    return "finished"
                if not records and self._at_tip(status, empty_in_row):
                    status.state = "caught-up"
                    self.on_status(status)
                    if options.until == "caught-up":
                        return "caught-up"
                elif records:
                    status.state = "running"
                self.on_status(status)
                if not records:
                    self.sleep(options.idle_wait)
        finally:
            reader.shutdown(wait=True, cancel_futures=True)  # a page read ahead is dropped: the checkpoint is before it
        return "stopped"

    def _page(self, iterator: str, shard_id: str) -> _Page:
        """One GetRecords page of ``shard_id``, its records parsed (on the shard's reader thread)."""
        reply = self.streams.get_records(ShardIterator=iterator, Limit=self.options.batch_limit)
        wire = bool(reply.get(WIRE_RECORDS))
        return _Page([self._record(raw, shard_id, wire=wire) for raw in reply.get("Records", ())],
                     reply.get("NextShardIterator"))

    def _at_tip(self, status: ShardStatus, empty_in_row: int) -> bool:
        lag = status.lag_seconds
        return (lag is not None and lag <= self.options.caught_up_lag) or empty_in_row >= self.options.tip_empty_batches

    def _iterator(self, shard_id: str, after: str | None) -> str:
        kwargs: dict[str, Any] = {"StreamArn": self.options.stream_arn, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        try:
            return str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])
        except ClientError as exc:
            if error_code(exc) == "TrimmedDataAccessException":
                raise _gap(self.options.stream_arn, shard_id) from None
            raise

    def _record(self, raw: Mapping[str, Any], shard_id: str, *, wire: bool = False) -> ChangeRecord:
        if self.options.quirks == "dynamodb-local":
            raw = adapt_dynamodb_local(raw)
        return from_stream_record(raw, stream_arn=self.options.stream_arn, shard_id=shard_id, wire=wire)

    def _count(self, stats: ReplicationStats) -> None:
        with self._lock:
            self._stats = self._stats.merge(stats)

    def statuses(self) -> Sequence[ShardStatus]:
        """A snapshot of every shard's status (for a status line drawn by another thread)."""
        return [replace(s) for s in list(self._status.values())]

