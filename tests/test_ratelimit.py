"""The token bucket on a fake clock: rate over windows, debt, bursts, refunds — no real sleeping."""

from __future__ import annotations

import random
import threading

import pytest

from ddbmigrate.errors import ConfigError
from ddbmigrate.ratelimit import DEFAULT_BURST_SECONDS, TokenBucket


class FakeClock:
    """A clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _bucket(rate: float, **kwargs: float) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate, clock=clock, sleep=clock.sleep, **kwargs), clock


def _max_window_sum(events: list[tuple[float, float]], window: float) -> float:
    """Largest sum of units over any window [t, t + window) starting at an event."""
    best = 0.0
    for i, (start, _) in enumerate(events):
        total = sum(u for t, u in events[i:] if t < start + window)
        best = max(best, total)
    return best


def test_default_burst_is_a_fraction_of_a_second_and_start_is_smaller() -> None:
    bucket, _ = _bucket(100)
    assert bucket.burst == pytest.approx(100 * DEFAULT_BURST_SECONDS)
    assert bucket.tokens == pytest.approx(10)  # a tenth of a second banked at start
    tiny, _ = _bucket(2)
    assert tiny.burst == 1.0  # never below one unit, or a 1-WCU item could never be taken


@pytest.mark.parametrize("rate", [5.0, 50.0, 1234.5])
def test_steady_rate_over_every_5_second_window_stays_within_1_05(rate: float) -> None:
    # GIVEN a caller that asks as fast as it can, in random request sizes up to the bucket's size
    bucket, clock = _bucket(rate)
    rng = random.Random(3)
    events: list[tuple[float, float]] = []
    while clock.now < 1000 + 30:
        units = rng.uniform(0.5, bucket.capacity)
        bucket.acquire(units)
        events.append((clock.now, units))
        clock.advance(rng.uniform(0, 0.01))  # some work between requests
    # THEN no 5-second window exceeds 1.05 × rate × 5, and the average reaches the rate
    assert _max_window_sum(events, 5.0) <= 1.05 * rate * 5
    total = sum(u for _, u in events)
    assert total / (events[-1][0] - 1000) >= 0.97 * rate


def test_a_burst_after_idling_is_capped_by_burst() -> None:
    bucket, clock = _bucket(10, burst=3)
    clock.advance(3600)  # an hour idle banks only `burst`
    assert bucket.tokens == 3
    waited = bucket.acquire(3)
    assert waited == 0
    waited = bucket.acquire(1)
    assert waited == pytest.approx(0.1)


def test_request_larger_than_burst_waits_for_a_full_bucket_then_goes_into_debt() -> None:
    bucket, clock = _bucket(10, burst=2)
    clock.advance(1)
    waited = bucket.acquire(400)  # a 400 KB item
    assert waited == 0  # the bucket was full
    assert bucket.tokens == pytest.approx(-398)
    # the next caller repays the debt first: 39.8 s to reach 0, then 0.1 s for its own unit
    assert bucket.acquire(1) == pytest.approx(39.9)
    assert bucket.waited_seconds == pytest.approx(39.9)


def test_settle_with_more_than_estimated_creates_debt_and_less_refunds() -> None:
    bucket, clock = _bucket(10, burst=5)
    clock.advance(1)
    bucket.acquire(5)
    bucket.settle(estimated=5, actual=8)  # DynamoDB said the batch cost 8
    assert bucket.tokens == pytest.approx(-3)
    assert bucket.acquire(1) == pytest.approx(0.4)
    bucket.settle(estimated=1, actual=0)  # throttled: nothing consumed, the unit comes back
    assert bucket.tokens == pytest.approx(1)
    bucket.settle(estimated=100, actual=0)  # a refund never banks beyond burst
    assert bucket.tokens == 5


def test_set_rate_keeps_tokens_and_rescales_a_default_burst() -> None:
    bucket, clock = _bucket(100)
    clock.advance(1)
    bucket.set_rate(10)
    assert bucket.burst == pytest.approx(10 * DEFAULT_BURST_SECONDS)
    assert bucket.tokens == pytest.approx(2)
    explicit, _ = _bucket(100, burst=7)
    explicit.set_rate(10)
    assert explicit.burst == 7


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_rate_must_be_positive(bad: float) -> None:
    with pytest.raises(ConfigError, match="rate must be positive"):
        TokenBucket(bad)
    bucket, _ = _bucket(1)
    with pytest.raises(ConfigError, match="rate must be positive"):
        bucket.set_rate(bad)


def test_burst_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="burst must be positive"):
        TokenBucket(10, burst=0)


def test_threads_sharing_one_bucket_never_exceed_the_rate() -> None:
    # Real threads, fake time: the lock keeps the accounting exact.
    lock = threading.Lock()
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.now += seconds / 4  # four sleepers share the elapsed time

    bucket = TokenBucket(20, clock=clock, sleep=sleep)
    taken: list[float] = []

    def worker() -> None:
        for _ in range(50):
            bucket.acquire(1)
            with lock:
                taken.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = clock.now - 1000
    assert len(taken) == 200
    assert len(taken) <= 20 * elapsed + bucket.capacity + 1e-6  # never ahead of the rate
