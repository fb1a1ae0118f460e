"""The per-account token bucket."""

from __future__ import annotations

import pytest

from shared.http.problems import Problem
from shared.http.ratelimit import RateLimiter


def test_burst_then_refill_at_rate() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", now=0.0) == pytest.approx(0.5)
    assert limiter.take("a", now=0.5) == 0.0  # one token back after 1/rate seconds
    assert limiter.take("b", now=0.5) == 0.0  # keys are independent


def test_over_limit_raises_429_with_retry_after() -> None:
    limiter = RateLimiter(rate_per_second=0.1, burst=1)
    limiter.check("a")
    with pytest.raises(Problem) as excinfo:
        limiter.check("a")
    assert excinfo.value.status == 429
    assert int(excinfo.value.headers["Retry-After"]) >= 1


def test_memory_is_bounded_by_max_keys() -> None:
    limiter = RateLimiter(rate_per_second=1, burst=1, max_keys=100)
    for n in range(1000):
        limiter.take(f"k{n}", now=0.0)
    assert len(limiter._buckets) == 100


def test_wait_asks_without_spending_or_growing() -> None:
    limiter = RateLimiter(rate_per_second=1, burst=2, max_keys=100)
    assert limiter.wait("ip:unknown", now=0.0) == 0.0
    assert len(limiter._buckets) == 0  # asking about a stranger keeps no bucket
    limiter.take("ip:a", now=0.0)
    limiter.take("ip:a", now=0.0)
    assert limiter.wait("ip:a", now=0.0) == pytest.approx(1.0)
    assert limiter.wait("ip:a", now=0.0) == pytest.approx(1.0)  # asking spent nothing
    assert limiter.wait("ip:a", now=1.0) == 0.0
