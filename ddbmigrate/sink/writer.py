"""``TableWriter``: rate-limited, retrying, never-dropping BatchWriteItem for one task.

Each ``put``/``delete`` is validated before spending capacity, batched (25 requests, 16 MB, one
bucket's worth of WCU, no key twice), paced by the task's token bucket and settled against the
table's reported ``ConsumedCapacity``. Throttles, ``UnprocessedItems``, 5xx and dropped connections
are retried with full-jitter backoff until ``max_retries`` attempts in a row make no progress; then
everything in hand is dead-lettered as ``unwritten: …`` and :class:`~ddbmigrate.errors.SinkError`
is raised, so ``received = written + dead_lettered`` always holds. botocore's own retries are off
(:func:`writer_client`): this module is the only place a request is repeated. Puts replace whole
items, so a re-sent request does no harm. See docs/sink.md, "Batching", "Retries", "Dead letters".
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.deadletter import DeadLetterWriter
from ddbmigrate.dynamodb import (
    ErrorClass,
    RetryPolicy,
    TableDescription,
    classify,
    dynamodb_client,
    error_code,
)
from ddbmigrate.errors import InvalidItemError, InvalidKeyError, SinkError
from ddbmigrate.ratelimit import TokenBucket
from ddbmigrate.sink.encode import BODY_PARAM, Document, batch_write_body, use_prebuilt_bodies
from ddbmigrate.sink.send import LeanSender
from ddbmigrate.sink.stats import SinkStats
from ddbmigrate.values import (
    Item,
    key_of,
    validate_attribute_value,
    validate_item_size,
    validate_key,
    write_capacity_units,
)

__all__ = ["RETURN_CONSUMED", "Prepared", "Rejected", "TableWriter", "writer_client"]

log = logging.getLogger(__name__)

RETURN_CONSUMED = "INDEXES"
"""``ReturnConsumedCapacity`` of every BatchWriteItem: the budget settles against the table's share."""


def writer_client(account: Account, *, max_pool_connections: int = 4) -> Any:
    """The writer's client: botocore's retries off (see the module docstring) and its parameter
    validation too — every item is validated before it joins a batch, and botocore's second walk
    over each item was about a third of the sink's CPU."""
    return dynamodb_client(account, botocore_retries=False, parameter_validation=False,
                           max_pool_connections=max_pool_connections)


@dataclass(eq=False)
class _Request:
    kind: str  # "put" | "delete"
    body: Item
    key: tuple[Any, ...]
    origin: str
    size: int
    wcu: int
    done: bool = False
    document: Document | None = None
    """The body's DynamoDB JSON as read (object or text), when it is what ``item_to_json(body)`` gives."""

    def wire(self) -> dict[str, Any]:
        if self.kind == "put":
            return {"PutRequest": {"Item": self.body}}
        return {"DeleteRequest": {"Key": self.body}}


