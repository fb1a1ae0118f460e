"""Stream starts, coalesced: what a stream needs from Postgres to open (the database time
and the account's followed channels), for every stream opening at about the same time,
in one query.

A restarted feed instance sees all its clients reconnect at once. One query and one
pooled connection per open would put thousands of round trips (and as many pool
acquire/reset cycles) on the open path; here a lookup waits only for the query in
flight, then the next query answers every lookup queued meanwhile (at most `BATCH_MAX`
accounts each). With no storm a lookup runs at once, alone, as before.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import UUID

import asyncpg

from services.feed.queries import stream as queries

# Accounts per query: bounds the statement's array and one round trip's work.
BATCH_MAX = 500
# Queries in flight at once: one fills while the other runs; a pool of ≥ 2 is assumed.
IN_FLIGHT_MAX = 2


class StreamStarts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._queued: list[tuple[str, asyncio.Future[tuple[datetime, list[UUID]]]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def lookup(self, account_id: str) -> tuple[datetime, list[UUID]]:
        """The database time now (a fresh stream's position) and the channels
        `account_id` follows. Raises what the query raises."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[datetime, list[UUID]]] = loop.create_future()
        self._queued.append((account_id, answer))
        if len(self._running) < IN_FLIGHT_MAX:
            task = loop.create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await answer

    async def _drain(self) -> None:
        while self._queued:
            batch, self._queued = self._queued[:BATCH_MAX], self._queued[BATCH_MAX:]
            waiting = [(a, f) for a, f in batch if not f.done()]
            if not waiting:
                continue
            try:
                async with self.pool.acquire() as conn:
                    now, follows = await queries.stream_starts(conn, [a for a, _ in waiting])
            except Exception as exc:
                for _, answer in waiting:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for account_id, answer in waiting:
                if not answer.done():
                    answer.set_result((now, follows.get(account_id, [])))
