"""``ddbmigrate replicate run|status`` — replay the source's stream into the target, and see where it stands.

Command line::

    ddbmigrate replicate run --source-profile P --source-table T --target-profile Q --target-table U
                             (--from-export URI | --cutoff ISO8601) [--margin 5m] [--mapping FILE]
                             [--checkpoint table:NAME | file:PATH] [--write-percent P] [--dead-letter DIR|s3://…]
                             [--until caught-up|stopped] [--ttl-deletes replicate|skip] [--lease-seconds 60]
                             [--writers-per-shard 4]
                             [--cloudwatch-metrics on|off]
    ddbmigrate replicate status --source-profile P --source-table T [--checkpoint …] --target-profile Q
    ddbmigrate replicate release --source-profile P --source-table T [--checkpoint …] --target-profile Q [--force]

``run`` logs a progress line every minute (shards, records applied, the worst shard's lag) and, with
``--cloudwatch-metrics on``, publishes ``RecordsApplied`` and ``ReplicationLagSeconds`` in the target
account (dimensions JobName ``ddbmigrate-replicate``, JobRunId the run's lease owner, Table).
``run`` exits 0 only when seen = applied + skipped + superseded + dead-lettered and nothing was
dead-lettered; SIGINT/SIGTERM stop it after the current batches (checkpoints saved).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.cli.options import apply, argument_option, side_options
from ddbmigrate.errors import ConfigError, SinkError
from ddbmigrate.export.layout import parse_time
from ddbmigrate.jobargs import TABLE_COPY, Argument
from ddbmigrate.progress.metrics import MetricsPublisher, RunDimensions
from ddbmigrate.progress.replication import ReplicationWatch
from ddbmigrate.replicate.applier import TTL_POLICIES
from ddbmigrate.replicate.checkpoints import DEFAULT_LEASE_SECONDS, open_checkpoints, release_leases
from ddbmigrate.replicate.local import QUIRKS
from ddbmigrate.replicate.poller import ShardStatus
from ddbmigrate.replicate.runner import (
    DEFAULT_MARGIN,
    WRITERS_PER_SHARD,
    ReplicationOptions,
    replication_status,
    run_replication,
)

__all__ = ["command"]

DEFAULT_CHECKPOINT = "table:ddbmigrate-replication"
_WRITE_PERCENT = TABLE_COPY.by_name["write_percent"]
_DEAD_LETTER = TABLE_COPY.by_name["dead_letter"]
_LEASE_SECONDS = Argument(
    "lease_seconds", "int", default=int(DEFAULT_LEASE_SECONDS), minimum=5, maximum=3600,
    help="Seconds a shard's lease lasts unless renewed (renewed at half-time); a killed run blocks a restart "
         "this long, unless 'replicate release' gives its leases up.")
_WRITERS_PER_SHARD = Argument(
    "writers_per_shard", "int", default=WRITERS_PER_SHARD, minimum=1, maximum=32,
    help="Batches written at once per shard (per-key order is kept: a key always goes to the same writer); "
         "all share the --write-percent budget.")
_CHECKPOINT_HELP = f"Where progress is kept: table:NAME (target account) or file:PATH.  [default: {DEFAULT_CHECKPOINT}]"


@click.group("replicate")
def command() -> None:
    """Ongoing replication: the source's DynamoDB Stream replayed into the target from the export time."""


