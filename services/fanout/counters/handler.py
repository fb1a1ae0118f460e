"""One batch of `herald.interactions.v1` → one Postgres transaction.

Events only name what changed ((post, account) or (account, channel)); the current state
is read from the feed service's per-account rows, so the batch is deduplicated to its
touched keys first and the order of events inside it does not matter. Posts whose
counters moved are handed to the `CountersPublisher`, which coalesces live updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from services.fanout.consumer.records import Outcome, Record
from services.fanout.counters import store
from services.fanout.counters.live import CountersPublisher
from shared.db.timing import db_timer
from shared.events.interactions import FollowChanged, PostViewed, ReactionChanged, VoteChanged
from shared.metrics.fanout import COUNTER_DELTAS, PUBLISH_TO_PERSISTED_SECONDS
from shared.topics import INTERACTIONS


@dataclass
class Touched:
    """The distinct keys a batch touches, in first-seen order."""

    reactions: dict[tuple[UUID, str], None] = field(default_factory=dict)
    votes: dict[tuple[UUID, str], None] = field(default_factory=dict)
    views: dict[tuple[UUID, UUID, str], None] = field(default_factory=dict)
    follows: dict[tuple[str, UUID], None] = field(default_factory=dict)
    oldest: datetime | None = None


def touched_keys(records: Sequence[Record]) -> Touched:
    touched = Touched()
    for record in records:
        event = record.event
        p = event.payload
        if isinstance(event, ReactionChanged):
            touched.reactions[(p.post_id, p.account_id)] = None
        elif isinstance(event, VoteChanged):
            touched.votes[(p.post_id, p.account_id)] = None
        elif isinstance(event, PostViewed):
            touched.views[(p.post_id, p.channel_id, p.account_id)] = None
        elif isinstance(event, FollowChanged):
            touched.follows[(p.account_id, p.channel_id)] = None
        if touched.oldest is None or event.occurred_at < touched.oldest:
            touched.oldest = event.occurred_at
    return touched


class CountersHandler:
    def __init__(self, pool: asyncpg.Pool, publisher: CountersPublisher) -> None:
        self.pool = pool
        self.publisher = publisher

    async def __call__(self, records: Sequence[Record]) -> Outcome:
        touched = touched_keys(records)
        with db_timer("fanout", "counters_batch"):
            async with self.pool.acquire() as conn, conn.transaction():
                reacted = await store.count_reactions(conn, list(touched.reactions))
                voted = await store.count_votes(conn, list(touched.votes))
                await store.count_views(conn, list(touched.views))
                followed = await store.count_follows(conn, list(touched.follows))
        COUNTER_DELTAS.labels(kind="reaction").inc(len(reacted))
        COUNTER_DELTAS.labels(kind="vote").inc(len(voted))
        COUNTER_DELTAS.labels(kind="follow").inc(sum(abs(d) for d in followed.values()))
        if touched.oldest is not None:
            PUBLISH_TO_PERSISTED_SECONDS.labels(topic=INTERACTIONS.name).observe(
                max(0.0, (datetime.now(UTC) - touched.oldest).total_seconds())
            )
        self.publisher.mark(reacted + voted + [v[0] for v in touched.views])
        return Outcome()
