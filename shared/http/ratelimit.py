"""A token bucket per key (account id, or client IP for anonymous reads).

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

    def take(self, key: str, cost: float = 1.0, now: float | None = None) -> float:
        """Spend `cost` tokens; return 0 when allowed, else seconds until it would be."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def check(self, key: str, cost: float = 1.0) -> None:
        """Raise a 429 problem with `Retry-After` when `key` is over its rate."""
        wait = self.take(key, cost)
        if wait > 0:
            raise Problem(
                429,
                "too many requests; slow down",
                type_="rate-limited",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
