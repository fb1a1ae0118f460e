"""Coalesced `live.counters_changed` events: at most one per post per interval.

Batches mark the posts whose counters changed; every `interval_s` the publisher reads
the current aggregates of the marked posts (reactions per emoji, votes per option,
unique views) and emits one event each. Marks are bounded: past `MAX_PENDING` posts the
oldest marks are dropped (a client then sees the count on its next update or reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from uuid import UUID

import asyncpg

from services.fanout.live import LiveEmitter
from shared.events.envelope import Event
from shared.events.live import CountersChangedV1, LiveCountersChanged

log = logging.getLogger(__name__)

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


class CountersPublisher:
    def __init__(self, pool: asyncpg.Pool, live: LiveEmitter, interval_s: float) -> None:
        self.pool = pool
        self.live = live
        self.interval_s = interval_s
        self._pending: dict[UUID, None] = {}
        self._stopping = asyncio.Event()

    def mark(self, post_ids: Iterable[UUID]) -> None:
        for post_id in post_ids:
            self._pending[post_id] = None
        while len(self._pending) > MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            if self._pending:
                try:
                    await self.flush()
                except Exception:  # Postgres or Kafka away: the marks wait for next time
                    log.warning("counters live update failed", exc_info=True)

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
