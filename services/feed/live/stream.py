"""One SSE stream: optional replay after `Last-Event-ID`, then live items and heartbeats.

The stream is a plain async generator over the connection's bounded queue: no task of its
own, so an idle stream costs its queue and a few small objects. The hub registration is
undone in `finally` (and again, idempotently, by the response's background task), which
runs when the client disconnects and the framework cancels the generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg

from services.feed.live.hub import Connection, Hub
from services.feed.live.ids import EventId
from services.feed.live.render import HEARTBEAT, PREAMBLE, RESYNC, frame, post_item
from services.feed.queries import stream as queries
from shared.metrics.feed import SSE_EVENTS_PUSHED


async def event_stream(
    conn: Connection,
    hub: Hub,
    pool: asyncpg.Pool,
    *,
    resume_from: EventId | None,
    opened_at: EventId,
    heartbeat_s: float,
    replay_max: int,
) -> AsyncIterator[bytes]:
    try:
        yield PREAMBLE
        position = resume_from or opened_at
        # Post changes sent by the replay; live items for the same change that were queued
        # meanwhile are skipped once, then the set is dropped (it only bridges the replay).
        replayed: set[EventId] | None = None
        if resume_from is not None:
            async with pool.acquire() as db:
                rows = await queries.replay(db, conn.account_id, resume_from, replay_max + 1)
            if len(rows) > replay_max:
                async with pool.acquire() as db:
                    now = await db.fetchval("SELECT now()")
                position = EventId.at(now)
                SSE_EVENTS_PUSHED.labels(event="resync", source="replay").inc()
                yield frame(RESYNC, position)
            else:
                replayed = set()
                for row in rows:
                    item = post_item(row)
                    assert item.event_id is not None
                    replayed.add(item.event_id)
                    position = max(position, item.event_id)
                    SSE_EVENTS_PUSHED.labels(event=item.event, source="replay").inc()
                    yield frame(item, position)
        while not conn.dropped:
            if replayed is not None and conn.queue.empty():
                replayed = None
            try:
                async with asyncio.timeout(heartbeat_s):
                    item = await conn.queue.get()
            except TimeoutError:
                yield HEARTBEAT
                continue
            if conn.dropped:
                break
            if item.event_id is not None:
                if replayed is not None and item.event_id in replayed:
                    continue
                position = max(position, item.event_id)
            SSE_EVENTS_PUSHED.labels(event=item.event, source="live").inc()
            yield frame(item, position)
    finally:
        hub.close(conn)
