"""The parallel segmented Scan reader: every item of a live table, at a bounded read rate.

:func:`scan_segment` is self-contained (a picklable :class:`~ddbmigrate.accounts.Account`, its own
client) so the same code runs in verify's threads and in the table copy's Spark partitions. Per
segment: pages are paced by a token bucket settled against the reported ``ConsumedCapacity``, with
the page ``Limit`` sized to about one burst; throttles, 5xx and dropped connections are retried
with full-jitter backoff (:data:`SCAN_RETRY_POLICY`, botocore's retries off), then
:class:`~ddbmigrate.errors.SourceError`; a retried page restarts from the same
``ExclusiveStartKey``, so there are no duplicates or gaps. A live Scan is not a snapshot.
See docs/copy.md, "Reading the source".
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import RetryPolicy, classify, dynamodb_client, error_code, keep_list_as_json
from ddbmigrate.errors import ConfigError, DdbMigrateError, SourceError
from ddbmigrate.ratelimit import TokenBucket
from ddbmigrate.sink.writer import Prepared
from ddbmigrate.values import Item, item_size, read_capacity_units, read_json_item

__all__ = ["SCAN_RETRY_POLICY", "WIRE_ITEMS", "Page", "PageStats", "scan_pages", "scan_segment", "scan_table"]

SCAN_RETRY_POLICY = RetryPolicy(max_retries=9)
"""A page is tried at most 10 times (the reader's default since it was written)."""

_MAX_PAGE_LIMIT = 100_000
WIRE_ITEMS = "DdbMigrateWireItems"
"""Set (True) in a Scan reply whose ``Items`` are the JSON that came (see :func:`_scan_client`)."""


@dataclass(frozen=True)
class PageStats:
    """What one page cost; handed to ``on_page`` (from the reading thread or executor)."""

    table: str
    segment: int
    items: int
    consumed_units: float
    retries: int
    waited_seconds: float
    at: float
    """The injected clock's reading when the page arrived."""


@dataclass(frozen=True)
class Page:
    """One Scan page: its items, and the key the next page starts after (None: the segment is done).

    A caller that records ``last_key`` once the page's items are safely written can resume the
    segment there (``start_key``) after a crash: no item is skipped, and at most one page is read twice.
    """

    items: list[Item]
    last_key: Item | None
    prepared: list[Prepared] | None = None
    """The same items read from the reply's JSON: sized, and their JSON kept where it is exactly what
    ``item_to_json`` gives, so a writer neither sizes nor encodes them again (None: botocore parsed
    the reply, see :func:`~ddbmigrate.dynamodb.keep_list_as_json`)."""


def scan_pages(
    account: Account,
    table: str,
    segment: int,
    total_segments: int,
    *,
    start_key: Item | None = None,
    read_units_per_second: float | None = None,
    consistent: bool = False,
    on_page: Callable[[PageStats], None] | None = None,
) -> Iterator[Page]:
    """One segment page by page (empty pages too), from after ``start_key`` when given; see :func:`scan_segment`."""
    return _pages(
        account, table, segment, total_segments, read_units_per_second=read_units_per_second,
        consistent=consistent, page_limit=None, clock=time.monotonic, sleep=time.sleep,
        retry=SCAN_RETRY_POLICY, rng=random.Random(), on_page=on_page, client=None, start_key=start_key,
    )


def scan_segment(
    account: Account,
    table: str,
    segment: int,
    total_segments: int,
    *,
    read_units_per_second: float | None = None,
    consistent: bool = False,
    page_limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
    on_page: Callable[[PageStats], None] | None = None,
    client: Any | None = None,
) -> Iterator[Item]:
    """Every item of one segment of a parallel Scan, in wire form (see the module docstring).

    ``client`` is for callers that already hold one (tests, a shared pool); by default a client
    is built from ``account`` in the calling process. Raises :class:`SourceError` when the table
    cannot be read, :class:`ConfigError` for a bad segment or rate.
    """
    for page in _pages(
        account, table, segment, total_segments, read_units_per_second=read_units_per_second,
        consistent=consistent, page_limit=page_limit, clock=clock, sleep=sleep,
        retry=retry or SCAN_RETRY_POLICY, rng=rng or random.Random(), on_page=on_page, client=client,
    ):
        yield from page.items


def _pages(
    account: Account,
    table: str,
    segment: int,
    total_segments: int,
    *,
    read_units_per_second: float | None,
    consistent: bool,
    page_limit: int | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    retry: RetryPolicy,
    rng: random.Random,
    on_page: Callable[[PageStats], None] | None,
    client: Any | None,
    start_key: Item | None = None,
) -> Iterator[Page]:
    _check_segment(segment, total_segments)
    if page_limit is not None and page_limit < 1:
        raise ConfigError(f"page limit must be at least 1 item, got {page_limit}")
    client = client or _scan_client(account)
    bucket = TokenBucket(read_units_per_second, clock=clock, sleep=sleep) if read_units_per_second else None
    request: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total_segments,
        "ReturnConsumedCapacity": "TOTAL",
        "ConsistentRead": consistent,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    estimate = 0.5  # the smallest Scan page (eventually consistent) until a page tells us more
    limit = page_limit or (1 if bucket else None)
    while True:
        waited = bucket.acquire(estimate) if bucket else 0.0
        if limit:
            request["Limit"] = limit
        response, retries = _scan_page(client, request, table=table, segment=segment, total=total_segments,
                                       retry=retry, sleep=sleep, rng=rng, describe=account.describe())
        prepared = _read_items(response, f"scan of table {table!r} segment {segment} of {total_segments}")
        items: list[Item] = [entry.item for entry in prepared] if prepared is not None else response.get("Items", [])
        consumed = _consumed(response, items, consistent)
        if bucket:
            bucket.settle(estimate, consumed)
            estimate = max(consumed, 0.5)
            if page_limit is None and items:
                limit = _next_limit(float(bucket.burst or 1.0), items, consistent)
        if on_page:
            on_page(PageStats(table, segment, len(items), consumed, retries, waited, clock()))
        start = response.get("LastEvaluatedKey")
        yield Page(items, start or None, prepared)
        if not start:
            return
        request["ExclusiveStartKey"] = start


def _check_segment(segment: int, total_segments: int) -> None:
    if not 1 <= total_segments <= 1_000_000:
        raise ConfigError(f"--segments must be between 1 and 1,000,000 (DynamoDB's limit), got {total_segments}")
    if not 0 <= segment < total_segments:
        raise ConfigError(f"segment must be between 0 and {total_segments - 1}, got {segment}")


def _next_limit(units_per_page: float, items: list[Item], consistent: bool) -> int:
    """Items per page so that one page costs about the bucket's burst — but at least one 4 KB read.

    Sized from the bytes of the items just read (up to 16 of them), not from the page's reported
    cost: DynamoDB rounds each page up to 4 KB, so small pages would make items look expensive
    and keep pages small (and every one of them rounded up) for good.
    """
    units_per_4kb = 1.0 if consistent else 0.5
    sample = items[:16]
    average = max(1.0, sum(item_size(i) for i in sample) / len(sample))
    target_bytes = max(units_per_page, units_per_4kb) / units_per_4kb * 4096
    return max(1, min(_MAX_PAGE_LIMIT, int(target_bytes // average)))


def _consumed(response: dict[str, Any], items: list[Item], consistent: bool) -> float:
    capacity = response.get("ConsumedCapacity") or {}
    if "CapacityUnits" in capacity:
        return float(capacity["CapacityUnits"])
    # Not reported (some emulators): estimate from the page's size, as DynamoDB would bill it.
    return read_capacity_units(sum(item_size(i) for i in items), consistent=consistent)


def _scan_page(
    client: Any,
    request: dict[str, Any],
    *,
    table: str,
    segment: int,
    total: int,
    retry: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random,
    describe: str,
) -> tuple[dict[str, Any], int]:
    where = f"scan of table {table!r} segment {segment} of {total}"
    failures = 0
    while True:
        try:
            return client.scan(**request), failures
        except Exception as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                raise SourceError(f"{where}: table {table!r} does not exist in {describe}") from None
            if not classify(exc).retryable:
                if isinstance(exc, ClientError):
                    message = str(exc.response.get("Error", {}).get("Message", ""))
                    raise SourceError(f"{where} failed: {code}: {message}".rstrip(": ")) from None
                raise
        failures += 1
        if retry.exhausted(failures):
            raise SourceError(
                f"{where}: gave up after {failures} attempts (last: {code}). "
                "The table is throttling or unreachable; lower --read-percent or retry later."
            )
        sleep(retry.delay(failures - 1, rng.random))


def _scan_client(account: Account) -> Any:
    """botocore's retries off: this reader's are counted and their sleep is injectable; the items
    come as JSON, read by :func:`_read_items` (botocore's parse of them cost more than the rest)."""
    client = dynamodb_client(account, botocore_retries=False)
    keep_list_as_json(client, "dynamodb.Scan", "Items", WIRE_ITEMS)
    return client


def _read_items(response: Mapping[str, Any], where: str) -> list[Prepared] | None:
    """A reply's items read from their JSON (None when botocore parsed them). DynamoDB sent them, so
    one it could not have sent is a broken reply: :class:`SourceError`, naming the page's place."""
    if not response.get(WIRE_ITEMS):
        return None
    prepared = []
    for number, document in enumerate(response["Items"]):
        try:
            read = read_json_item(document, where=f"{where} item {number}")
        except DdbMigrateError as exc:
            raise SourceError(f"DynamoDB's Scan reply is not valid: {exc}") from None
        prepared.append(Prepared(read.item, read.size, document if read.json_exact else None))
    return prepared


# --------------------------------------------------------------------------- threads

_DONE = object()


class _Stopped(Exception):
    """The consumer closed the iterator: a worker leaves wherever it was waiting."""


def scan_table(
    account: Account,
    table: str,
    *,
    total_segments: int = 4,
    read_units_per_second: float | None = None,
    consistent: bool = False,
    page_limit: int | None = None,
    max_workers: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryPolicy | None = None,
    on_page: Callable[[PageStats], None] | None = None,
    buffer_pages: int = 64,
) -> Iterator[Item]:
    """Every item of the table, read by ``total_segments`` segments on up to ``max_workers`` threads.

    ``read_units_per_second`` is the budget of the whole table: each of the concurrently running
    segments gets ``budget / concurrency`` (Glue's per-task rule). Items arrive in no particular
    order. A failing segment stops the others and its error is raised here; closing the iterator
    early stops every thread (a thread waiting on the rate limiter wakes at once when ``sleep``
    is the default). ``on_page`` is called from the worker threads. Each thread builds one client.
    """
    _check_segment(0, total_segments)
    workers = max(1, min(max_workers or total_segments, total_segments))
    per_segment = read_units_per_second / workers if read_units_per_second else None
    pages: queue.Queue[Any] = queue.Queue(maxsize=buffer_pages)
    stop = threading.Event()
    segments = iter(range(total_segments))
    segments_lock = threading.Lock()

    def wake_on_stop(seconds: float) -> None:
        if stop.wait(seconds):
            raise _Stopped

    pause = wake_on_stop if sleep is time.sleep else sleep

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            client = _scan_client(account)
            while not stop.is_set():
                with segments_lock:
                    segment = next(segments, None)
                if segment is None:
                    break
                for page in _pages(
                    account, table, segment, total_segments, read_units_per_second=per_segment,
                    consistent=consistent, page_limit=page_limit, clock=clock, sleep=pause,
                    retry=retry or SCAN_RETRY_POLICY, rng=random.Random(), on_page=on_page, client=client,
                ):
                    if page.items and not put(page.items):
                        return
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
        finally:
            put(_DONE)

    threads = [threading.Thread(target=work, name=f"scan-{table}-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < workers:
            value = pages.get()
            if value is _DONE:
                finished += 1
            elif isinstance(value, BaseException):
                raise value
            else:
                yield from value
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