@command.command("run")
@apply([
    *side_options("source"),
    *side_options("target"),
    click.option("--mapping", help="Mapping file the bulk load used (path or s3://…)."),
    click.option("--from-export", "from_export", help="Export folder (s3://…/AWSDynamoDB/<ExportId>/): its export time is the cut-off."),
    click.option("--cutoff", help="Cut-off as ISO 8601 (e.g. 2024-05-01T12:00:00Z), instead of --from-export."),
    click.option("--margin", default="5m", show_default=True, help="Replay starts this long before the cut-off (s, m, h)."),
    click.option("--checkpoint", default=DEFAULT_CHECKPOINT, help=_CHECKPOINT_HELP),
    argument_option(_WRITE_PERCENT),
    argument_option(_DEAD_LETTER),
    argument_option(_LEASE_SECONDS),
    argument_option(_WRITERS_PER_SHARD),
    click.option("--until", type=click.Choice(["caught-up", "stopped"]), default="caught-up", show_default=True,
                 help="Stop once every shard is at its tip, or run until SIGINT/SIGTERM."),
    click.option("--ttl-deletes", type=click.Choice(TTL_POLICIES), default="replicate", show_default=True,
                 help="Deletes made by the source's Time to Live: replicate them, or skip them."),
    click.option("--cloudwatch-metrics", "cloudwatch_metrics", type=click.Choice(("on", "off")), default="off",
                 show_default=True, help="Publish RecordsApplied and ReplicationLagSeconds (namespace ddbmigrate) "
                                         "every minute, with the target account's credentials."),
    click.option("--quirks", type=click.Choice(("auto", *QUIRKS)), default="auto", hidden=True,
                 help="auto: DynamoDB Local's stream quirks when the stream is DynamoDB Local's."),
])
def run(mapping: str | None, from_export: str | None, cutoff: str | None, margin: str, checkpoint: str,
        until: str, ttl_deletes: str, quirks: str, cloudwatch_metrics: str, **options: Any) -> int:
    """Replay the stream into the target: per shard in order, from the export time, with checkpoints."""
    source = Account.from_options("source", options, label="source")
    target = Account.from_options("target", options, label="target")
    export_time = _cutoff(from_export, cutoff, target)
    replication = ReplicationOptions(
        source=source, source_table=options["source_table"], target=target, target_table=options["target_table"],
        cutoff=export_time, margin=_duration(margin), store=open_checkpoints(checkpoint, target),
        transform=_transform(mapping, target), write_percent=_WRITE_PERCENT.parse(options["write_percent"], option="--write-percent"),
        dead_letter=_DEAD_LETTER.parse(options["dead_letter"], option="--dead-letter"), until=until,  # type: ignore[arg-type]
        ttl_deletes=ttl_deletes, quirks=None if quirks == "auto" else quirks,  # type: ignore[arg-type]
        lease_seconds=_LEASE_SECONDS.parse(options["lease_seconds"], option="--lease-seconds"),
        writers_per_shard=_WRITERS_PER_SHARD.parse(options["writers_per_shard"], option="--writers-per-shard"))
    stop = threading.Event()
    shards: dict[str, ShardStatus] = {}
    lock = threading.Lock()

    watch = _watch(replication, enabled=cloudwatch_metrics == "on")

    def on_status(status: ShardStatus) -> None:
        with lock:
            shards[status.shard_id] = ShardStatus(**vars(status))
        watch.observe(status)

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    console = Console(stderr=True)
    try:
        with Live(_status_table(shards, lock), console=console, refresh_per_second=2, transient=True) as live:
            def refresh(status: ShardStatus) -> None:
                on_status(status)
                live.update(_status_table(shards, lock))

            result = run_replication(replication, stop=stop, on_status=refresh)
        watch.tick()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stats = result.stats
    click.echo(f"replicated {options['source_table']} → {options['target_table']}: {stats.summary()}")
    if not stats.reconciles:
        raise SinkError(f"counts do not reconcile ({stats.summary()}); this is a bug: please report it")
    if stats.dead_lettered:
        raise SinkError(f"{stats.dead_lettered} change(s) were dead-lettered under --dead-letter "
                        f"{replication.dead_letter}; fix and replay them (see docs/replication.md)")
    return 0


@command.command("status")
@apply([
    *side_options("source"),
    *side_options("target")[1:],  # the target's account (it holds the checkpoint table), not its table
    click.option("--checkpoint", default=DEFAULT_CHECKPOINT, help=_CHECKPOINT_HELP),
])
def status(checkpoint: str, **options: Any) -> int:
    """Per shard: the checkpoint, the changes waiting after it, and whether replication has caught up."""
    source = Account.from_options("source", options, label="source")
    target = Account.from_options("target", options, label="target")
    stream, reports = replication_status(source, options["source_table"], open_checkpoints(checkpoint, target))
    table = Table("shard", "parent", "checkpoint", "waiting", "lag", "caught up", title=f"stream {stream}",
                  title_justify="left")
    for r in reports:
        table.add_row(r.shard_id, r.parent_id or "", r.checkpoint or "(none)",
                      "finished" if r.finished else f"{r.pending:,}",
                      "" if r.lag_seconds is None else f"{r.lag_seconds:,.0f}s", "yes" if r.caught_up else "no")
    Console(width=200).print(table)
    return 0


@command.command("release")
@apply([
    *side_options("source"),
    *side_options("target")[1:],  # the target's account (it holds the checkpoint table), not its table
    click.option("--checkpoint", default=DEFAULT_CHECKPOINT, help=_CHECKPOINT_HELP),
    click.option("--force", is_flag=True, help="Give up leases that have not expired yet (the run holding them is dead)."),
])
def release(checkpoint: str, force: bool, **options: Any) -> int:
    """Give up a killed run's leases, so a restart need not wait for them to expire (checkpoints stay)."""
    from ddbmigrate.dynamodb import describe_table

    source = Account.from_options("source", options, label="source")
    target = Account.from_options("target", options, label="target")
    table = describe_table(source, options["source_table"], option="--source-table")
    if not table.stream_arn:
        raise ConfigError(f"--source-table {table.name}: no stream is enabled; there is no lease to give up")
    released = release_leases(open_checkpoints(checkpoint, target), table.stream_arn, now=time.time(), force=force)
    for lease in released:
        click.echo(f"released {lease.shard_id} (held by {lease.owner})")
    click.echo(f"stream {table.stream_arn}: {len(released)} lease(s) released" if released
               else f"stream {table.stream_arn}: no lease held")
    return 0


