"""Set-up rows written straight to the session's database, for tests that need an account
near its follow limit: thousands of channels through the publisher's API would take
minutes and its rate limit. Only set-up goes this way; what is tested goes over HTTP."""

from __future__ import annotations

import uuid

import asyncpg

from services.feed.config import FeedSettings

# The session's feed runs with the default limit.
FOLLOW_LIMIT: int = FeedSettings.model_fields["max_follows_per_account"].default


async def seed_channels(db: asyncpg.Pool, count: int) -> list[uuid.UUID]:
    """`count` active channels anyone may follow. Unlisted, so the directory and search
    that other tests of the session read do not list thousands of them."""
    tag = uuid.uuid4().hex[:8]
    rows = await db.fetch(
        """
        INSERT INTO channels
            (channel_id, handle, name, category, country, language, visibility)
        SELECT gen_random_uuid(), 'seed_' || $1 || '_' || n, 'Seed ' || n,
               'news', 'ke', 'en', 'unlisted'
        FROM generate_series(1, $2) AS n
        RETURNING channel_id
        """,
        tag,
        count,
    )
    return [row["channel_id"] for row in rows]


async def seed_follows(db: asyncpg.Pool, account_id: str, channel_ids: list[uuid.UUID]) -> None:
    await db.execute(
        """
        INSERT INTO follows (account_id, channel_id)
        SELECT $1, channel_id FROM unnest($2::uuid[]) AS channel_id
        """,
        account_id,
        channel_ids,
    )
