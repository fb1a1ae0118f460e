"""Timing named database operations into `herald_db_query_duration_seconds`.

`operation` is a fixed word chosen in code (e.g. "timeline", "posts_batch"), never built
from request data, so the label stays bounded. A failed or timed-out operation is timed
too: slow failures are what an operator looks for.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from shared.metrics.common import DB_QUERY_SECONDS

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def db_timer(service: str, operation: str) -> Iterator[None]:
    """Time the block (a statement or a whole transaction) as `operation`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        DB_QUERY_SECONDS.labels(service=service, operation=operation).observe(
            time.perf_counter() - started
        )


def timed(
    service: str, operation: str
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorator form of `db_timer` for an async query function."""

    def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with db_timer(service, operation):
                return await fn(*args, **kwargs)

        return run

    return wrap
