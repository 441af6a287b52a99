"""Several writers per task (ddbmigrate.sink.pool) against DynamoDB Local: order per key, one budget,
every item accounted for, failures raised — with requests really in flight at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tables import sample_key, scan_by_key

from ddbmigrate.deadletter import DeadLetterWriter
from ddbmigrate.dynamodb import RetryPolicy, describe_table
from ddbmigrate.errors import SinkError
from ddbmigrate.ratelimit import TokenBucket
from ddbmigrate.sample import create_sample_table, sample_item, sample_items
from ddbmigrate.sink import TableWriter, writer_client
from ddbmigrate.sink.pool import WriterPool
from ddbmigrate.values import item_size, write_capacity_units

pytestmark = pytest.mark.integration


class InFlight:
    """Counts BatchWriteItem calls under way at once: around the client's own HTTP session's ``send``,
    which botocore's path and the lean sender (:mod:`ddbmigrate.sink.send`) both go through."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def watch(self, client: Any) -> Any:
        session = client._endpoint.http_session
        send = session.send

        def counted(request: Any) -> Any:
            self._started()
            try:
                return send(request)
            finally:
                self._ended()

        session.send = counted
        return client

    def _started(self, **_: Any) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def _ended(self, **_: Any) -> None:
        with self._lock:
            self.now -= 1


def _factory(target: Any, table: str, *, dead_letter: Path | None, watch: InFlight | None = None,
             policy: RetryPolicy | None = None) -> Callable[[int, TokenBucket | None], TableWriter]:
    info = describe_table(target.client("dynamodb"), table)

    def make(index: int, bucket: TokenBucket | None) -> TableWriter:
        client = writer_client(target)
        if watch is not None:
            watch.watch(client)
        letters = DeadLetterWriter(str(dead_letter), f"pool-writer-{index}") if dead_letter else None
        return TableWriter(client, info, bucket=bucket, dead_letters=letters, policy=policy)

    return make


