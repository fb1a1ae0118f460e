"""The scheduler: publishes scheduled posts when they are due, inside each publisher process.

Every `schedule_poll_s` it takes up to `BATCH` due rows of `scheduled_posts` `FOR UPDATE
SKIP LOCKED` in one transaction, so several publisher processes share the due posts and
never publish the same row at once, and publishes each through `Publisher.publish` — the
same path as `POST …/posts` (alert slot, content key, media claim, produce, record) — under
the post_id fixed when it was scheduled. A row is deleted in that same transaction, after
the broker acknowledged its event, so the row is gone exactly when its post is in the log.

Exactly once: a process killed after the produce but before its commit leaves the row, and
its lock goes with the connection; the next scheduler (any process) produces the post
again with the same post_id and created_at (the post_id's UUIDv7 time is `publish_at`),
which fan-out's `ON CONFLICT (channel_id, post_id, created_at)` turns into the one post it
already has: one `seq`. The re-produce seals under a new content key nobody uses, which
goes with the post's expiry day. (An edit or cancel made between such a crash and the
retry cannot take effect: the post is already in the log.)

Connections: unlike a publish request, the scheduler holds one pooled connection (its row
locks) across the broker wait. That is one connection per process, at a time, and it is
what lets the delete commit only after the acknowledgement; the requests' side of the
pool stays as the publish path leaves it.

A publish refused at its time (4xx: the author is no longer an admin, the channel is
suspended, the alert grant withdrawn or the hour's alerts used, the media gone, the post
already past its expiry) marks the row `failed` with the reason: it stays visible in
`GET …/scheduled`, unpublished, until an admin cancels it; the row of a deleted channel
is dropped instead. A broker that does not
acknowledge (503) leaves the row as it is for the next round.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from services.publisher.config import PublisherSettings
from services.publisher.models import PostCreate
from services.publisher.publishing import Publisher, uuid7_time
from services.publisher.store import scheduled as store
from services.publisher.store.channels import access_of
from shared.db.failover import UNAVAILABLE_TYPES
from shared.http.problems import Problem

log = logging.getLogger(__name__)

# Due rows one transaction takes: a burst of posts due at the same second is published in
# few rounds, while a process holds few locks another could have taken.
BATCH = 20
# After an unexpected failure (Postgres away): wait before the next round, up to this.
BACKOFF_MAX_S = 5.0
SCHEDULE_MAX_AHEAD = timedelta(days=30)


def uuid7_at(when: datetime) -> UUID:
    """A UUIDv7 whose timestamp is `when` (ms), random elsewhere: a scheduled post's id,
    so that its created_at (`publishing.uuid7_time`) is its publication time."""
    ms = int(when.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a (12 bits)
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b (62 bits)
    return UUID(int=value)


class Scheduler:
    """The loop of one publisher process; `run` until cancelled."""

    def __init__(
        self, pool: asyncpg.Pool, publisher: Publisher, settings: PublisherSettings
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.settings = settings

    async def run(self) -> None:
        backoff = self.settings.schedule_poll_s
        while True:
            try:
                taken = await self.publish_due()
            except (OSError, asyncpg.PostgresError, *UNAVAILABLE_TYPES) as exc:
                log.warning("scheduler round failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
                continue
            backoff = self.settings.schedule_poll_s
            if taken < BATCH:
                await asyncio.sleep(self.settings.schedule_poll_s)

    async def publish_due(self) -> int:
        """One round: publish the due rows this process could lock; how many it took."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_due(conn, BATCH)
            for row in rows:
                if not await self._publish(conn, row):
                    break  # the broker is not acknowledging: the rest waits too
            return len(rows)

    async def _publish(self, conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
        """Publish one locked row and delete it, or mark it failed; False when the broker
        did not acknowledge (the row stays for the next round)."""
        channel_id: UUID = row["channel_id"]
        post_id: UUID = row["post_id"]
        access = await access_of(self.pool, channel_id, row["author_id"])
        if access is None:
            if await store.channel_gone(conn, channel_id):
                # Nothing to tell anyone, and its text must not outlive the channel.
                await store.remove(conn, channel_id, post_id)
                return True
            await self._refuse(conn, row, "the author is no longer an admin of the channel")
            return True
        if access.suspended:
            # Refused rather than held: published late, after a restore, it could be stale;
            # the admins see why in the list and may schedule it again.
            await self._refuse(conn, row, "the channel was suspended at the post's time")
            return True
        if uuid7_time(post_id) + timedelta(days=access.retention_days) <= datetime.now(UTC):
            await self._refuse(conn, row, "it expired before it could be published")
            return True
        try:
            body = PostCreate.model_validate(row["request"])
            await self.publisher.publish(access, body, row["author_id"], None, post_id=post_id)
        except Problem as problem:
            if problem.status >= 500:
                return False
            await self._refuse(conn, row, problem.detail)
            return True
        except ValueError as exc:  # a stored request no longer valid (pydantic's error)
            await self._refuse(conn, row, f"the post is not valid: {exc}")
            return True
        await store.remove(conn, channel_id, post_id)
        log.info(
            "scheduled post published",
            extra={"channel_id": str(channel_id), "post_id": str(post_id)},
        )
        return True

    async def _refuse(self, conn: asyncpg.Connection, row: dict[str, Any], reason: str) -> None:
        await store.refused(conn, row["channel_id"], row["post_id"], reason)
        log.warning(
            "scheduled post refused",
            extra={"channel_id": str(row["channel_id"]), "post_id": str(row["post_id"])},
        )
