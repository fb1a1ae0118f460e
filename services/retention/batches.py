"""Retention's bounded batches.

One bounded batch = one transaction, retried when Postgres picks it as a deadlock victim
(`in_transaction`). Retention deletes rows that fan-out and feed may be touching at the
same moment (a late counter upsert, an edit); when the two transactions lock in opposite
orders Postgres aborts one of them. Retention's batches are idempotent, so the aborted one
is just rerun.

A plain expiry deletes batch after batch, each its own statement, until a short one
(`drain`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

T = TypeVar("T")

RETRIES = 3


async def in_transaction(
    pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """Run `work(conn)` in its own transaction, retrying deadlock/serialization aborts."""
    for attempt in range(RETRIES + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except (
            asyncpg.exceptions.DeadlockDetectedError,
            asyncpg.exceptions.SerializationError,
        ):
            if attempt == RETRIES:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def drain(pool: asyncpg.Pool, sql: str, *args: object, batch: int) -> int:
    """Run the DELETE `sql` with `args` and then `batch` (its LIMIT, the last parameter)
    until it deletes fewer than `batch` rows; return how many it deleted in all. A
    repeated or interrupted drain just finds fewer rows."""
    total = 0
    while True:
        status: str = await pool.execute(sql, *args, batch)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < batch:
            return total