class _GiveUp(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Batch:
    requests: list[_Request] = field(default_factory=list)
    keys: set[tuple[Any, ...]] = field(default_factory=set)
    size: int = 0
    wcu: int = 0

    def add(self, request: _Request) -> None:
        self.requests.append(request)
        self.keys.add(request.key)
        self.size += request.size
        self.wcu += request.wcu


@dataclass(frozen=True)
class Rejected:
    """In place of an item: an earlier stage refused it; the task's writer dead-letters it.

    Lets a streaming stage (a Scan, a per-item mapping) hand its refusals to the sink without a
    second pass over the source: they land in the same dead-letter file and the same counts.
    """

    reason: str
    key: Item | None = None
    item: Item | None = None
    """The refused item as it was (it goes to the dead-letter file only, to be fixed and replayed)."""


@dataclass(frozen=True)
class Prepared:
    """In place of an item: one a reader already validated and sized (:func:`~ddbmigrate.values.read_json_item`).

    The sink then does not count its size again and, given the ``document`` it was read from (only
    when that is exactly the item's JSON form: object, or its text), sends it as it is.
    """

    item: Item
    size: int
    document: Document | None = None


class TableWriter:
    """Writes puts and deletes to one table for one task; use as a context manager.

    >>> with TableWriter(client, info, rate=50.0, dead_letters=dl) as writer:   # doctest: +SKIP
    ...     writer.put(item, origin="s3://bucket/data/x.json.gz line 17")
    >>> writer.stats.reconciles                                                  # doctest: +SKIP
    True

    ``rate`` is this task's WCU per second (``None``: no rate limit); ``bucket`` may be passed
    instead to share one. ``dead_letters`` receives what can never be written; without it such a
    request raises :class:`SinkError`. ``sleep``, ``clock`` and ``random`` are injected so tests
    never wait. Not thread-safe: one writer per task.
    """

    def __init__(
        self,
        client: Any,
        table: TableDescription,
        *,
        rate: float | None = None,
        bucket: TokenBucket | None = None,
        dead_letters: DeadLetterWriter | None = None,
        policy: RetryPolicy | None = None,
        max_batch_items: int = 25,
        max_batch_bytes: int = 16 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if bucket is None and rate is not None:
            bucket = TokenBucket(rate, clock=clock, sleep=sleep)
        self._client = client
        self._prebuilt = use_prebuilt_bodies(client)  # json.dumps builds the body, not botocore's shape walk
        self._lean = LeanSender(client) if self._prebuilt else None  # and, once armed, sends it without botocore's hooks
        self._info = table
        self._bucket = bucket
        self._dead_letters = dead_letters
        self._policy = policy or RetryPolicy()
        self._max_items = max_batch_items
        self._max_bytes = max_batch_bytes
        self._sleep = sleep
        self._random = random
        self._batch = _Batch()
        self._failed: str | None = None
        self._closed = False
        self.stats = SinkStats()

    # ------------------------------------------------------------------ public API

    @property
    def table(self) -> TableDescription:
        return self._info

    def put(self, item: Item, *, origin: str = "", size: int | None = None, document: Document | None = None) -> None:
        """Write a whole item (replacing any item with its key).

        A producer that read the item with :func:`~ddbmigrate.values.read_json_item` passes what it
        learnt on the way: the item's ``size`` (not counted again) and, when ``json_exact``, the JSON
        ``document`` it came from, which goes into the request body as it is.
        """
        self._accept("put", item, origin, size, document)

    def delete(self, key: Item, *, origin: str = "") -> None:
        """Delete the item with this key (extra attributes beyond the key are ignored)."""
        body = {name: key[name] for name in self._info.key_names if isinstance(key, Mapping) and name in key}
        self._accept("delete", body if isinstance(key, Mapping) else key, origin)

    def reject(self, reason: str, *, origin: str = "", key: Item | None = None, item: Item | None = None) -> None:
        """Dead-letter an item an earlier stage refused (e.g. a mapping misfit), counted as received.

        The pipeline's stages before the sink stream into it; routing their refusals through the
        same writer keeps one dead-letter file per task and one reconciliation:
        ``received = written + dead_lettered``. ``reason`` must name attributes, never values.
        """
        self._check_usable()
        self.stats.received += 1
        self._dead_letter(reason, origin=origin, key=key, item=item, kind="put")

    def flush(self) -> None:
        """Write everything pending now (returns when each request is written or dead-lettered)."""
        self._check_usable()
        batch, self._batch = self._batch, _Batch()
        if not batch.requests:
            return
        try:
            self._send_until_done(batch.requests)
        except _GiveUp as exc:
            self._fail(batch.requests, exc.reason)

    def sync(self) -> None:
        """Flush, then make the dead letters durable: what a caller does before it records progress
        (a replication checkpoint), so a crash right after never loses a letter it has counted."""
        self.flush()
        if self._dead_letters is not None:
            self._dead_letters.sync()

    def close(self) -> None:
        """Flush, close the dead-letter file, settle the counters. Idempotent."""
        if self._closed:
            return
        try:
            if self._failed is None:
                self.flush()
        finally:
            self._closed = True
            if self._bucket is not None:
                self.stats.waited_seconds = self._bucket.waited_seconds
            if self._dead_letters is not None:
                self._dead_letters.close()
        log.info("%s: %s", self._info.name, self.stats.summary())

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ accepting

    def _accept(self, kind: str, body: Any, origin: str, size: int | None = None, document: Any = None) -> None:
        self._check_usable()
        self.stats.received += 1
        try:
            request = self._request(kind, body, origin, size, document)
        except InvalidItemError as exc:
            reason = str(exc).removeprefix("item: ")
            key = {n: body[n] for n in self._info.key_names if isinstance(body, Mapping) and n in body}
            self._dead_letter(reason, origin=origin, key=key, item=body if kind == "put" else None, kind=kind)
            return
        batch = self._batch
        if request.key in batch.keys or (
            batch.requests
            and (
                len(batch.requests) >= self._max_items
                or batch.size + request.size > self._max_bytes
                or (self._bucket is not None and batch.wcu + request.wcu > self._bucket.capacity)
            )
        ):
            self.flush()
        self._batch.add(request)
        if len(self._batch.requests) >= self._max_items:
            self.flush()

    def _request(self, kind: str, body: Any, origin: str, known_size: int | None = None, document: Any = None) -> _Request:
        if not isinstance(body, Mapping):
            raise InvalidItemError(f"item: expected a mapping of attribute name → typed value, got {type(body).__name__}")
        validate_key(body, self._info.key_schema, self._info.attribute_types)
        try:
            key = key_of(body, self._info.key_schema)
        except InvalidItemError as exc:
            names = ", ".join(repr(n) for n in self._info.key_names)
            raise InvalidKeyError(f"item: key attribute {names}: {str(exc).removeprefix('value: ')}") from None
        try:
            size = validate_item_size(body, size=known_size)
        except InvalidItemError:
            raise
        except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as exc:
            for name, value in body.items():  # name the attribute at fault when we can
                validate_attribute_value(value, where=f"item: attribute {name!r}")
            raise InvalidItemError(
                f"item: an attribute value is not a DynamoDB wire value ({type(exc).__name__}); "
                "each value must be one type tag (S, N, B, …) with a payload of that type"
            ) from None
        wcu = write_capacity_units(size) if kind == "put" else 1
        return _Request(kind, dict(body), key, origin, size, wcu, document=document)

    # ------------------------------------------------------------------ sending

    def _send_until_done(self, requests: list[_Request]) -> None:
        queue = [r for r in requests if not r.done]
        stalled = 0
        attempt = 0
        first = True
        while queue:
            if not first:
                self.stats.retries += 1
            first = False
            estimate = sum(r.wcu for r in queue)
            if self._bucket is not None:
                self._bucket.acquire(estimate)
            self.stats.batches += 1
            try:
                if self._lean is not None and self._lean.armed:
                    response = self._lean.batch_write_item(self._body(queue))
                else:
                    response = self._client.batch_write_item(**self._call(queue))
            except Exception as exc:
                kind = classify(exc)
                code = error_code(exc)
                if kind is ErrorClass.INVALID:
                    self._settle(estimate, 0.0)
                    self._narrow(queue, exc)
                    return
                if kind is ErrorClass.FATAL:
                    raise _GiveUp(f"{code} (cannot be retried)") from exc
                if kind is ErrorClass.THROTTLED:
                    self.stats.throttles += 1
                    self._settle(estimate, 0.0)
                elif kind is ErrorClass.SERVER:
                    self.stats.server_errors += 1
                else:
                    self.stats.connection_errors += 1
                stalled += 1
                log.debug("%s: %s on a batch of %d; retry %d", self._info.name, code, len(queue), stalled)
                if self._policy.exhausted(stalled):
                    raise _GiveUp(f"retries exhausted ({self._policy.max_retries} without progress; last error {code})") from exc
                self._backoff(attempt)
                attempt += 1
                continue
            queue, progressed = self._absorb(queue, estimate, response)
            if not queue:
                return
            stalled = 0 if progressed else stalled + 1
            if self._policy.exhausted(stalled):
                raise _GiveUp(
                    f"retries exhausted ({self._policy.max_retries} without progress; last error UnprocessedItems)"
                )
            self._backoff(attempt)
            attempt += 1

    def _call(self, queue: list[_Request]) -> dict[str, Any]:
        call: dict[str, Any] = {"RequestItems": {self._info.name: [r.wire() for r in queue]}, "ReturnConsumedCapacity": RETURN_CONSUMED}
        if self._prebuilt:
            call[BODY_PARAM] = self._body(queue)
        return call

    def _body(self, queue: list[_Request]) -> bytes:
        """The call's prebuilt JSON body: what the lean sender sends, and botocore when it sends a prebuilt body."""
        return batch_write_body(self._info.name, [(r.kind, r.body, r.document) for r in queue], RETURN_CONSUMED)

    def _absorb(self, queue: list[_Request], estimate: float, response: Mapping[str, Any]) -> tuple[list[_Request], bool]:
        """Count a successful call; return (requests still unprocessed, whether any was written)."""
        # One table per call, but the answer may name it differently from the request (an ARN
        # asked, a name answered): take every unprocessed entry, whatever its table key.
        left_raw = [e for entries in (response.get("UnprocessedItems") or {}).values() for e in entries]
        left = self._match_unprocessed(queue, left_raw)
        written = [r for r in queue if r not in left]
        reported = _table_units(response.get("ConsumedCapacity"))
        consumed = reported if reported is not None else float(sum(r.wcu for r in written))
        self._settle(estimate, consumed)
        self.stats.consumed_wcu += consumed
        for r in written:
            r.done = True
        self.stats.written += len(written)
        if left:
            self.stats.unprocessed += len(left)
        return left, bool(written)

    def _match_unprocessed(self, queue: list[_Request], raw: Sequence[Mapping[str, Any]]) -> list[_Request]:
        if not raw:
            return []
        by_key = {r.key: r for r in queue}
        left: list[_Request] = []
        for entry in raw:
            body = (entry.get("PutRequest") or {}).get("Item") or (entry.get("DeleteRequest") or {}).get("Key")
            request = by_key.get(key_of(body, self._info.key_schema)) if isinstance(body, Mapping) else None
            if request is None:
                raise SinkError(f"{self._info.name}: DynamoDB returned an unprocessed request this writer did not send")
            left.append(request)
        return left

    def _narrow(self, queue: list[_Request], exc: BaseException) -> None:
        """DynamoDB rejected the batch: split until the rejected request is alone, dead-letter it.

        A lone request sent as the JSON text its reader kept is first sent once more encoded from
        the item itself: the text saves encoding, and must never decide an item's fate.
        """
        if len(queue) == 1 and isinstance(queue[0].document, str):
            queue[0].document = None
            self._send_until_done(queue)
            return
        if len(queue) == 1:
            request = queue[0]
            public = f"rejected by DynamoDB ({error_code(exc)})"
            self._dead_letter(
                f"{public}: {_message(exc)}", origin=request.origin, key=_key_attrs(request, self._info),
                item=request.body if request.kind == "put" else None, kind=request.kind, public=public,
            )
            request.done = True
            return
        self.stats.splits += 1
        half = len(queue) // 2
        self._send_until_done(queue[:half])
        self._send_until_done(queue[half:])

    def _settle(self, estimate: float, consumed: float) -> None:
        if self._bucket is not None:
            self._bucket.settle(estimate, consumed)

    def _backoff(self, attempt: int) -> None:
        delay = self._policy.delay(attempt, self._random)
        if delay > 0:
            self.stats.backoff_seconds += delay
            self._sleep(delay)

    # ------------------------------------------------------------------ failure

    def _dead_letter(
        self, reason: str, *, origin: str, key: Mapping[str, Any] | None, item: Any, kind: str, public: str | None = None
    ) -> None:
        """Record a dead letter. ``reason`` goes to the file only; logs and errors get ``public``.

        Our own reasons name attributes, never values, and are public as they are; DynamoDB's
        messages are not ours to vouch for, so for those only the error code is shown.
        """
        shown = public or reason
        if self._dead_letters is None:
            self._failed = shown
            raise SinkError(
                f"{self._info.name}: {origin or 'an item'} cannot be written: {shown}. "
                "Set a dead-letter location to collect such items instead of failing."
            )
        self._dead_letters.write(reason, origin=origin, key=key, item=item, operation=kind)
        self.stats.dead_lettered += 1
        log.warning("%s: dead-lettered %s: %s", self._info.name, origin or "an item", shown)

    def _fail(self, requests: list[_Request], reason: str) -> None:
        unwritten = [r for r in requests if not r.done]
        where = "no dead-letter location configured"
        if self._dead_letters is not None:
            for r in unwritten:
                self._dead_letters.write(
                    f"unwritten: {reason}", origin=r.origin, key=_key_attrs(r, self._info),
                    item=r.body if r.kind == "put" else None, operation=r.kind,
                )
                r.done = True
                self.stats.dead_lettered += 1
            where = f"dead-lettered to {self._dead_letters.uri} as 'unwritten'"
        self._failed = reason
        raise SinkError(
            f"{self._info.name}: gave up — {reason}; {len(unwritten)} request(s) in hand {where}. "
            f"Written so far: {self.stats.written} of {self.stats.received}. Nothing was skipped silently: "
            "fix the cause and re-run (writes are idempotent)."
        )

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise SinkError(f"{self._info.name}: this writer already failed ({self._failed}); start a new one")
        if self._closed:
            raise SinkError(f"{self._info.name}: this writer is closed")


def _key_attrs(request: _Request, info: TableDescription) -> dict[str, Any]:
    return {n: request.body[n] for n in info.key_names if n in request.body}


def _table_units(consumed: Any) -> float | None:
    """Table WCU from ``ConsumedCapacity`` (INDEXES: the ``Table`` part; TOTAL: the total)."""
    if not consumed:
        return None
    total = 0.0
    for entry in consumed:
        table = entry.get("Table") or {}
        units = table.get("CapacityUnits", entry.get("CapacityUnits"))
        total += float(units or 0.0)
    return total


def _message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message") or "")
    return str(exc)

