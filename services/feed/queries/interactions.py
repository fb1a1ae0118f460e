"""The caller's reactions, poll votes and views.

The feed writes only the caller's current choice (`reactions.emoji`,
`poll_votes.options`; NULL when cleared). Fan-out's aggregator moves `counted_*` to it
and keeps the counts, so a repeated request or a replayed event never counts twice.
Only visible posts (published, unexpired, channel active) accept any of these, and of
an invite-only channel only from its followers and admins (`queries.audience`).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.feed.queries.audience import readable

VISIBLE_POST = f"""
SELECT p.channel_id, p.post_id, p.body, c.settings
FROM posts p JOIN channels c ON c.channel_id = p.channel_id AND c.status = 'active'
WHERE p.post_id = $1 AND p.status = 'published' AND p.expires_at > now()
  AND {readable("c", "$2")}
"""


async def visible_post(
    conn: asyncpg.Connection, post_id: UUID, account_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(VISIBLE_POST, post_id, account_id)
    return row


async def set_reaction(
    conn: asyncpg.Connection, post_id: UUID, account_id: str, channel_id: UUID, emoji: str | None
) -> None:
    """Store the caller's reaction (None clears it; a missing row then stays missing)."""
    if emoji is None:
        await conn.execute(
            "UPDATE reactions SET emoji = NULL, updated_at = now() "
            "WHERE post_id = $1 AND account_id = $2",
            post_id,
            account_id,
        )
        return
    await conn.execute(
        """
        INSERT INTO reactions (post_id, account_id, channel_id, emoji)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (post_id, account_id) DO UPDATE
           SET emoji = excluded.emoji, updated_at = now()
        """,
        post_id,
        account_id,
        channel_id,
        emoji,
    )


async def set_vote(
    conn: asyncpg.Connection,
    post_id: UUID,
    account_id: str,
    channel_id: UUID,
    options: list[int] | None,
) -> None:
    """Store the caller's poll choice, replacing any earlier one (None retracts it)."""
    if options is None:
        await conn.execute(
            "UPDATE poll_votes SET options = NULL, updated_at = now() "
            "WHERE post_id = $1 AND account_id = $2",
            post_id,
            account_id,
        )
        return
    await conn.execute(
        """
        INSERT INTO poll_votes (post_id, account_id, channel_id, options)
        VALUES ($1, $2, $3, $4::smallint[])
        ON CONFLICT (post_id, account_id) DO UPDATE
           SET options = excluded.options, updated_at = now()
        """,
        post_id,
        account_id,
        channel_id,
        options,
    )


async def visible_posts(
    conn: asyncpg.Connection, post_ids: list[UUID], account_id: str
) -> list[asyncpg.Record]:
    """(channel_id, post_id) of those of `post_ids` visible to `account_id`, each once."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT DISTINCT p.channel_id, p.post_id
        FROM posts p JOIN channels c ON c.channel_id = p.channel_id AND c.status = 'active'
        WHERE p.post_id = ANY($1::uuid[]) AND p.status = 'published' AND p.expires_at > now()
          AND {readable("c", "$2")}
        """,
        post_ids,
        account_id,
    )
    return rows
