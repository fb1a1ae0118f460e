"""Coalesced `live.counters_changed` events: at most one per post per interval.

Batches mark the posts whose counters changed; every `interval_s` the publisher reads
the current aggregates of the marked posts (reactions per emoji, votes per option,
unique views) and emits one event each, and once more when stopped. Marks are bounded:
past `MAX_PENDING` posts the oldest marks are dropped (a client then sees the count on its
next update or reload). This coalescing is the counters path only: posts become visible
through `LiveEmitter` right after their batch commits, never on this timer.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import asyncpg

from services.fanout.live import LiveEmitter
from services.fanout.periodic import Periodic
from shared.events.envelope import Event
from shared.events.live import CountersChangedV1, LiveCountersChanged

MAX_PENDING = 10_000

COUNTERS_SQL = """
SELECT p.channel_id, p.post_id, p.seq,
       coalesce((SELECT jsonb_object_agg(key, count) FROM post_counters c
                 WHERE c.post_id = p.post_id AND c.kind = 'reaction' AND c.count > 0), '{}')
           AS reactions,
       coalesce((SELECT jsonb_object_agg(key, count) FROM post_counters c
                 WHERE c.post_id = p.post_id AND c.kind = 'vote' AND c.count > 0), '{}')
           AS votes,
       coalesce((SELECT round(hll_cardinality(v.sketch))::bigint FROM post_views v
                 WHERE v.post_id = p.post_id), 0) AS views
FROM posts p WHERE p.post_id = ANY($1::uuid[]) AND p.status = 'published'
"""


class CountersPublisher(Periodic):
    name = "counters live update"
    # Marks left at stop are flushed: connected clients get the last counts.
    final_round = True

    def __init__(self, pool: asyncpg.Pool, live: LiveEmitter, interval_s: float) -> None:
        super().__init__(interval_s)
        self.pool = pool
        self.live = live
        self._pending: dict[UUID, None] = {}

    def mark(self, post_ids: Iterable[UUID]) -> None:
        for post_id in post_ids:
            self._pending[post_id] = None
        while len(self._pending) > MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))

    async def tick(self) -> None:
        # A failure (Postgres or Kafka away) leaves the marks for the next round.
        if self._pending:
            await self.flush()

    async def flush(self) -> None:
        post_ids = list(self._pending)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(COUNTERS_SQL, post_ids)
        for post_id in post_ids:
            self._pending.pop(post_id, None)
        events: list[tuple[UUID, Event]] = [
            (
                r["channel_id"],
                LiveCountersChanged(
                    payload=CountersChangedV1(
                        channel_id=r["channel_id"],
                        post_id=r["post_id"],
                        seq=r["seq"],
                        reactions=r["reactions"],
                        votes=r["votes"],
                        views=r["views"],
                    )
                ),
            )
            for r in rows
        ]
        await self.live.emit(events)
