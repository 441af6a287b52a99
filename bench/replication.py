"""(d) Replication (issue 15): the poller's records/s against the raw ceiling, and the lag at half that rate.

Throughput: N changes are written to a source table with a stream before anything replays them, then
:func:`ddbmigrate.replicate.runner.run_replication` — the code behind ``replicate run``, with DynamoDB
Local's stream adapter — applies them to a fresh target until caught up; N ÷ its wall time is compared
with the raw BatchWriteItem ceiling of the same target DynamoDB Local, measured in the same run.

Lag: with the poller running (``until="stopped"``), a writer puts items at half that rate, each
carrying its own wall-clock time (``bench_written_at``); a reader polls the target with consistent
BatchGetItem calls and takes, for each item, the moment it first saw it minus the time the item
carries. Stream timestamps are never used (DynamoDB Local floors them to the minute).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.harness import World
from bench.loaders import build_batches, count_items, drop_table, parallel_write
from bench.machine import Phase, cpu_per_item_table, cpu_spent
from bench.scenarios import Ceiling, Check
from ddbmigrate.accounts import Account
from ddbmigrate.replicate.checkpoints import FileCheckpoints
from ddbmigrate.replicate.runner import ReplicationOptions, run_replication
from ddbmigrate.sample import create_sample_table, sample_item, sample_items

__all__ = ["LAG_P99_TARGET", "LAG_RATE_SHARE", "THROUGHPUT_TARGET", "LagRun", "percentile", "replication"]

THROUGHPUT_TARGET = 0.8
"""Replication records/s over the raw BatchWriteItem ceiling of the same target (issue 15)."""
LAG_P99_TARGET = 5.0
"""Seconds from the source write to visible in the target, 99th percentile (issue 15)."""
LAG_RATE_SHARE = 0.5
"""The lag is measured while changes arrive at this share of the measured replication rate."""
STAMP = "bench_written_at"
_SEED_THREADS = 4
_READ_KEYS = 100  # BatchGetItem's limit per call
_TICK = 0.05


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0–1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1]


@dataclass
class LagRun:
    """What the lag phase saw: per item, seconds from its write to its first sighting in the target."""

    rate: float
    written: int = 0
    lags: list[float] = field(default_factory=list)
    missing: int = 0
    poll_rounds: int = 0
    seconds: float = 0.0


def _fresh(account: Account, table: str, *, stream: bool) -> None:
    client = account.client("dynamodb")
    if table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=table)
        client.get_waiter("table_not_exists").wait(TableName=table)
    create_sample_table(client, table, stream=stream)


def _options(world: World, source: str, target: str, cutoff: datetime, until: str) -> ReplicationOptions:
    return ReplicationOptions(
        source=world.source, source_table=source, target=world.target, target_table=target, cutoff=cutoff,
        store=FileCheckpoints(Path(world.workdir) / "replication-checkpoints.json"), write_percent=1.0,
        dead_letter=str(Path(world.workdir) / "dead-letters-replication"), until=until)  # type: ignore[arg-type]


class _Writer(threading.Thread):
    """Puts items ``first…first+count-1`` at ``rate`` items/s, each stamped with its own send time."""

    def __init__(self, account: Account, table: str, first: int, count: int, rate: float) -> None:
        super().__init__(daemon=True, name="bench-lag-writer")
        self.client, self.table, self.first, self.count, self.rate = account.client("dynamodb"), table, first, count, rate
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            started = time.monotonic()
            while self.sent < self.count:
                due = min(self.count, int(self.rate * (time.monotonic() - started)) + 1)
                while self.sent < due:
                    batch = []
                    for i in range(self.first + self.sent, self.first + min(due, self.sent + 25)):
                        item = sample_item(i)
                        item[STAMP] = {"N": repr(time.time())}
                        batch.append({"PutRequest": {"Item": item}})
                    request: dict[str, Any] = {self.table: batch}
                    while request:
                        request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                    self.sent += len(batch)
                time.sleep(_TICK)
        except BaseException as exc:  # reported by the scenario
            self.error = exc


def _watch(account: Account, table: str, first: int, count: int, writer: _Writer, deadline: float, run: LagRun) -> None:
    """Poll the target for every written key until each is seen (or ``deadline``); record lags."""
    client = account.client("dynamodb")
    pending: dict[tuple[str, str], dict[str, Any]] = {}
    queued = 0
    while time.monotonic() < deadline:
        sent = writer.sent  # read once: the writer moves on meanwhile
        for i in range(first + queued, first + sent):
            item = sample_item(i)
            pending[(item["pk"]["S"], item["sk"]["N"])] = {"pk": item["pk"], "sk": item["sk"]}
        queued = sent
        if not pending and queued >= count:
            break
        run.poll_rounds += 1
        keys = list(pending.values())
        for start in range(0, len(keys), _READ_KEYS):
            request: dict[str, Any] = {table: {"Keys": keys[start:start + _READ_KEYS], "ConsistentRead": True,
                                               "ProjectionExpression": "pk, sk, #w",
                                               "ExpressionAttributeNames": {"#w": STAMP}}}
            while request:
                reply = client.batch_get_item(RequestItems=request)
                seen = time.time()
                for found in reply.get("Responses", {}).get(table, ()):
                    if STAMP in found and pending.pop((found["pk"]["S"], found["sk"]["N"]), None) is not None:
                        run.lags.append(seen - float(found[STAMP]["N"]))
                request = reply.get("UnprocessedKeys") or {}
        if not pending:
            time.sleep(_TICK)
    run.missing = len(pending) + (count - queued)
    if run.missing == 0 and len(run.lags) != count:
        raise RuntimeError(f"lag: {count} items written, {len(run.lags)} measured")  # a bug of this bench


def replication(world: World, *, changes: int, lag_seconds: float, ceiling: Ceiling, console: Console) -> list[Check]:
    """(d) Throughput over ``changes`` pre-written changes, then ``lag_seconds`` of lag at half that rate."""
    source, target = "bench-repl-source", "bench-repl-target"
    _fresh(world.source, source, stream=True)
    cutoff = datetime.now(timezone.utc)  # after the stream was enabled: every change below is replayed
    seeding = parallel_write(world.source, source, build_batches(sample_items(changes)), _SEED_THREADS)
    console.print(f"wrote {changes} changes to the source ({seeding.items_per_second:.0f} items/s); stream on")
    _fresh(world.target, target, stream=False)

    started = time.monotonic()
    with cpu_spent(world) as cpu:
        result = run_replication(_options(world, source, target, cutoff, "caught-up"))
    seconds = time.monotonic() - started
    found = count_items(world.target, target)
    stats = result.stats
    rate = changes / seconds
    ratio = rate / ceiling.items_per_second
    exact = found == changes and stats.applied == changes and stats.reconciles and not stats.dead_lettered

    lag = LagRun(rate=LAG_RATE_SHARE * rate)
    count = max(1, int(lag.rate * lag_seconds))
    stop = threading.Event()
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            run_replication(_options(world, source, target, cutoff, "stopped"), stop=stop)
        except BaseException as exc:  # reported below
            errors.append(exc)

    poller = threading.Thread(target=poll, name="bench-lag-poller", daemon=True)
    poller.start()
    time.sleep(2.0)  # the poller is at the stream's tip before the first timed write
    writer = _Writer(world.source, source, changes, count, lag.rate)
    began = time.monotonic()
    writer.start()
    try:
        _watch(world.target, target, changes, count, writer, began + lag_seconds + 60.0, lag)
    finally:
        lag.seconds = time.monotonic() - began
        writer.join()
        stop.set()
        poller.join()
    lag.written = writer.sent
    for failure in (writer.error, *errors):
        if failure is not None:
            raise failure
    drop_table(world.source, source)
    drop_table(world.target, target)

    table = Table(title=f"(d) replication — {changes} changes through the poller (DynamoDB Local stream adapter)")
    for col in ("what", "records", "seconds", "records/s", "vs raw"):
        table.add_column(col, justify="right" if col != "what" else "left")
    table.add_row(f"raw ceiling ({ceiling.full.threads} threads)", str(ceiling.full.items), f"{ceiling.full.seconds:.1f}",
                  f"{ceiling.items_per_second:.0f}", "1.00")
    table.add_row("[bold]replicate run, to caught-up[/]", str(changes), f"{seconds:.1f}", f"{rate:.0f}",
                  f"[bold]{ratio:.2f}[/]")
    table.caption = f"{stats.summary()}; target holds {found}"
    console.print(table)
    console.print(cpu_per_item_table("replication vs the raw ceiling", [
        Phase("raw ceiling (writes only)", ceiling.full.cpu, ceiling.full.items),
        Phase("replicate run (read the stream, write)", cpu, changes)]))
    checks = [
        Check("replication", "target holds exactly the changes (counts)", f"{found} of {changes}", f"= {changes}", exact),
        Check("replication", "replication/raw records/s", f"{ratio:.2f}", f"≥ {THROUGHPUT_TARGET}",
              exact and ratio >= THROUGHPUT_TARGET),
    ]
    if not lag.lags:
        return [*checks, Check("replication", "lag measured", "no item became visible", "≥ 1", False)]
    p50, p99 = percentile(lag.lags, 0.5), percentile(lag.lags, 0.99)
    console.print(f"lag at {lag.rate:.0f} records/s ({LAG_RATE_SHARE:.0%} of {rate:.0f}): {lag.written} items over "
                  f"{lag.seconds:.1f}s, {len(lag.lags)} seen ({lag.poll_rounds} read rounds), {lag.missing} missing; "
                  f"p50 {p50:.2f}s, p90 {percentile(lag.lags, 0.9):.2f}s, p99 {p99:.2f}s, max {max(lag.lags):.2f}s")
    return [*checks,
            Check("replication", f"lag p50 at {LAG_RATE_SHARE:.0%} of the rate", f"{p50:.2f}s", "(reported)", lag.missing == 0),
            Check("replication", f"lag p99 at {LAG_RATE_SHARE:.0%} of the rate", f"{p99:.2f}s", f"≤ {LAG_P99_TARGET:g}s",
                  lag.missing == 0 and p99 <= LAG_P99_TARGET)]