def test_writers_keep_each_keys_order_account_for_every_item_and_overlap(
        target: Any, target_ddb: Any, unique_name: Callable[[str], str], tmp_path: Path) -> None:
    # GIVEN 200 items each written twice (version 2 last), one without its sort key, one refused upstream
    table = unique_name("pool")
    create_sample_table(target_ddb, table)
    items = list(sample_items(200))
    later = [dict(item, name={"S": f"version 2 of {i}"}) for i, item in enumerate(items)]
    broken = {k: v for k, v in sample_item(900).items() if k != "sk"}
    in_flight = InFlight()
    # WHEN three writers share the task
    with WriterPool(_factory(target, table, dead_letter=tmp_path / "dl", watch=in_flight), 3,
                    key_schema=describe_table(target_ddb, table).key_schema, rate=None) as pool:
        for n, item in enumerate(items):
            pool.put(item, origin=f"v1 {n}")
        pool.put(broken, origin="broken")
        pool.reject("refused upstream", origin="upstream line 3")
        for n, item in enumerate(later):
            pool.put(item, origin=f"v2 {n}")
    stats = pool.stats
    # THEN every item is accounted for, the last write of every key won, and requests overlapped
    assert (stats.received, stats.written, stats.dead_lettered) == (402, 400, 2)
    found = scan_by_key(target_ddb, table)
    assert {key: item["name"]["S"] for key, item in found.items()} == {sample_key(it): it["name"]["S"] for it in later}
    assert in_flight.most >= 2
    letters = [json.loads(line) for f in (tmp_path / "dl").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert sorted(letter["origin"] for letter in letters) == ["broken", "upstream line 3"]


def test_writers_share_the_tasks_budget(target: Any, target_ddb: Any, unique_name: Callable[[str], str]) -> None:
    # GIVEN a task budget of 40 WCU/s and items worth far more than the bucket holds
    table = unique_name("pool-rate")
    create_sample_table(target_ddb, table)
    items = list(sample_items(60))
    units = sum(write_capacity_units(item_size(item)) for item in items)
    rate = 40.0
    # WHEN three writers write them
    started = time.monotonic()
    with WriterPool(_factory(target, table, dead_letter=None), 3,
                    key_schema=describe_table(target_ddb, table).key_schema, rate=rate) as pool:
        for item in items:
            pool.put(item)
    elapsed = time.monotonic() - started
    # THEN together they took as long as one writer at that rate would (less the bucket's burst), not a third
    burst = TokenBucket(rate).capacity
    assert elapsed >= (units - burst) / rate * 0.95
    assert pool.stats.written == 60 and pool.stats.reconciles


def test_a_writer_that_gives_up_fails_the_pool(target: Any, target_ddb: Any, unique_name: Callable[[str], str]) -> None:
    # GIVEN writers without a dead-letter location and an item that can never be written
    table = unique_name("pool-fail")
    create_sample_table(target_ddb, table)
    broken = {k: v for k, v in sample_item(7).items() if k != "sk"}
    # WHEN it reaches one of the writers
    with pytest.raises(SinkError) as caught, WriterPool(_factory(target, table, dead_letter=None), 2,
                                                        key_schema=describe_table(target_ddb, table).key_schema,
                                                        rate=None) as pool:
        for item in sample_items(20):
            pool.put(item)
        pool.put(broken, origin="data line 9")
        for item in sample_items(40):  # the pool raises at a later call, or at the latest when it closes
            pool.put(item)
    # THEN the pool raises the writer's own error, naming the origin
    assert "data line 9" in str(caught.value) and "sort key attribute 'sk' is missing" in str(caught.value)


def test_one_writer_runs_on_the_callers_thread(target: Any, target_ddb: Any, unique_name: Callable[[str], str]) -> None:
    table = unique_name("pool-one")
    create_sample_table(target_ddb, table)
    callers: set[str] = set()
    make = _factory(target, table, dead_letter=None)

    def recording(index: int, bucket: TokenBucket | None) -> TableWriter:
        writer = make(index, bucket)
        writer._client.meta.events.register("before-send.dynamodb.BatchWriteItem",
                                            lambda **_: callers.add(threading.current_thread().name))
        return writer

    with WriterPool(recording, 1, key_schema=describe_table(target_ddb, table).key_schema, rate=None) as pool:
        for item in sample_items(30):
            pool.put(item)
    assert callers == {threading.current_thread().name}
    assert pool.stats.written == 30


def test_writers_lose_nothing_under_faults(proxy_factory: Callable[..., Any], target: Any, target_ddb: Any,
                                           unique_name: Callable[[str], str], tmp_path: Path) -> None:
    # GIVEN throttles, partial batches, 5xx and dropped connections in front of the table
    from ddbmigrate.accounts import Account

    table = unique_name("pool-faults")
    create_sample_table(target_ddb, table)
    proxy = proxy_factory(throttle_rate=0.2, unprocessed_rate=0.2, error_5xx_rate=0.1, drop_rate=0.05, seed=11)
    behind = Account(profile="target", endpoint_url=proxy.endpoint, label="target")
    items = list(sample_items(500))
    # WHEN four writers write through it at once
    with WriterPool(_factory(behind, table, dead_letter=tmp_path / "dl", policy=RetryPolicy(30, 0.01, 0.2)), 4,
                    key_schema=describe_table(target_ddb, table).key_schema, rate=None) as pool:
        for item in items:
            pool.put(item)
    # THEN every item arrived, nothing was dead-lettered, and the counts add up
    stats = pool.stats
    assert (stats.received, stats.written, stats.dead_lettered) == (500, 500, 0)
    injected = proxy.stats
    assert injected.throttled + injected.partial_batches + injected.errors_5xx > 0
    assert stats.throttles == injected.throttled and stats.server_errors == injected.errors_5xx
    assert stats.retries >= injected.throttled + injected.partial_batches + injected.errors_5xx
    assert set(scan_by_key(target_ddb, table)) == {sample_key(it) for it in items}