def _watch(replication: ReplicationOptions, *, enabled: bool) -> ReplicationWatch:
    """The progress line every minute; CloudWatch metrics when ``enabled`` (never failing the run)."""
    publisher = None
    if enabled:
        dimensions = RunDimensions("ddbmigrate-replicate", replication.owner.rsplit("/", 1)[-1],
                                   replication.target_table)
        publisher = MetricsPublisher(replication.target.without_role(label="CloudWatch").client("cloudwatch"),
                                     dimensions)
    return ReplicationWatch(replication.target_table, publisher=publisher)


def _status_table(shards: dict[str, ShardStatus], lock: threading.Lock) -> Table:
    table = Table("shard", "state", "seen", "records/s", "lag", "checkpoint")
    with lock:
        rows = sorted(shards.values(), key=lambda s: s.shard_id)
    for s in rows:
        lag = "" if s.lag_seconds is None else f"{s.lag_seconds:,.0f}s"
        table.add_row(s.shard_id, s.state, f"{s.seen:,}", f"{s.records_per_second:,.1f}", lag, s.checkpoint or "")
    return table


def _cutoff(from_export: str | None, cutoff: str | None, target: Account) -> datetime:
    if (from_export is None) == (cutoff is None):
        raise ConfigError("give exactly one of --from-export URI or --cutoff ISO8601 (the time replay starts from)")
    if from_export is not None:
        from ddbmigrate.export import open_export

        return open_export(from_export, target.without_role(label="bucket owner (target account)").client("s3")).export_time
    return parse_time(cutoff, where="--cutoff", error=ConfigError)


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise ConfigError(f"--margin: expected a duration such as 90s, 5m or 1h, got {text!r}")
    seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return timedelta(seconds=seconds) if text.strip() else DEFAULT_MARGIN


def _transform(mapping: str | None, target: Account) -> Any:
    if mapping is None:
        return None
    from ddbmigrate.mapping.file import load_mapping
    from ddbmigrate.mapping.items import ItemMapping

    s3 = target.without_role(label="mapping reader").client("s3") if mapping.startswith("s3://") else None
    return ItemMapping(load_mapping(mapping, s3_client=s3))


@command.command("enable-lambda")
@apply([
    *side_options("source"),
    *side_options("target"),
    click.option("--function-name", default="ddbmigrate-replication", show_default=True,
                 help="The replication function (replication/template.yaml's FunctionName)."),
    click.option("--from-export", "from_export", help="Export folder the bulk load read: its time and item count."),
    click.option("--cutoff", help="Cut-off as ISO 8601, instead of --from-export (then --force is needed)."),
    click.option("--margin", default="5m", show_default=True, help="Replay starts this long before the cut-off (s, m, h)."),
    click.option("--force", is_flag=True, help="Enable although the target's ItemCount is below the export's."),
])
def enable_lambda(function_name: str, from_export: str | None, cutoff: str | None, margin: str, force: bool,
                  **options: Any) -> int:
    """Enable the replication Lambda's stream mapping once the bulk load has finished (checks first)."""
    from ddbmigrate.dynamodb import describe_table
    from ddbmigrate.replicate.enable import EnableRequest, enable_replication_lambda

    source = Account.from_options("source", options, label="source")
    target = Account.from_options("target", options, label="target")
    expected = None
    if from_export is not None:
        from ddbmigrate.export import open_export

        handle = open_export(from_export, target.without_role(label="bucket owner (target account)").client("s3"))
        export_time, expected = handle.export_time, handle.item_count
    else:
        export_time = _cutoff(None, cutoff, target)
    table = describe_table(source, options["source_table"], option="--source-table")
    if not table.stream_arn:
        raise ConfigError(f"--source-table {table.name}: no stream is enabled; nothing to replicate")
    target_table = describe_table(target, options["target_table"], option="--target-table")
    result = enable_replication_lambda(EnableRequest(
        function_name=function_name, stream_arn=table.stream_arn, replay_from=export_time - _duration(margin),
        expected_items=expected, target_items=target_table.item_count, target_table=target_table.name, force=force),
        lambda_client=source.client("lambda"), now=datetime.now(timezone.utc))
    verb = "was already enabled" if result.already_enabled else "enabled"
    click.echo(f"event source mapping {result.uuid} of {function_name} {verb} ({result.state})")
    return 0
