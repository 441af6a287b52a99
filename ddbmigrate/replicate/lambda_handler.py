"""The stream-replication Lambda: ``ddbmigrate.replicate.lambda_handler.handler``.

A DynamoDB Streams event (one shard's records, in order) is parsed with
:func:`~ddbmigrate.replicate.records.from_lambda_record`, planned and applied in chunks through
one sink per container (the target client with refreshing assumed-role credentials, its rate
budget), and answered with a partial batch response naming the first record *not* applied.
Configuration is :class:`LambdaSettings`, read once per container from environment variables that
``replication/template.yaml`` sets from its parameters. docs/replication.md tells the whole story.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_WRITE_PERCENT, validate_percent
from ddbmigrate.errors import ConfigError, DdbMigrateError, ReplicationError
from ddbmigrate.export.layout import parse_time
from ddbmigrate.progress.metrics import NAMESPACE, RECORDS_APPLIED, REPLICATION_LAG
from ddbmigrate.replicate.applier import (
    TTL_POLICIES,
    ApplyPolicy,
    ReplicationStats,
    TtlPolicy,
    apply_changes,
    plan_changes,
)
from ddbmigrate.replicate.checkpoints import (
    DEFAULT_LEASE_SECONDS,
    STREAM_WIDE,
    CheckpointStore,
    TableCheckpoints,
)
from ddbmigrate.replicate.records import NEW_IMAGE_VIEW_TYPES, ChangeRecord, from_lambda_record
from ddbmigrate.replicate.runner import DEFAULT_MARGIN
from ddbmigrate.sink import SinkOptions, TableWriter, open_writer
from ddbmigrate.values import Item

__all__ = [
    "ENVIRONMENT",
    "METRICS_NAMESPACE",
    "BatchOutcome",
    "LambdaSettings",
    "ReplicationFunction",
    "handler",
]

METRICS_NAMESPACE = NAMESPACE

ENVIRONMENT: Mapping[str, str] = {
    "target_table": "DDBMIGRATE_TARGET_TABLE",
    "target_region": "DDBMIGRATE_TARGET_REGION",
    "target_role_arn": "DDBMIGRATE_TARGET_ROLE_ARN",
    "target_external_id": "DDBMIGRATE_TARGET_EXTERNAL_ID",
    "mapping": "DDBMIGRATE_MAPPING",
    "cutoff": "DDBMIGRATE_CUTOFF",
    "export_time": "DDBMIGRATE_EXPORT_TIME",
    "cutoff_margin_seconds": "DDBMIGRATE_CUTOFF_MARGIN_SECONDS",
    "ttl_deletes": "DDBMIGRATE_TTL_DELETES",
    "dead_letter": "DDBMIGRATE_DEAD_LETTER",
    "write_percent": "DDBMIGRATE_WRITE_PERCENT",
    "write_capacity": "DDBMIGRATE_WRITE_CAPACITY",
    "concurrency": "DDBMIGRATE_CONCURRENCY",
    "checkpoint_table": "DDBMIGRATE_CHECKPOINT_TABLE",
}
"""Settings field → environment variable: the only names the template and the handler share."""


@dataclass(frozen=True)
class LambdaSettings:
    """What the function does, fixed for the life of a container.

    The cut-off is ``cutoff`` when given, else ``export_time`` minus ``cutoff_margin_seconds``.
    ``write_capacity`` (absolute WCU, 0 = the table's) and ``write_percent`` budget each container;
    ``concurrency`` containers (shards × ParallelizationFactor) share that budget. With
    ``checkpoint_table`` the function holds the stream-wide lease there, so a poller cannot apply
    the same stream at the same time. ``chunk_records`` and ``reserve_ms`` are how it keeps to its
    deadline (see :class:`ReplicationFunction`).
    """

    target_table: str
    cutoff: datetime
    target_region: str | None = None
    target_role_arn: str | None = None
    target_external_id: str | None = None
    mapping: str | None = None
    ttl_deletes: TtlPolicy = "replicate"
    dead_letter: str | None = None
    write_percent: float = DEFAULT_WRITE_PERCENT
    write_capacity: int | None = None
    concurrency: int = 1
    checkpoint_table: str | None = None
    chunk_records: int = 100
    reserve_ms: int = 5_000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LambdaSettings:
        """Read :data:`ENVIRONMENT`; empty values count as unset (CloudFormation cannot omit a variable)."""
        env = os.environ if environ is None else environ
        given = {name: env[var].strip() for name, var in ENVIRONMENT.items() if env.get(var, "").strip()}

        def var(name: str) -> str:
            return ENVIRONMENT[name]

        if "target_table" not in given:
            raise ConfigError(f"{var('target_table')}: the target table's name or ARN is required")
        if ("cutoff" in given) == ("export_time" in given):
            raise ConfigError(f"set exactly one of {var('cutoff')} (ISO 8601) and {var('export_time')} "
                              f"(the export's exportTime, with {var('cutoff_margin_seconds')}, default "
                              f"{int(DEFAULT_MARGIN.total_seconds())})")
        if "cutoff" in given:
            cutoff = _time(given["cutoff"], var("cutoff"))
        else:
            margin = _whole(given.get("cutoff_margin_seconds", str(int(DEFAULT_MARGIN.total_seconds()))),
                            var("cutoff_margin_seconds"), minimum=0)
            cutoff = _time(given["export_time"], var("export_time")) - timedelta(seconds=margin)
        ttl = given.get("ttl_deletes", "replicate")
        if ttl not in TTL_POLICIES:
            raise ConfigError(f"{var('ttl_deletes')}: {ttl!r} is not one of {', '.join(TTL_POLICIES)}")
        capacity = _whole(given["write_capacity"], var("write_capacity"), minimum=0) if "write_capacity" in given else 0
        return cls(
            target_table=given["target_table"], cutoff=cutoff, target_region=given.get("target_region"),
            target_role_arn=given.get("target_role_arn"), target_external_id=given.get("target_external_id"),
            mapping=given.get("mapping"), ttl_deletes=ttl, dead_letter=given.get("dead_letter"),  # type: ignore[arg-type]
            write_percent=validate_percent(given.get("write_percent", DEFAULT_WRITE_PERCENT), option=var("write_percent")),
            write_capacity=capacity or None,
            concurrency=_whole(given.get("concurrency", "1"), var("concurrency"), minimum=1),
            checkpoint_table=given.get("checkpoint_table"),
        )

    @property
    def target(self) -> Account:
        """The target account: the function's own credentials, or the target role (refreshing)."""
        return Account(region=self.target_region, role_arn=self.target_role_arn, external_id=self.target_external_id,
                       session_name="ddbmigrate-replication", label="target")

    def sink_options(self) -> SinkOptions:
        return SinkOptions(table=self.target_table, target=self.target, write_percent=self.write_percent,
                           capacity_override=self.write_capacity, dead_letter=self.dead_letter)

    @property
    def policy(self) -> ApplyPolicy:
        return ApplyPolicy(cutoff=self.cutoff, ttl_deletes=self.ttl_deletes)


def _time(text: str, variable: str) -> datetime:
    return parse_time(text, where=variable, error=ConfigError)


def _whole(text: str, variable: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{variable}: expected a whole number, got {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{variable}: expected a whole number ≥ {minimum}, got {value}")
    return value


logger = Logger(service="ddbmigrate-replication")
metrics = Metrics(namespace=METRICS_NAMESPACE, service="replication")

@dataclass
class BatchOutcome:
    """What one invocation did: its counts, and the first record not applied (None: all were)."""

    stats: ReplicationStats = field(default_factory=ReplicationStats)
    first_unapplied: ChangeRecord | None = None


_METRICS: tuple[tuple[str, Callable[[ReplicationStats], int]], ...] = (
    (RECORDS_APPLIED, lambda s: s.applied),
    ("skipped", lambda s: s.skipped),
    ("superseded", lambda s: s.superseded),
    ("dead_lettered", lambda s: s.dead_lettered),
    ("drift_new_attributes", lambda s: s.drift.items_unknown),
    ("drift_new_types", lambda s: s.drift.items_retyped),
)
"""Per batch, no dimensions. Drift is counted per kind (items that carried a new attribute, a new
type), not per attribute name: every name would be a metric of its own (a cost each, unbounded as a
table drifts), while the names are in the "batch done" log line (bounded by :mod:`ddbmigrate.drift`)."""


class ReplicationFunction:
    """The handler's state for one container: settings, the sink, the mapping, the lease store.

    Behaviour of one invocation:

    * **Refusal.** A record of a stream without new images (``KEYS_ONLY``, ``OLD_IMAGE``) fails the
      invocation with :class:`ReplicationError` before anything is written: the stream must be
      re-enabled with NEW_IMAGE or NEW_AND_OLD_IMAGES.
    * **Chunks.** Records are applied ``chunk_records`` at a time, each chunk flushed before the
      next, so per-key order holds across chunks. Before a chunk, if less than ``reserve_ms`` (or
      twice the slowest chunk so far) is left, it stops and reports the chunk's first record.
    * **Partial batch response.** A chunk that fails (the sink gave up, an AWS error) reports its
      first record; everything after it is retried by Lambda, including records of that chunk that
      were written — harmless, because every write is a full image or a delete (idempotent).
    * **Dead letters.** A change that can never be written goes to the dead-letter location with its
      stream position; each chunk ends with the writer's ``sync`` (an S3 object of its own when it
      holds letters, nothing otherwise), so they are stored before the function answers, and the
      container keeps its one writer.
    """

    def __init__(self, settings: LambdaSettings, *, clock: Callable[[], float] = time.time,
                 writer_factory: Callable[[str], TableWriter] | None = None,
                 checkpoints: CheckpointStore | None = None) -> None:
        self.settings = settings
        self._clock = clock
        options = settings.sink_options()
        self._writer_factory = writer_factory or (
            lambda name: open_writer(options, tasks=settings.concurrency, name=name))
        self._writer: TableWriter | None = None
        self._transform: Callable[[Item], Item] | None = None
        self._mapping_loaded = False
        self._checkpoints = checkpoints
        if checkpoints is None and settings.checkpoint_table:
            self._checkpoints = TableCheckpoints(settings.target, settings.checkpoint_table)

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        raw = event.get("Records") or []
        records = [from_lambda_record(r) for r in raw]
        _refuse_without_new_images(records)
        if not records:
            return {"batchItemFailures": []}
        self._hold_lease(records[0].stream_arn, context)
        logger.info("batch received", extra={"stream": records[0].stream_arn, "records": len(records),
                                             "first_sequence": records[0].sequence_number,
                                             "last_sequence": records[-1].sequence_number})
        outcome = BatchOutcome()
        try:
            self._apply_in_chunks(records, context, outcome)
        finally:
            self._emit(outcome.stats)
        failed = outcome.first_unapplied
        return {"batchItemFailures": [{"itemIdentifier": failed.sequence_number}] if failed else []}

    # ------------------------------------------------------------------ steps

    def _apply_in_chunks(self, records: Sequence[ChangeRecord], context: Any, outcome: BatchOutcome) -> None:
        """Apply ``records`` in order, counting into ``outcome``; stop at the first chunk not applied."""
        slowest_ms = 0.0
        size = self.settings.chunk_records
        for start in range(0, len(records), size):
            chunk = records[start:start + size]
            remaining = context.get_remaining_time_in_millis()
            if remaining < max(self.settings.reserve_ms, 2 * slowest_ms):
                logger.warning("stopping before the deadline", extra={
                    "remaining_ms": remaining, "first_unapplied": chunk[0].sequence_number})
                outcome.first_unapplied = chunk[0]
                return
            began = time.monotonic()
            try:
                stats = self._apply(chunk, getattr(context, "aws_request_id", None) or uuid.uuid4().hex)
            except (DdbMigrateError, BotoCoreError, ClientError) as exc:
                self._discard_writer()
                logger.exception("chunk not applied; Lambda retries from its first record", extra={
                    "first_unapplied": chunk[0].sequence_number, "error": type(exc).__name__})
                outcome.first_unapplied = chunk[0]
                return
            outcome.stats = outcome.stats.merge(stats)
            slowest_ms = max(slowest_ms, (time.monotonic() - began) * 1000)

    def _apply(self, chunk: Sequence[ChangeRecord], request_id: str) -> ReplicationStats:
        writer = self._open_writer(request_id)
        plan = plan_changes(chunk, self.settings.policy)
        stats = apply_changes(plan, writer, transform=self._mapping())
        writer.sync()  # as the poller: flushed, then this chunk's dead letters stored, before success is reported
        return stats

    def _open_writer(self, request_id: str) -> TableWriter:
        if self._writer is None:
            self._writer = self._writer_factory(f"replication-{request_id}-{uuid.uuid4().hex[:8]}")
        return self._writer

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _discard_writer(self) -> None:
        """After a failure the writer refuses more work; close it (storing dead letters) and start anew."""
        try:
            self._close_writer()
        except (DdbMigrateError, BotoCoreError, ClientError):
            logger.exception("closing the failed writer failed too")

    def _mapping(self) -> Callable[[Item], Item] | None:
        if not self._mapping_loaded:
            if self.settings.mapping:
                from ddbmigrate.mapping.file import load_mapping
                from ddbmigrate.mapping.items import ItemMapping

                s3 = self.settings.sink_options().dead_letter_account.client("s3")  # type: ignore[union-attr]
                self._transform = ItemMapping(load_mapping(self.settings.mapping, s3_client=s3))
            self._mapping_loaded = True
        return self._transform

    def _hold_lease(self, stream_arn: str, context: Any) -> None:
        """Take (or renew) the stream-wide lease for the whole function (every container shares the
        owner id), long enough to outlast this invocation; a poller holding it fails the invocation."""
        if self._checkpoints is None:
            return
        owner = f"lambda@{getattr(context, 'function_name', None) or os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'replication')}"
        duration = max(DEFAULT_LEASE_SECONDS, context.get_remaining_time_in_millis() / 1000 + DEFAULT_LEASE_SECONDS)
        self._checkpoints.acquire(stream_arn, STREAM_WIDE, owner=owner, now=self._clock(), duration=duration)

    def _emit(self, stats: ReplicationStats) -> None:
        for name, value in _METRICS:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value(stats))
        lag = stats.lag_seconds(self._clock())
        if lag is not None:
            metrics.add_metric(name=REPLICATION_LAG, unit=MetricUnit.Seconds, value=lag)
        metrics.flush_metrics()
        logger.info("batch done", extra={"stats": stats.summary()})


def _refuse_without_new_images(records: Sequence[ChangeRecord]) -> None:
    for record in records:
        if record.view_type and record.view_type not in NEW_IMAGE_VIEW_TYPES:
            raise ReplicationError(
                f"stream {record.stream_arn}: view type {record.view_type} carries no new image; replication "
                "writes full new images: enable the stream with NEW_IMAGE or NEW_AND_OLD_IMAGES "
                "(a new stream: export again from after it was enabled)")


_function: ReplicationFunction | None = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: one :class:`ReplicationFunction` per container, built at first use."""
    global _function
    if _function is None:
        _function = ReplicationFunction(LambdaSettings.from_environ())
    return _function(event, context)
