"""Counting what no event announced: a periodic sweep of the per-account rows whose
counted state lags their current state.

The feed writes a reaction, vote or follow row and then emits its event; when the emit
fails (the broker is down) the client gets a 503 and may never retry, and no event will
ever name that row. The rows are the truth, so this sweep finds such rows (partial
indexes hold only them, migration 0200) and counts them with the very statements the
event path uses. Both paths lock the rows they move, so whichever comes second finds
nothing left to move: no count changes twice. Views have no per-account rows (by design),
so a lost view event stays lost: unique views are an estimate anyway.
"""

from __future__ import annotations

import logging

import asyncpg

from services.fanout.counters import store
from services.fanout.counters.live import CountersPublisher
from services.fanout.periodic import Periodic
from shared.db.timing import db_timer
from shared.metrics.fanout import COUNTERS_RECONCILED

log = logging.getLogger(__name__)

# Rows per table per round: a backlog after an outage drains over a few rounds.
SWEEP_LIMIT = 500
# Leave fresh rows to their events: the sweep is for rows whose event is lost.
GRACE = "5 seconds"

STALE_REACTIONS = f"""
SELECT post_id, account_id FROM reactions
WHERE counted_emoji IS DISTINCT FROM emoji AND updated_at < now() - interval '{GRACE}'
LIMIT {SWEEP_LIMIT}
"""
STALE_VOTES = f"""
SELECT post_id, account_id FROM poll_votes
WHERE counted_options IS DISTINCT FROM options AND updated_at < now() - interval '{GRACE}'
LIMIT {SWEEP_LIMIT}
"""
STALE_FOLLOWS = f"""
SELECT account_id, channel_id FROM follows
WHERE counted_active IS DISTINCT FROM active
LIMIT {SWEEP_LIMIT}
"""


class Reconciler(Periodic):
    name = "counters reconciliation"

    def __init__(self, pool: asyncpg.Pool, publisher: CountersPublisher, interval_s: float) -> None:
        super().__init__(interval_s)
        self.pool = pool
        self.publisher = publisher

    async def tick(self) -> None:
        await self.sweep()

    async def sweep(self) -> int:
        """Count every stale row found (up to the limit per table); return rows moved."""
        with db_timer("fanout", "counters_reconcile"):
            async with self.pool.acquire() as conn, conn.transaction():
                reactions = [(r[0], r[1]) for r in await conn.fetch(STALE_REACTIONS)]
                votes = [(r[0], r[1]) for r in await conn.fetch(STALE_VOTES)]
                follows = [(r[0], r[1]) for r in await conn.fetch(STALE_FOLLOWS)]
                reacted = await store.count_reactions(conn, reactions)
                voted = await store.count_votes(conn, votes)
                followed = await store.count_follows(conn, follows)
        moved = len(reacted) + len(voted) + sum(abs(d) for d in followed.values())
        if moved:
            COUNTERS_RECONCILED.inc(moved)
            log.info("counted rows no event announced", extra={"rows": moved})
            self.publisher.mark(reacted + voted)
        return moved
