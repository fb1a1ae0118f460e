"""One batch of `herald.posts.v1` → one Postgres transaction → live events.

In the transaction: lock the batch's channels, look up which published posts exist,
open the sealed records (their content keys in one query, `opening.py`), plan (pure),
create missing day partitions, count followers (bounded) of channels with new posts,
insert the new posts, write feed rows for the channels at or under the threshold (only
posts this transaction inserted, hence no ON CONFLICT on feed_items), advance the
channels' last_seq, apply edits and deletes (destroying the content keys they replace),
destroy the keys of versions that never became current. After it commits: live events
for what changed (ids, seq and times: no content), carrying each source event's request
id. A replayed batch finds its posts existing and changes nothing, emits nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from services.fanout.consumer.records import Outcome, Record
from services.fanout.live import LiveEmitter
from services.fanout.posts import store
from services.fanout.posts.opening import open_batch
from services.fanout.posts.plan import PostsPlan, channel_of, plan_posts, published_keys
from shared.content.keys import MasterKeys
from shared.db.timing import db_timer
from shared.events.envelope import Event
from shared.events.live import (
    LivePostDeleted,
    LivePostEditedV2,
    LivePostVisibleV2,
    PostDeletedLiveV1,
    PostEditedLiveV2,
    PostVisibleV2,
)
from shared.logs import request_id_var
from shared.metrics.fanout import (
    FANOUT_DECISIONS,
    FEED_ROWS_WRITTEN,
    POSTS_PERSISTED,
    PUBLISH_TO_PERSISTED_SECONDS,
    RECORDS_UNREADABLE,
)
from shared.topics import POSTS

log = logging.getLogger(__name__)


class PostsHandler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        live: LiveEmitter,
        write_max_followers: int,
        masters: MasterKeys,
    ) -> None:
        # `pool` is the primary's (HERALD_DATABASE_URL): content keys are read there, so a
        # key committed by the publisher is always seen, a destroyed one never.
        self.pool = pool
        self.live = live
        self.write_max_followers = write_max_followers
        self.masters = masters

    async def __call__(self, records: Sequence[Record]) -> Outcome:
        with db_timer("fanout", "posts_batch"):
            async with self.pool.acquire() as conn, conn.transaction():
                plan, events, feed_rows, fanned, unreadable = await self._apply(conn, records)
        # Counted once committed: a rolled-back attempt is retried and would count twice.
        RECORDS_UNREADABLE.labels(topic=POSTS.name).inc(unreadable)
        if unreadable:
            log.info("sealed records skipped: content key destroyed", extra={"records": unreadable})
        self._observe(plan, events, feed_rows, fanned)
        live = self.live

        async def emit() -> None:
            await live.emit(events)

        return Outcome(rejected=plan.rejected, after_commit=emit)

    async def _apply(
        self, conn: asyncpg.Connection, records: Sequence[Record]
    ) -> tuple[PostsPlan, list[tuple[UUID, Event]], int, set[UUID], int]:
        channel_ids = sorted({channel_of(r) for r in records})
        channels = await store.lock_channels(conn, channel_ids)
        existing = await store.existing_posts(conn, published_keys(records))
        opened = await open_batch(conn, self.masters, records, existing)
        plan = plan_posts(opened.records, channels, existing, datetime.now(UTC), opened.keys)
        plan.rejected.extend(opened.rejected)
        new = plan.new_posts
        await store.ensure_day_partitions(conn, sorted({p.created_at.date() for p in new}))
        counts = await store.active_follower_counts(
            conn, sorted({p.channel_id for p in new}), self.write_max_followers
        )
        write_channels = {c for c, n in counts.items() if n <= self.write_max_followers}
        fanned = {p.post_id for p in new if p.channel_id in write_channels}
        inserted = await store.insert_posts(conn, new, fanned)
        if len(inserted) != len(new):
            # Cannot happen while the channel lock is held; if it does, roll back and retry
            # rather than leave a gap in the seqs.
            raise RuntimeError(f"{len(new) - len(inserted)} post(s) appeared under the lock")
        rows = await store.write_feed_items(conn, [p for p in new if p.post_id in fanned])
        await store.advance_channels(conn, plan.channel_heads)
        edited = await store.apply_edits(conn, plan.edits)
        deleted = await store.apply_deletes(conn, plan.deletes)
        await store.destroy_keys(conn, plan.discarded_keys)
        return plan, live_events(plan, edited, deleted), rows, fanned, opened.unreadable

    def _observe(
        self, plan: PostsPlan, events: list[tuple[UUID, Event]], feed_rows: int, fanned: set[UUID]
    ) -> None:
        """Metrics and one log line per new post (under its request id) once the
        transaction committed: a rolled-back attempt counts and logs nothing."""
        now = datetime.now(UTC)
        FEED_ROWS_WRITTEN.inc(feed_rows)
        FANOUT_DECISIONS.labels(mode="write").inc(len(fanned))
        FANOUT_DECISIONS.labels(mode="read").inc(len(plan.new_posts) - len(fanned))
        POSTS_PERSISTED.labels(kind="published").inc(len(plan.new_posts))
        POSTS_PERSISTED.labels(kind="duplicate").inc(plan.duplicates)
        for kind, event_type in (("edited", LivePostEditedV2), ("deleted", LivePostDeleted)):
            POSTS_PERSISTED.labels(kind=kind).inc(
                sum(1 for _, e in events if isinstance(e, event_type))
            )
        for post in plan.new_posts:
            latency = max(0.0, (now - post.created_at).total_seconds())
            PUBLISH_TO_PERSISTED_SECONDS.labels(topic=POSTS.name).observe(latency)
            token = request_id_var.set(post.request_id)
            try:
                # Ids of the channel and post only: never the author or a follower.
                log.info(
                    "post persisted",
                    extra={
                        "channel_id": str(post.channel_id),
                        "post_id": str(post.post_id),
                        "seq": post.seq,
                        "fanout": "write" if post.post_id in fanned else "read",
                        "publish_to_persisted_s": round(latency, 4),
                    },
                )
            finally:
                request_id_var.reset(token)
        if plan.new_posts:
            log.info(
                "posts persisted",
                extra={"posts": len(plan.new_posts), "duplicates": plan.duplicates},
            )


def live_events(
    plan: PostsPlan, edited: Sequence[asyncpg.Record], deleted: Sequence[asyncpg.Record]
) -> list[tuple[UUID, Event]]:
    """Live events for what this transaction changed: ids, seq and times, never content
    (the live topic's log cannot be shredded per post; readers take bodies from Postgres)
    nor the authoring admin. A new post's event carries its `silent` and `priority` as
    published, for push."""
    request_ids = {e.post_id: e.request_id for e in plan.edits}
    request_ids.update({d.post_id: d.request_id for d in plan.deletes})
    out: list[tuple[UUID, Event]] = []
    for p in plan.new_posts:
        out.append(
            (
                p.channel_id,
                LivePostVisibleV2(
                    request_id=p.request_id,
                    payload=PostVisibleV2(
                        channel_id=p.channel_id,
                        post_id=p.post_id,
                        seq=p.seq,
                        created_at=p.created_at,
                        expires_at=p.expires_at,
                        silent=p.silent,
                        priority=p.priority,
                    ),
                ),
            )
        )
    for row in edited:
        out.append(
            (
                row["channel_id"],
                LivePostEditedV2(
                    request_id=request_ids.get(row["post_id"]),
                    payload=PostEditedLiveV2(
                        channel_id=row["channel_id"],
                        post_id=row["post_id"],
                        seq=row["seq"],
                        edited_at=row["edited_at"],
                    ),
                ),
            )
        )
    for row in deleted:
        out.append(
            (
                row["channel_id"],
                LivePostDeleted(
                    request_id=request_ids.get(row["post_id"]),
                    payload=PostDeletedLiveV1(
                        channel_id=row["channel_id"], post_id=row["post_id"], seq=row["seq"]
                    ),
                ),
            )
        )
    return out
