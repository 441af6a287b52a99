"""A capacity-unit token bucket with an injected clock: the rate control of readers and writers.

The bucket can go into debt because a caller learns a request's real cost only from the
``ConsumedCapacity`` DynamoDB returns: it takes an estimate with :meth:`~TokenBucket.acquire` and
settles the difference with :meth:`~TokenBucket.settle`. Over any ``W`` seconds it hands out at most
``rate × W + max(burst, largest request)``; with ``burst`` at :data:`DEFAULT_BURST_SECONDS`
(0.2 s of rate) that keeps the promise "never above 1.05 × the budget in any 5-second window".
It starts with 0.1 s banked so tasks starting together do not overshoot. Why these numbers:
docs/sink.md, "Rate control" and "Rate limiter: burst and start".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ddbmigrate.errors import ConfigError

__all__ = ["DEFAULT_BURST_SECONDS", "TokenBucket"]

DEFAULT_BURST_SECONDS = 0.2
"""Default bucket size in seconds of rate: keeps any 5-second window within 1.04 × the rate."""

_START_SECONDS = 0.1
_MIN_BURST = 1.0
_EPSILON = 1e-6


@dataclass
class TokenBucket:
    """``rate`` units per second, at most ``burst`` units banked (default 0.2 s of rate, ≥ 1 unit).

    Thread-safe: one bucket may be shared by the threads of one task. ``waited_seconds`` is the
    total time callers spent waiting in :meth:`acquire`.
    """

    rate: float
    burst: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)
    _burst_seconds: float | None = field(init=False, default=None, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    waited_seconds: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        _check_rate(self.rate)
        if self.burst is None:
            self._burst_seconds = DEFAULT_BURST_SECONDS
            self.burst = _default_burst(self.rate)
        if not self.burst > 0:
            raise ConfigError(f"burst must be positive capacity units, got {self.burst!r}")
        self._tokens = min(self.burst, self.rate * _START_SECONDS)
        self._stamp = self.clock()

    @property
    def capacity(self) -> float:
        """The bucket's size (``burst``) as a float — the most one request should ask for."""
        return float(self.burst or _MIN_BURST)

    @property
    def tokens(self) -> float:
        """Units banked now (negative while in debt)."""
        with self._lock:
            self._refill()
            return self._tokens

    def acquire(self, units: float) -> float:
        """Take ``units``, waiting as long as needed; return the seconds waited.

        A request larger than ``burst`` is allowed (a 400 KB item is 400 WCU): it waits until the
        bucket is full and then drives it into debt, which later callers repay.
        """
        if units <= 0:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                needed = min(units, self.capacity)
                # A hair of tolerance: after sleeping exactly the computed delay, float rounding
                # (clocks read ~1e9) can leave the bucket a few ulps short, forever.
                if self._tokens >= needed - _EPSILON:
                    self._tokens -= units
                    self.waited_seconds += waited
                    return waited
                delay = (needed - self._tokens) / self.rate
            self.sleep(delay)
            waited += delay

    def settle(self, estimated: float, actual: float) -> None:
        """Correct an earlier ``acquire(estimated)`` by what DynamoDB reported as consumed.

        ``actual`` above the estimate puts the bucket into debt; below it gives units back (never
        beyond ``burst``).
        """
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens - (actual - estimated), self.capacity)

    def set_rate(self, rate: float) -> None:
        """Change the rate (e.g. the table's capacity changed); banked tokens are kept.

        A default-sized bucket keeps its size in seconds of rate; an explicit ``burst`` is kept.
        """
        _check_rate(rate)
        with self._lock:
            self._refill()
            self.rate = rate
            if self._burst_seconds is not None:
                self.burst = _default_burst(rate)
            self._tokens = min(self._tokens, self.capacity)

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)


def _default_burst(rate: float) -> float:
    return max(rate * DEFAULT_BURST_SECONDS, _MIN_BURST)


def _check_rate(rate: float) -> None:
    if not rate > 0:
        raise ConfigError(f"rate must be positive capacity units per second, got {rate!r}")
