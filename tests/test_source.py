"""The segmented Scan reader against DynamoDB Local: completeness, read budget, retries, threads.

DynamoDB Local never throttles, so faults are injected two ways: at random over real HTTP by the
loopback fault proxy (:mod:`ddbmigrate.local.faults`), and — where a test needs an exact sequence
(this error code on that attempt, AccessDenied) — at the HTTP layer of a real botocore client, whose
``before-send`` event returns the error response DynamoDB would send, parsed by botocore as usual.
Every other request is real.
"""

from __future__ import annotations

import functools
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from tables import FakeClock, create_table, put_all

from ddbmigrate.accounts import Account
from ddbmigrate.digest import item_digest, key_digest, key_names
from ddbmigrate.dynamodb import RetryPolicy, dynamodb_client
from ddbmigrate.errors import ConfigError, SourceError
from ddbmigrate.local.faults import FaultProxy
from ddbmigrate.sample import SAMPLE_KEY_SCHEMA, sample_items
from ddbmigrate.source import PageStats, scan_pages, scan_segment, scan_table
from ddbmigrate.values import item_size, item_to_json

pytestmark = pytest.mark.integration

KEYS = key_names(SAMPLE_KEY_SCHEMA)
ITEMS = 160


@pytest.fixture(scope="module")
def filled_table(source: Account, source_ddb: Any) -> str:
    name = f"scan-src-{int(time.time() * 1000) % 10**9}"
    create_table(source_ddb, name, rcu=5)
    put_all(source_ddb, name, sample_items(ITEMS))
    return name


def expected_digests() -> set[bytes]:
    return {item_digest(i) for i in sample_items(ITEMS)}


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def inject_faults(client: Any, faults: list[Any]) -> list[Any]:
    """The next ``len(faults)`` Scan requests fail: ``(status, code)`` → that error response,
    an exception → raised where the HTTP send would be. Returns the list, emptied as they fire."""

    def before_send(request: Any, **_: Any) -> Any:
        if not faults:
            return None
        fault = faults.pop(0)
        if isinstance(fault, Exception):
            raise fault
        status, code = fault
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, status, headers, _Body(body))

    client.meta.events.register("before-send.dynamodb.Scan", before_send)
    return faults


# --------------------------------------------------------------------------- completeness


def test_segments_together_read_every_item_exactly_once(source: Account, filled_table: str) -> None:
    seen: list[bytes] = []
    digests: set[bytes] = set()
    for segment in range(3):
        for item in scan_segment(source, filled_table, segment, 3, page_limit=7):
            seen.append(key_digest(item, KEYS))
            digests.add(item_digest(item))
    assert len(seen) == ITEMS and len(set(seen)) == ITEMS
    assert digests == expected_digests()  # type-exact: every item as it was written


def test_items_read_from_the_replys_json_are_botocores_items_sized_and_with_their_json(source: Account, filled_table: str) -> None:
    # GIVEN botocore's own parse of the whole table (a client without our hook)
    plain = dynamodb_client(source).get_paginator("scan").paginate(TableName=filled_table, ConsistentRead=True)
    expected = {key_digest(item, KEYS): item for page in plain for item in page["Items"]}
    # WHEN the reader scans it
    pages = list(scan_pages(source, filled_table, 0, 1, consistent=True))
    # THEN every item is botocore's, type for type, and comes sized and with its exact JSON
    prepared = [entry for page in pages for entry in page.prepared or []]
    assert [entry.item for entry in prepared] == [item for page in pages for item in page.items]
    assert {key_digest(entry.item, KEYS): entry.item for entry in prepared} == expected and len(prepared) == ITEMS
    for entry in prepared:
        assert entry.size == item_size(entry.item)
        assert entry.document == item_to_json(entry.item)


def test_an_item_dynamodb_could_not_have_sent_is_a_broken_reply_naming_the_page() -> None:
    from ddbmigrate.source import WIRE_ITEMS, _read_items

    reply = {WIRE_ITEMS: True, "Items": [{"pk": {"S": "a"}}, {"pk": {"N": "twelve"}}]}
    with pytest.raises(SourceError, match=r"^DynamoDB's Scan reply is not valid: scan of t segment 0 item 1: attribute 'pk'"):
        _read_items(reply, "scan of t segment 0")
    assert _read_items({"Items": [{"pk": {"S": "a"}}]}, "scan of t") is None  # parsed by botocore: left as it is


def test_consistent_scan_reports_pages(source: Account, filled_table: str) -> None:
    pages: list[PageStats] = []
    items = list(scan_segment(source, filled_table, 0, 1, consistent=True, on_page=pages.append))
    assert len(items) == ITEMS
    assert sum(p.items for p in pages) == ITEMS
    # strongly consistent: one unit per started 4 KB; the whole table is a few dozen KB
    assert 4 <= sum(p.consumed_units for p in pages) <= 60


# --------------------------------------------------------------------------- read budget


@pytest.mark.parametrize(("rate", "consistent"), [(2.0, True), (5.0, False), (0.5, False)])
def test_rate_limited_scan_stays_within_budget(source: Account, filled_table: str, rate: float, consistent: bool) -> None:
    clock = FakeClock()
    pages: list[PageStats] = []
    items = list(scan_segment(source, filled_table, 0, 1, read_units_per_second=rate, consistent=consistent,
                              clock=clock, sleep=clock.sleep, on_page=pages.append))
    assert len(items) == ITEMS
    consumed = sum(p.consumed_units for p in pages)
    burst = max(rate, 1.0)
    biggest_page = max(p.consumed_units for p in pages)
    # overall: the reported ConsumedCapacity stays within rate × time + burst
    assert consumed <= rate * clock.now + burst
    # any window between two page arrivals: at most one page of estimate error beyond that
    arrivals = [(p.at, sum(q.consumed_units for q in pages[: i + 1])) for i, p in enumerate(pages)]
    for i, (t_i, c_i) in enumerate(arrivals):
        for t_j, c_j in arrivals[i + 1:]:
            assert c_j - c_i <= rate * (t_j - t_i) + burst + biggest_page
    # pages are sized to about one second of budget, so no single response blows the budget
    assert biggest_page <= 2 * burst + 0.5
    # and the limiter does not waste the budget: at least 70 % of it is used
    assert consumed >= 0.7 * rate * clock.now


# --------------------------------------------------------------------------- retries


def test_throttling_5xx_and_dropped_connections_are_retried(source: Account, filled_table: str) -> None:
    client = dynamodb_client(source, botocore_retries=False)
    faults = inject_faults(client, [
        (400, "ProvisionedThroughputExceededException"),
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
        botocore.exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1"),
        (503, "ServiceUnavailable"),
    ])
    clock = FakeClock()
    pages: list[PageStats] = []
    policy = RetryPolicy(max_retries=5, base_delay=0.1, max_delay=1.0)
    items = list(scan_segment(source, filled_table, 0, 1, page_limit=50, clock=clock, sleep=clock.sleep,
                              retry=policy, on_page=pages.append, client=client))
    assert faults == []
    assert {item_digest(i) for i in items} == expected_digests()
    assert sum(p.retries for p in pages) == 5
    assert len(clock.sleeps) == 5
    for attempt, slept in enumerate(clock.sleeps, start=1):
        assert 0.0 <= slept <= min(1.0, 0.1 * 2 ** (attempt - 1))


def test_faults_on_the_wire_are_survived_without_loss_or_duplicates(local_stack: Any, filled_table: str) -> None:
    """Through the loopback fault proxy: throttles, 5xx and dropped connections on real HTTP."""
    with FaultProxy(local_stack.source_dynamodb, throttle_rate=0.2, error_5xx_rate=0.1, drop_rate=0.1, seed=11,
                    operations={"Scan"}) as proxy:
        account = Account(profile="source", endpoint_url=proxy.endpoint, label="source")
        clock = FakeClock()
        pages: list[PageStats] = []
        items = [item for segment in range(2) for item in scan_segment(
            account, filled_table, segment, 2, page_limit=10, clock=clock, sleep=clock.sleep,
            retry=RetryPolicy(max_retries=11), on_page=pages.append)]
        stats = proxy.stats
    keys = [key_digest(i, KEYS) for i in items]
    assert len(keys) == ITEMS and len(set(keys)) == ITEMS
    assert {item_digest(i) for i in items} == expected_digests()
    faults = stats.throttled + stats.errors_5xx + stats.dropped_before + stats.dropped_after
    assert stats.throttled > 0 and stats.errors_5xx > 0 and stats.dropped_before + stats.dropped_after > 0
    assert sum(p.retries for p in pages) == faults == len(clock.sleeps)


