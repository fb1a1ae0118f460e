"""SQL for a channel's invites (`channel_invites`; the publisher writes every column but
`uses`, which the feed counts as followers redeem codes).

Only a code's sha256 is stored. Rows name no account. A channel holds at most
`MAX_LIVE_INVITES` invites that are neither revoked nor expired, checked under the
channel's row lock so concurrent creations cannot pass the limit together, and keeps only
its newest `KEPT_DEAD_INVITES` revoked or expired ones (older ones are deleted when the
next invite is created), so the table stays bounded per channel however many an admin
creates over time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from shared.db.timing import timed

# Enough for any real campaign; bounds the table per channel and the list an admin reads.
MAX_LIVE_INVITES = 100
# Revoked or expired invites kept for the admins' list (their uses stay readable a while).
KEPT_DEAD_INVITES = 100

INVITE_COLUMNS = "invite_id, max_uses, uses, created_at, expires_at, revoked_at"


class TooManyInvites(Exception):
    pass


@timed("publisher", "create_invite")
async def create(
    pool: asyncpg.Pool,
    channel_id: UUID,
    invite_id: UUID,
    code_hash: bytes,
    expires_in: timedelta,
    max_uses: int | None,
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id)
        live = await conn.fetchval(
            """
            SELECT count(*) FROM channel_invites
            WHERE channel_id = $1 AND revoked_at IS NULL AND expires_at > now()
            """,
            channel_id,
        )
        if live >= MAX_LIVE_INVITES:
            raise TooManyInvites
        await conn.execute(
            """
            DELETE FROM channel_invites WHERE invite_id IN (
                SELECT invite_id FROM channel_invites
                WHERE channel_id = $1 AND (revoked_at IS NOT NULL OR expires_at <= now())
                ORDER BY invite_id DESC OFFSET $2)
            """,
            channel_id,
            KEPT_DEAD_INVITES,
        )
        row: asyncpg.Record = await conn.fetchrow(
            f"""
            INSERT INTO channel_invites (invite_id, channel_id, code_hash, max_uses, expires_at)
            VALUES ($1, $2, $3, $4, now() + $5::interval)
            RETURNING {INVITE_COLUMNS}
            """,
            invite_id,
            channel_id,
            code_hash,
            max_uses,
            expires_in,
        )
        return row


@timed("publisher", "list_invites")
async def list_page(
    pool: asyncpg.Pool, channel_id: UUID, *, before: UUID | None, limit: int
) -> list[asyncpg.Record]:
    """The channel's invites, newest first (invite ids are time-ordered UUIDv7)."""
    rows: list[asyncpg.Record] = await pool.fetch(
        f"""
        SELECT {INVITE_COLUMNS} FROM channel_invites
        WHERE channel_id = $1 AND ($2::uuid IS NULL OR invite_id < $2)
        ORDER BY invite_id DESC
        LIMIT $3
        """,
        channel_id,
        before,
        limit,
    )
    return rows


async def revoke(pool: asyncpg.Pool, channel_id: UUID, invite_id: UUID) -> datetime | None:
    """Revoke the invite (idempotent: a revoked one keeps its first time); None when the
    channel has no such invite."""
    revoked: datetime | None = await pool.fetchval(
        """
        UPDATE channel_invites SET revoked_at = COALESCE(revoked_at, now())
        WHERE channel_id = $1 AND invite_id = $2
        RETURNING revoked_at
        """,
        channel_id,
        invite_id,
    )
    return revoked
