"""A loopback fault proxy in front of DynamoDB Local: throttling, partial batches, 5xx, drops, a WCU cap.

DynamoDB Local never throttles, never returns ``UnprocessedItems`` and never drops a connection;
real DynamoDB does all three. :class:`FaultProxy` makes it misbehave over real HTTP at set rates,
so the sink's retry and rate logic are tested against the wire, not mocks, and
:meth:`FaultProxy.consumed_timeline` records what the table really absorbed. Which requests, the
fault kinds and the WCU cap: docs/sink.md, "Testing against faults".
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from ddbmigrate.errors import ConfigError
from ddbmigrate.local.loopback import LoopbackProxy, RelayHandler
from ddbmigrate.values import item_size, write_capacity_units

__all__ = ["WRITE_OPERATIONS", "FaultProxy", "FaultStats"]

WRITE_OPERATIONS = frozenset({"BatchWriteItem", "PutItem", "DeleteItem", "UpdateItem"})
_TARGET_PREFIX = "DynamoDB_20120810."
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_THROTTLE_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
_DROP_MODES = ("before", "after", "both")


@dataclass
class FaultStats:
    """What the proxy did (a snapshot; see :attr:`FaultProxy.stats`)."""

    requests: int = 0
    forwarded: int = 0
    throttled: int = 0
    budget_throttled: int = 0
    errors_5xx: int = 0
    dropped_before: int = 0
    dropped_after: int = 0
    partial_batches: int = 0
    budget_partial_batches: int = 0
    unprocessed_requests: int = 0
    written_requests: int = 0
    """Write requests forwarded and accepted by DynamoDB Local (a re-sent item counts again)."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class FaultProxy(LoopbackProxy):
    """A threaded HTTP proxy to ``upstream_url`` that injects DynamoDB faults (module docstring)."""

    thread_name = "ddb-fault-proxy"

    def __init__(
        self,
        upstream_url: str,
        *,
        throttle_rate: float = 0.0,
        unprocessed_rate: float = 0.0,
        error_5xx_rate: float = 0.0,
        drop_rate: float = 0.0,
        drop_mode: str = "both",
        provisioned_wcu: float | None = None,
        seed: int | None = None,
        operations: Iterable[str] = WRITE_OPERATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        rates = {"throttle_rate": throttle_rate, "unprocessed_rate": unprocessed_rate,
                 "error_5xx_rate": error_5xx_rate, "drop_rate": drop_rate}
        for name, rate in rates.items():
            if not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{name}: expected a share of requests between 0 and 1, got {rate!r}")
        if throttle_rate + error_5xx_rate + drop_rate > 1.0:
            raise ConfigError("throttle_rate + error_5xx_rate + drop_rate may not exceed 1 (one fault per request)")
        if drop_mode not in _DROP_MODES:
            raise ConfigError(f"drop_mode: expected one of {', '.join(_DROP_MODES)}, got {drop_mode!r}")
        if provisioned_wcu is not None and not (isinstance(provisioned_wcu, (int, float)) and provisioned_wcu > 0):
            raise ConfigError(f"provisioned_wcu: expected a positive number of WCU per second, got {provisioned_wcu!r}")
        super().__init__(upstream_url, what="DynamoDB Local")
        self.throttle_rate = float(throttle_rate)
        self.unprocessed_rate = float(unprocessed_rate)
        self.error_5xx_rate = float(error_5xx_rate)
        self.drop_rate = float(drop_rate)
        self.drop_mode = drop_mode
        self.provisioned_wcu = None if provisioned_wcu is None else float(provisioned_wcu)
        self.operations = frozenset(operations)
        self._clock = clock
        self._rng = random.Random(seed)
        self._stats = FaultStats()
        self._consumed: dict[int, float] = {}
        self._started_at = clock()
        self._flip = False

    # ------------------------------------------------------------------ lifecycle (LoopbackProxy)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    def _on_start(self) -> None:
        self._started_at = self._clock()

    # ------------------------------------------------------------------ observations

    @property
    def stats(self) -> FaultStats:
        """A snapshot of the counters."""
        with self._lock:
            return FaultStats(**asdict(self._stats))

    def consumed_timeline(self) -> list[tuple[int, float]]:
        """``(second, WCU)`` for every second from the first write to the last, gaps as 0.

        Seconds count from the proxy's start; the WCU are those of writes forwarded and accepted
        (an answer dropped after forwarding still counts: the table absorbed it).
        """
        with self._lock:
            consumed = dict(self._consumed)
        if not consumed:
            return []
        first, last = min(consumed), max(consumed)
        return [(s, consumed.get(s, 0.0)) for s in range(first, last + 1)]

    # ------------------------------------------------------------------ decisions (under the lock)

    def _second(self) -> int:
        return math.floor(self._clock() - self._started_at)

    def _draw_fault(self) -> str | None:
        with self._lock:
            self._stats.requests += 1
            u = self._rng.random()
            if u < self.drop_rate:
                mode = self.drop_mode if self.drop_mode != "both" else self._rng.choice(("before", "after"))
                return "drop-" + mode
            if u < self.drop_rate + self.throttle_rate:
                self._stats.throttled += 1
                return "throttle"
            if u < self.drop_rate + self.throttle_rate + self.error_5xx_rate:
                self._stats.errors_5xx += 1
                self._flip = not self._flip
                return "500" if self._flip else "503"
            return None

    def _admit(self, costs: list[float], *, batch: bool) -> tuple[list[int], int, bool]:
        """Choose which write requests go through: (indices, second charged, injected partial?)."""
        with self._lock:
            second = self._second()
            chosen = list(range(len(costs)))
            if self.provisioned_wcu is not None:
                used = self._consumed.get(second, 0.0)
                fits: list[int] = []
                for i in chosen:
                    if used + costs[i] <= self.provisioned_wcu or (used == 0.0 and not fits):
                        fits.append(i)
                        used += costs[i]
                    elif not batch:
                        break
                if len(fits) < len(chosen):
                    if fits:
                        self._stats.budget_partial_batches += 1
                    else:
                        self._stats.budget_throttled += 1
                chosen = fits
            injected = False
            if batch and len(chosen) >= 2 and self.unprocessed_rate and self._rng.random() < self.unprocessed_rate:
                keep = self._rng.randint(1, len(chosen) - 1)
                chosen = sorted(self._rng.sample(chosen, keep))
                injected = True
                self._stats.partial_batches += 1
            self._consumed[second] = self._consumed.get(second, 0.0) + sum(costs[i] for i in chosen)
            return chosen, second, injected

    def _refund(self, second: int, units: float) -> None:
        with self._lock:
            self._consumed[second] = self._consumed.get(second, 0.0) - units

    def _count(self, **changes: int) -> None:
        with self._lock:
            for name, delta in changes.items():
                setattr(self._stats, name, getattr(self._stats, name) + delta)


# --------------------------------------------------------------------------- the HTTP side


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": _ERROR_PREFIX + code, "message": message}).encode("utf-8")


def _write_cost(op: str, request: dict[str, Any]) -> float:
    """WCU of one write as the proxy charges it (puts by size; deletes and updates 1)."""
    item = request.get("Item") if op == "PutItem" else (request.get("PutRequest") or {}).get("Item")
    if not isinstance(item, dict):
        return 1.0
    try:
        return float(write_capacity_units(item_size(item)))
    except Exception:  # a malformed item: DynamoDB Local will reject it; charge the minimum
        return 1.0


def _handler_class(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(RelayHandler):
        def do_GET(self) -> None:
            self._relay(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target", "")
            op = target[len(_TARGET_PREFIX):] if target.startswith(_TARGET_PREFIX) else target
            if op not in proxy.operations:
                self._relay(body)
                return
            fault = proxy._draw_fault()
            if fault == "drop-before":
                proxy._count(dropped_before=1)
                self._drop()
                return
            if fault == "throttle":
                self._answer(400, _error_body("ProvisionedThroughputExceededException", _THROTTLE_MESSAGE))
                return
            if fault in ("500", "503"):
                code, message = (
                    ("InternalServerError", "Internal server error")
                    if fault == "500"
                    else ("ServiceUnavailable", "The service is currently unavailable or busy.")
                )
                self._answer(int(fault), _error_body(code, message))
                return
            status, headers, answer = self._write(op, body)
            if fault == "drop-after":
                proxy._count(dropped_after=1)
                self._drop()
                return
            self._answer(status, answer, headers)

        # -------------------------------------------------------------- writes

        def _write(self, op: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                return self._forward(body)
            if op == "BatchWriteItem":
                return self._batch(request)
            chosen, second, _ = proxy._admit([_write_cost(op, request)], batch=False)
            if not chosen:
                return 400, {}, _error_body("ProvisionedThroughputExceededException", _THROTTLE_MESSAGE)
            status, headers, answer = self._forward(body)
            if status == 200:
                proxy._count(forwarded=1, written_requests=1)
            else:
                proxy._count(forwarded=1)
                proxy._refund(second, _write_cost(op, request))
            return status, headers, answer

        def _batch(self, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
            items = request.get("RequestItems") or {}
            flat = [(table, entry) for table, entries in items.items() for entry in entries]
            costs = [_write_cost("BatchWriteItem", entry) for _, entry in flat]
            chosen, second, _ = proxy._admit(costs, batch=True)
            if not chosen:
                return 400, {}, _error_body("ProvisionedThroughputExceededException", _THROTTLE_MESSAGE)
            keep = set(chosen)
            forwarded: dict[str, list[Any]] = {}
            held: dict[str, list[Any]] = {}
            for i, (table, entry) in enumerate(flat):
                (forwarded if i in keep else held).setdefault(table, []).append(entry)
            status, headers, answer = self._forward(json.dumps({**request, "RequestItems": forwarded}).encode("utf-8"))
            proxy._count(forwarded=1)
            if status != 200:
                proxy._refund(second, sum(costs[i] for i in chosen))
                return status, headers, answer
            response = json.loads(answer or b"{}")
            unprocessed = response.get("UnprocessedItems") or {}
            upstream_left = sum(len(v) for v in unprocessed.values())
            proxy._count(written_requests=len(chosen) - upstream_left)
            if not held:
                return status, headers, answer
            for table, entries in held.items():
                unprocessed.setdefault(table, []).extend(entries)
            response["UnprocessedItems"] = unprocessed
            proxy._count(unprocessed_requests=sum(len(v) for v in held.values()))
            return status, headers, json.dumps(response).encode("utf-8")

        # -------------------------------------------------------------- plumbing

        def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
            headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):  # a kept-alive upstream connection may have gone stale
                try:
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    response = self.upstream.getresponse()
                    data = response.read()
                    kept = {k: v for k, v in response.getheaders() if k.lower() in ("content-type", "x-amzn-requestid")}
                    return response.status, kept, data
                except (OSError, http.client.HTTPException):
                    if self.upstream is not None:
                        self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        break
            return 500, {}, _error_body("InternalServerError", "fault proxy: DynamoDB Local did not answer")

        def _relay(self, body: bytes) -> None:
            status, headers, answer = self._forward(body)
            self._answer(status, answer, headers)

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            merged = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
            for k, v in (headers or {}).items():
                merged[k] = v
            merged["x-amz-crc32"] = str(zlib.crc32(body) & 0xFFFFFFFF)
            merged["Content-Length"] = str(len(body))
            for k, v in merged.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _drop(self) -> None:
            """Close the connection without a byte of answer (the client sees it reset)."""
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler
