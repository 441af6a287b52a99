"""Plain parallel BatchWriteItem (the raw ceiling, and fast seeding) and exact item counts.

The raw ceiling is what DynamoDB Local absorbs when nothing but writing happens: request lists
are built before the clock starts (25 puts each, the items already in wire form), the clients skip
parameter validation — as much pre-serialisation as boto3 allows; it still JSON-encodes each call —
and several threads send them at once. No rate limit, no per-item checks, no Spark. The job is
measured against this in the same run, on the same DynamoDB Local, so machine noise mostly
cancels out of the ratio.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import botocore.config

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.values import Item

BATCH = 25


@dataclass(frozen=True)
class WriteRun:
    """One timed parallel write."""

    items: int
    threads: int
    seconds: float
    cpu: Mapping[str, float] = field(default_factory=dict, compare=False)
    """CPU seconds per process over the run, when measured (:func:`bench.machine.cpu_spent`)."""

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


def build_batches(items: Iterable[Item]) -> list[list[dict[str, Any]]]:
    """Request lists of at most 25 ``PutRequest`` entries, built once, before any clock starts."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for item in items:
        current.append({"PutRequest": {"Item": item}})
        if len(current) == BATCH:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def _raw_client(account: Account, threads: int) -> Any:
    config = botocore.config.Config(
        parameter_validation=False,
        retries={"max_attempts": 10, "mode": "standard"},
        max_pool_connections=max(threads, 1),
        tcp_keepalive=True,
    )
    return account.client("dynamodb", config=config)


def parallel_write(account: Account, table: str, batches: Sequence[list[dict[str, Any]]], threads: int, *,
                   return_consumed: str | None = None) -> WriteRun:
    """Send every batch with ``threads`` threads (one client each); resend ``UnprocessedItems``.

    Clients are created and warmed (one DescribeTable each) before the clock starts, so the time
    is writing only. ``return_consumed``: ask for ``ReturnConsumedCapacity`` as the sink does (the
    raw ceiling's requests are then the sink's; DynamoDB Local spends CPU on the answer).
    """
    extra = {"ReturnConsumedCapacity": return_consumed} if return_consumed else {}
    clients = [_raw_client(account, 1) for _ in range(threads)]
    for client in clients:
        client.describe_table(TableName=table)
    lock = threading.Lock()
    position = [0]

    def next_batch() -> list[dict[str, Any]] | None:
        with lock:
            if position[0] >= len(batches):
                return None
            batch = batches[position[0]]
            position[0] += 1
            return batch

    def worker(client: Any) -> int:
        sent = 0
        while (batch := next_batch()) is not None:
            request: dict[str, Any] = {table: batch}
            while request:
                response = client.batch_write_item(RequestItems=request, **extra)
                request = response.get("UnprocessedItems") or {}
            sent += len(batch)
        return sent

    started = time.perf_counter()
    written = sum(_in_threads(worker, clients))
    seconds = time.perf_counter() - started
    return WriteRun(items=written, threads=threads, seconds=seconds)


def parallel_scan(account: Account, table: str, segments: int) -> WriteRun:
    """Scan all of ``table`` in ``segments`` segments, one thread (and client) each; items counted, not kept.

    The raw Scan ceiling: pages of DynamoDB's default 1 MB, no rate limit, and no per-item work at
    all: the items are left as the reply's JSON (``keep_list_as_json``), as the copy's reader takes
    them too, so the client's parse does not pass for the source's ceiling. Clients are created and
    warmed (one DescribeTable each) before the clock starts.
    """
    from ddbmigrate.dynamodb import keep_list_as_json

    clients = [_raw_client(account, 1) for _ in range(segments)]
    for client in clients:
        keep_list_as_json(client, "dynamodb.Scan", "Items", "RawScanItems")
        client.describe_table(TableName=table)

    def worker(segment: int) -> int:
        client, found, start = clients[segment], 0, None
        while True:
            request: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": segments}
            if start is not None:
                request["ExclusiveStartKey"] = start
            page = client.scan(**request)
            found += page.get("Count", 0)
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    started = time.perf_counter()
    found = sum(_in_threads(worker, list(range(segments))))
    return WriteRun(items=found, threads=segments, seconds=time.perf_counter() - started)


def count_items(account: Account, table: str) -> int:
    """The table's exact item count, from DescribeTable.

    On DynamoDB Local ``ItemCount`` is computed from its store on every call, so it is exact at
    once (on AWS it lags by up to six hours; the bench only runs locally). A ``Select=COUNT`` Scan
    was the first choice, but DynamoDB Local's segmented Scan slows down superlinearly: 5 s for
    20,000 items, minutes for 200,000 — longer than the phases it checks.
    """
    return describe_table(account, table, option="--table").item_count


def _in_threads(fn: Callable[[Any], int], args: Sequence[Any]) -> list[int]:
    """``fn`` over ``args``, one thread each. On Ctrl-C/SIGTERM the caller does not wait for the
    threads (a ``with ThreadPoolExecutor`` would, blocking the stack's teardown behind requests
    to the very servers the teardown is about to stop)."""
    pool = ThreadPoolExecutor(max_workers=len(args))
    try:
        results = list(pool.map(fn, args))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def fresh_table(account: Account, table: str, *, provisioned_wcu: int | None = None) -> None:
    """Create ``table`` with the sample schema (dropping a leftover of the same name first)."""
    from ddbmigrate.sample import create_sample_table

    client = account.client("dynamodb")
    if table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=table)
        client.get_waiter("table_not_exists").wait(TableName=table)
    create_sample_table(client, table, provisioned_wcu=provisioned_wcu)


def drop_table(account: Account, table: str) -> None:
    """Delete a table that served its purpose (frees DynamoDB Local's memory for the next phase)."""
    client = account.client("dynamodb")
    client.delete_table(TableName=table)
