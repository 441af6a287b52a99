"""One replication run as the CLI (and later ``migrate``) starts it: preflight, then the poller.

:func:`preflight` refuses, before anything is written, what would lose changes or cannot work: the
source's stream is off, has no new images, was created after the cut-off (changes before it were
never recorded: export again), or the cut-off is past the stream's retention; or the mapping does
not turn the source's key into the target's. :func:`run_replication` then polls the stream with one
writer per shard, all drawing on one token bucket (the write percent of the target's capacity).
:func:`replication_status` reads where each shard stands without applying anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_WRITE_PERCENT, task_budget
from ddbmigrate.dynamodb import TableDescription, describe_table
from ddbmigrate.errors import ConfigError, InvalidItemError, MappingError, ReplicationError
from ddbmigrate.ratelimit import TokenBucket
from ddbmigrate.replicate.applier import ApplyPolicy, TtlPolicy
from ddbmigrate.replicate.checkpoints import DEFAULT_LEASE_SECONDS, CheckpointStore, new_owner_id
from ddbmigrate.replicate.local import Quirks, is_dynamodb_local_stream
from ddbmigrate.replicate.poller import (
    Poller,
    PollerOptions,
    PollResult,
    ShardStatus,
    Until,
    check_retention,
    describe_shards,
)
from ddbmigrate.replicate.records import NEW_IMAGE_VIEW_TYPES, read_wire_records
from ddbmigrate.values import Item, validate_key

__all__ = [
    "DEFAULT_MARGIN",
    "WRITERS_PER_SHARD",
    "Preflight",
    "ReplicationOptions",
    "ShardReport",
    "preflight",
    "replication_status",
    "run_replication",
    "stream_created",
]

DEFAULT_MARGIN = timedelta(minutes=5)
WRITERS_PER_SHARD = 4
"""Requests in flight per shard (a sink :class:`~ddbmigrate.sink.pool.WriterPool`). A batch holds one
change per key, so its writes are independent and go out in parallel; the batch is flushed before
its checkpoint, so per-key order holds across batches. With one writer a shard waited out every
request: 0.39 of the raw ceiling in bench/ (DynamoDB Local has one shard per table)."""

_SAMPLE_KEY = {"S": {"S": "k"}, "N": {"N": "1"}, "B": {"B": b"k"}}


@dataclass(frozen=True)
class ReplicationOptions:
    """Everything a run needs (built by the CLI from its options, or by code)."""

    source: Account
    source_table: str
    target: Account
    target_table: str
    cutoff: datetime
    """The export time (or the user's cut-off), timezone-aware: the stream must be on by then."""
    store: CheckpointStore
    margin: timedelta = DEFAULT_MARGIN
    """Replay starts this much before ``cutoff``; stream timestamps are approximate (AWS: the second,
    DynamoDB Local: the minute)."""
    transform: Callable[[Item], Item] | None = None
    write_percent: float = DEFAULT_WRITE_PERCENT
    dead_letter: str | None = None
    until: Until = "caught-up"
    ttl_deletes: TtlPolicy = "replicate"
    quirks: Quirks | None = None
    """None: DynamoDB Local's quirks when the stream is DynamoDB Local's, else none."""
    max_shards: int = 4
    idle_wait: float = 1.0
    writers_per_shard: int = WRITERS_PER_SHARD
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    """A shard's lease lasts this long unless renewed: how long a killed run blocks a restart."""
    owner: str = field(default_factory=new_owner_id)

    @property
    def replay_from(self) -> datetime:
        """Changes created before it are skipped (already in the export)."""
        return self.cutoff - self.margin


@dataclass(frozen=True)
class Preflight:
    """What the checks found: the stream to poll and both tables."""

    stream_arn: str
    source: TableDescription
    target: TableDescription


def stream_created(stream_arn: str) -> datetime:
    """When a stream was enabled: its label (the ARN's tail, an ISO time in UTC)."""
    label = stream_arn.rsplit("/stream/", 1)[-1]
    try:
        return datetime.fromisoformat(label).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ReplicationError(f"stream {stream_arn}: its label {label!r} is not a time") from None


def preflight(options: ReplicationOptions, *, now: datetime | None = None, streams: Any = None) -> Preflight:
    """Refuse (one :class:`ReplicationError` or :class:`ConfigError`, nothing written) what cannot replay losslessly."""
    now = now or datetime.now(timezone.utc)
    source = describe_table(options.source, options.source_table, option="--source-table")
    table = f"source table {source.name!r} ({options.source.describe()})"
    if not source.stream_arn or not source.stream_view_type:
        raise ReplicationError(f"{table} has no stream enabled: enable it with NEW_IMAGE or NEW_AND_OLD_IMAGES "
                               "before the export, then export again")
    if source.stream_view_type not in NEW_IMAGE_VIEW_TYPES:
        raise ReplicationError(f"{table} has a {source.stream_view_type} stream, without new images; replication writes "
                               "full new images: enable the stream with NEW_IMAGE or NEW_AND_OLD_IMAGES and export again")
    created = stream_created(source.stream_arn)
    if created > options.cutoff:
        raise ReplicationError(
            f"{table}: its stream was enabled at {created.isoformat(timespec='seconds')}, after the cut-off "
            f"{options.cutoff.isoformat(timespec='seconds')}; changes in between were never recorded: export again")
    check_retention(options.replay_from, now, stream_arn=source.stream_arn)
    target = describe_table(options.target, options.target_table, option="--target-table")
    _check_key_mapping(source, target, options.transform)
    if streams is not None:
        describe_shards(streams, source.stream_arn)  # the stream answers
    return Preflight(source.stream_arn, source, target)


def _check_key_mapping(source: TableDescription, target: TableDescription, transform: Callable[[Item], Item] | None) -> None:
    """The source's key, mapped, must be a key of the target (names and types)."""
    key = {name: _SAMPLE_KEY[source.attribute_types[name]] for name in source.key_names}
    try:
        mapped = transform(key) if transform is not None else key
        validate_key(mapped, target.key_schema, target.attribute_types, where="the source's key, mapped,")
    except (InvalidItemError, MappingError) as exc:
        raise ConfigError(f"--mapping does not fit: source table {source.name!r} has key "
                          f"{', '.join(source.key_names)}; target table {target.name!r} needs "
                          f"{', '.join(target.key_names)} ({exc})") from None


def run_replication(options: ReplicationOptions, *, stop: threading.Event | None = None,
                    on_status: Callable[[ShardStatus], None] | None = None, clock: Callable[[], float] = time.time,
                    sleep: Callable[[float], None] | None = None) -> PollResult:
    """Preflight, then poll until caught up or stopped (see :mod:`ddbmigrate.replicate.poller`)."""
    from ddbmigrate.sink import SinkOptions, open_writer
    from ddbmigrate.sink.pool import WriterPool

    streams = options.source.client("dynamodbstreams")
    read_wire_records(streams)
    checked = preflight(options, now=datetime.fromtimestamp(clock(), timezone.utc), streams=streams)
    quirks = options.quirks or ("dynamodb-local" if is_dynamodb_local_stream(checked.stream_arn) else "none")
    sink = SinkOptions(table=options.target_table, target=options.target, write_percent=options.write_percent,
                       dead_letter=options.dead_letter, requests_in_flight=options.writers_per_shard)
    bucket = TokenBucket(task_budget(checked.target.write_capacity, options.write_percent, 1))
    run_id = options.owner.rsplit("/", 1)[-1]

    def writer_for(shard_id: str) -> Any:
        def make(index: int, _: Any) -> Any:  # every writer of every shard draws on the one bucket
            suffix = f"-{index}" if index else ""
            return open_writer(sink, name=f"replicate-{shard_id}-{run_id}{suffix}", bucket=bucket)

        return WriterPool(make, sink.requests_in_flight, key_schema=checked.target.key_schema, rate=None)

    poller = Poller(streams, options.store, writer_for, PollerOptions(
        stream_arn=checked.stream_arn, policy=ApplyPolicy(options.replay_from, options.ttl_deletes), until=options.until,
        max_shards=options.max_shards, idle_wait=options.idle_wait, quirks=quirks, owner=options.owner,
        lease_seconds=options.lease_seconds),
        transform=options.transform, clock=clock, sleep=sleep, stop=stop, on_status=on_status)
    return poller.run()


@dataclass(frozen=True)
class ShardReport:
    """One shard in ``replicate status``: where it stands and how far behind."""

    shard_id: str
    parent_id: str | None
    checkpoint: str | None
    finished: bool
    pending: int
    """Records after the checkpoint in the next GetRecords page (0: nothing waiting)."""
    lag_seconds: float | None
    """Age of the oldest change not yet applied (None: none waiting)."""

    @property
    def caught_up(self) -> bool:
        return self.finished or self.pending == 0


def replication_status(source: Account, source_table: str, store: CheckpointStore, *,
                       now: float | None = None) -> tuple[str, list[ShardReport]]:
    """Per shard: the checkpoint, what waits after it and how old it is. Applies nothing."""
    info = describe_table(source, source_table, option="--source-table")
    if not info.stream_arn:
        raise ReplicationError(f"source table {info.name!r} ({source.describe()}) has no stream enabled")
    streams = source.client("dynamodbstreams")
    checkpoints = store.checkpoints(info.stream_arn)
    now = time.time() if now is None else now
    reports = []
    for shard in describe_shards(streams, info.stream_arn):
        checkpoint = checkpoints.get(shard.shard_id)
        if checkpoint is not None and checkpoint.finished:
            reports.append(ShardReport(shard.shard_id, shard.parent_id, checkpoint.sequence_number, True, 0, None))
            continue
        after = checkpoint.sequence_number if checkpoint else None
        kwargs: Mapping[str, Any] = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                                     if after else {"ShardIteratorType": "TRIM_HORIZON"})
        iterator = streams.get_shard_iterator(StreamArn=info.stream_arn, ShardId=shard.shard_id, **kwargs)["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000).get("Records", [])
        oldest = records[0]["dynamodb"]["ApproximateCreationDateTime"].timestamp() if records else None
        reports.append(ShardReport(shard.shard_id, shard.parent_id, after, False, len(records),
                                   max(0.0, now - oldest) if oldest is not None else None))
    return info.stream_arn, reports
