"""A token bucket per key (account id, or client IP for anonymous reads and for failed
authentication).

In-process and bounded: at most `max_keys` buckets are kept, least recently used first
out, so a flood of distinct keys cannot grow memory. Each instance limits on its own;
behind a load balancer the effective limit is per instance.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from shared.http.problems import Problem

MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refilled(self, key: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def take(self, key: str, cost: float = 1.0, now: float | None = None) -> float:
        """Spend `cost` tokens; return 0 when allowed, else seconds until it would be."""
        now = time.monotonic() if now is None else now
        bucket = self._refilled(key, now)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        self._buckets.pop(key, None)
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def wait(self, key: str, cost: float = 1.0, now: float | None = None) -> float:
        """Seconds until `cost` tokens would be there (0: now), spending nothing; an
        unknown key creates no bucket, so asking never grows memory."""
        bucket = self._refilled(key, time.monotonic() if now is None else now)
        if bucket is None or bucket.tokens >= cost:
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def check(self, key: str, cost: float = 1.0) -> None:
        """Raise a 429 problem with `Retry-After` when `key` is over its rate."""
        wait = self.take(key, cost)
        if wait > 0:
            raise too_many(wait)


def too_many(wait: float, detail: str = "too many requests; slow down") -> Problem:
    """The 429 problem telling a client to retry after `wait` seconds (at least 1)."""
    return Problem(
        429, detail, type_="rate-limited", headers={"Retry-After": str(max(1, math.ceil(wait)))}
    )
