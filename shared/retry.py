"""Bounded start-up waits: `retry_until` retries one attempt with capped exponential backoff.

Every service waits for its dependencies (Postgres, the broker) at start the same way: try,
and on an error that means "not there yet" log one line, sleep, double the delay (capped)
and try again, until the time budget is spent; then the last error propagates and the
process fails instead of hanging. Errors not listed as retryable propagate at once: they
are bugs or misconfiguration, and waiting would not cure them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# The first retry comes soon (a dependency that is just starting answers within a second);
# the cap keeps a long outage from being noticed late once it ends.
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 3.0


async def retry_until(
    timeout_s: float,
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...],
    what: str,
    first_delay_s: float = FIRST_DELAY_S,
    max_delay_s: float = MAX_DELAY_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Return the result of the first `attempt()` that succeeds.

    An error of a `retry_on` type is retried after a delay that starts at `first_delay_s`
    and doubles up to `max_delay_s`, as long as the next attempt would start within
    `timeout_s` of the first; otherwise that error is raised. Any other error is raised at
    once. Each attempt itself is not bounded here: bound it inside `attempt` when it can
    hang. `what` names the dependency in the log line. `clock` and `sleep` exist for tests.
    """
    deadline = clock() + timeout_s
    delay = first_delay_s
    while True:
        try:
            return await attempt()
        except retry_on as exc:
            if clock() + delay > deadline:
                raise
            log.warning(
                "dependency not reachable yet, retrying",
                extra={
                    "dependency": what,
                    "error": f"{type(exc).__name__}: {exc}",
                    "retry_in_s": delay,
                },
            )
            await sleep(delay)
            delay = min(delay * 2, max_delay_s)
