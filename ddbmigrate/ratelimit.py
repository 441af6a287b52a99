"""A capacity-unit token bucket with an injected clock: the rate control of readers and writers.

Why a bucket that can go into debt: a writer only learns what a batch really cost from the
``ConsumedCapacity`` DynamoDB returns. It takes its *estimate* before sending
(:meth:`TokenBucket.acquire`) and settles the difference afterwards (:meth:`TokenBucket.settle`).
An under-estimate leaves the bucket negative, and the next ``acquire`` waits until the debt is
repaid, so over any window the consumed units stay at ``rate × window + burst``.

``burst`` (the bucket's size) bounds how far ahead of the rate a caller may run after idling.
It defaults to one second of rate, which keeps every 5-second window within
``rate × 5 + rate`` ≤ 1.2 × budget in the worst case and ≈ 1.0 × budget in steady state.
Clock and sleep are injected so that tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ddbmigrate.errors import ConfigError

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    """``rate`` units per second, at most ``burst`` units banked (default: one second of rate).

    Thread-safe: one bucket may be shared by the threads of one task.
    """

    rate: float
    burst: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    waited_seconds: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ConfigError(f"rate must be positive capacity units per second, got {self.rate!r}")
        if self.burst is None:
            self.burst = max(self.rate, 1.0)
        if self.burst <= 0:
            raise ConfigError(f"burst must be positive, got {self.burst!r}")
        # Start with a fraction of a second banked rather than a full bucket, so a fleet of
        # tasks starting together does not overshoot the table's budget in its first window.
        self._tokens = min(self.burst, self.rate * 0.1)
        self._stamp = self.clock()

    @property
    def tokens(self) -> float:
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
                needed = min(units, self.burst or units)
                if self._tokens >= needed:
                    self._tokens -= units
                    self.waited_seconds += waited
                    return waited
                delay = (needed - self._tokens) / self.rate
            self.sleep(delay)
            waited += delay

    def settle(self, estimated: float, actual: float) -> None:
        """Correct an earlier ``acquire(estimated)`` by what DynamoDB reported as consumed."""
        with self._lock:
            self._refill()
            self._tokens -= actual - estimated
            self._tokens = min(self._tokens, self.burst or self._tokens)

    def set_rate(self, rate: float) -> None:
        """Change the rate (e.g. the table's capacity changed); banked tokens are kept."""
        if not rate > 0:
            raise ConfigError(f"rate must be positive capacity units per second, got {rate!r}")
        with self._lock:
            self._refill()
            self.rate = rate
            self.burst = max(rate, 1.0)
            self._tokens = min(self._tokens, self.burst)

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst or 0.0, self._tokens + elapsed * self.rate)
