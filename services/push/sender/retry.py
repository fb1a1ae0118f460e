"""When to try a push request again: `Retry-After` (RFC 9110 §10.2.3) or capped backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# 429 and 5xx are worth repeating (RFC 8030 §8.4 and ordinary HTTP); everything else
# below 500 is the push service's final word on this request.
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait: delay-seconds or an HTTP-date (a date
    in the past means now, 0). None when absent or unparseable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT even when written without a zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_s(attempt: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """The wait before retry number `attempt` (1-based) without a Retry-After: full
    jitter over base * 2^(attempt-1), capped, so many senders hit by the same outage
    do not come back in step."""
    return rng.uniform(0.0, min(cap_s, base_s * 2 ** (attempt - 1)))


def next_wait_s(
    attempt: int,
    retry_after: str | None,
    *,
    base_s: float,
    cap_s: float,
    max_wait_s: float,
    rng: random.Random,
) -> float | None:
    """The wait before retry `attempt`, or None when the push service asks for longer
    than `max_wait_s` (the send gives up rather than hold its slot that long)."""
    asked = retry_after_s(retry_after)
    if asked is not None:
        return asked if asked <= max_wait_s else None
    return backoff_s(attempt, base_s=base_s, cap_s=cap_s, rng=rng)