def test_gives_up_after_max_attempts_naming_table_and_segment(source: Account, filled_table: str) -> None:
    client = dynamodb_client(source, botocore_retries=False)
    inject_faults(client, [(400, "ProvisionedThroughputExceededException")] * 5)
    clock = FakeClock()
    with pytest.raises(SourceError, match=(
        rf"scan of table '{filled_table}' segment 1 of 2: gave up after 3 attempts "
        r"\(last: ProvisionedThroughputExceededException\)"
    )):
        list(scan_segment(source, filled_table, 1, 2, retry=RetryPolicy(max_retries=2), clock=clock,
                          sleep=clock.sleep, client=client))
    assert len(clock.sleeps) == 2  # no pointless wait after the last attempt


def test_access_denied_fails_at_once(source: Account, filled_table: str) -> None:
    client = dynamodb_client(source, botocore_retries=False)
    inject_faults(client, [(400, "AccessDeniedException")])
    clock = FakeClock()
    with pytest.raises(SourceError, match="failed: AccessDeniedException: injected"):
        list(scan_segment(source, filled_table, 0, 1, clock=clock, sleep=clock.sleep, client=client))
    assert clock.sleeps == []


def test_missing_table_names_table_and_account(source: Account) -> None:
    with pytest.raises(SourceError, match=r"table 'no-such-table' does not exist in source \(profile=source"):
        list(scan_segment(source, "no-such-table", 0, 1))


@pytest.mark.parametrize(("segment", "total", "match"), [(2, 2, "segment must be between 0 and 1"),
                                                          (0, 0, "--segments must be between 1")])
def test_bad_segments_are_config_errors(source: Account, segment: int, total: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        list(scan_segment(source, "t", segment, total))


# --------------------------------------------------------------------------- threads and pickling


def test_scan_table_reads_every_item_once_on_threads(source: Account, filled_table: str) -> None:
    pages: list[PageStats] = []
    lock = threading.Lock()

    def record(page: PageStats) -> None:
        with lock:
            pages.append(page)

    items = list(scan_table(source, filled_table, total_segments=5, max_workers=2, page_limit=9, on_page=record))
    keys = [key_digest(i, KEYS) for i in items]
    assert len(keys) == ITEMS and len(set(keys)) == ITEMS
    assert {item_digest(i) for i in items} == expected_digests()
    assert {p.segment for p in pages} == set(range(5))


def _scan_threads(table: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"scan-{table}-")]


def test_closing_scan_table_early_stops_its_threads(source: Account, filled_table: str) -> None:
    # A slow budget: each worker waits ~2.5 s on the limiter between its pages of two items.
    iterator = scan_table(source, filled_table, total_segments=4, read_units_per_second=0.8, page_limit=2)
    first = [next(iterator) for _ in range(3)]
    assert len(first) == 3
    started = time.monotonic()
    iterator.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 1.5  # woken, not waiting out their sleeps
    assert _scan_threads(filled_table) == []


def test_scan_table_raises_a_failing_segment(source: Account) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(scan_table(source, "missing-table-for-threads", total_segments=3))
    assert _scan_threads("missing-table-for-threads") == []


def test_segment_reader_is_picklable_for_spark(source: Account, filled_table: str) -> None:
    task: Callable[[], Iterator[Any]] = functools.partial(scan_segment, source, filled_table, 1, 2,
                                                          read_units_per_second=100.0)
    clone = pickle.loads(pickle.dumps(task))
    assert [item_digest(i) for i in clone()] == [item_digest(i) for i in task()]
