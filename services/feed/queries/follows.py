"""The caller's follows: follow/unfollow, preferences, read markers, lists, /updates.

Every statement is keyed by the caller's own `account_id`: no query here can read or
change another account's follows. An unfollow keeps the row (`active = false`) so fan-out
can count it; `followed_at` moves only when a follow becomes active again.

The follow limit counts the account's active follows of channels not deleted (a deleted
channel's rows stay until retention purges them, and must not hold places meanwhile). A
new follow counts and inserts under a transaction-scoped advisory lock on the account, so
concurrent follows of one account cannot together pass the limit; only the account itself
adds follows, so that lock covers every way the count grows. Preferences and read markers
change only follows of active channels: any other channel answers as if not followed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from shared.db.timing import timed

FOLLOW_COLUMNS = "channel_id, active, muted, alerts, last_read_seq, followed_at"
# The same, qualified, for statements that join `follows f` with `channels c`.
_F_COLUMNS = ", ".join("f." + column.strip() for column in FOLLOW_COLUMNS.split(","))

# /updates counts unread posts up to this many: a badge says "999+", not an exact count,
# and the count stays an index range scan of bounded length.
UNREAD_COUNT_CAP = 1000
# Sort surrogate for channels that never posted (keeps the keyset free of NULLs).
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


# Advisory-lock namespace of an account's follows ("foll"): the two-int form of the lock
# keeps it apart from other users of advisory locks (see shared/media/content_lock.py).
FOLLOW_LOCK_CLASS = 0x666F6C6C


class FollowLimitReached(Exception):
    pass


class InviteRefused(Exception):
    """An invite channel, and no valid invite: no code, or one unknown to this channel,
    used up, expired or revoked (the caller is told none of these apart)."""


# Counts one use of a still-good invite of the channel; no row when it is not good. Row
# locking makes concurrent redemptions of the last use queue on the row, and each re-checks
# `uses < max_uses` on the version it finally updates: exactly one of them gets a row.
REDEEM_INVITE = """
UPDATE channel_invites SET uses = uses + 1
WHERE code_hash = $1 AND channel_id = $2 AND revoked_at IS NULL AND expires_at > now()
  AND (max_uses IS NULL OR uses < max_uses)
RETURNING invite_id
"""


# What the follow limit counts: active follows of channels not deleted.
COUNT_FOLLOWS = """
SELECT count(*) FROM follows f JOIN channels c ON c.channel_id = f.channel_id
WHERE f.account_id = $1 AND f.active AND c.status <> 'deleted'
"""


@timed("feed", "follow")
async def follow(
    conn: asyncpg.Connection,
    account_id: str,
    channel_id: UUID,
    max_follows: int,
    invite_hash: bytes | None = None,
) -> asyncpg.Record | None:
    """Make the follow active (idempotent). None when the channel is not active.

    An invite channel admits a new (or returning) follower only with a good invite, whose
    use is counted in this transaction, so a follow refused for the follow limit gives
    the use back. Its current followers and admins need none, and use none."""
    async with conn.transaction():
        visibility = await conn.fetchval(
            "SELECT visibility FROM channels WHERE channel_id = $1 AND status = 'active'",
            channel_id,
        )
        if visibility is None:
            return None
        current = await conn.fetchval(
            "SELECT active FROM follows WHERE account_id = $1 AND channel_id = $2 FOR UPDATE",
            account_id,
            channel_id,
        )
        if visibility == "invite" and not current:
            admin = await conn.fetchval(
                "SELECT true FROM channel_admins WHERE channel_id = $1 AND account_id = $2",
                channel_id,
                account_id,
            )
            if not admin and (
                invite_hash is None
                or await conn.fetchval(REDEEM_INVITE, invite_hash, channel_id) is None
            ):
                raise InviteRefused
        if not current:
            # Held to the end of the transaction: the next follow of this account counts
            # only after this one's row is committed (or rolled back).
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", FOLLOW_LOCK_CLASS, account_id
            )
            if await conn.fetchval(COUNT_FOLLOWS, account_id) >= max_follows:
                raise FollowLimitReached
        row: asyncpg.Record = await conn.fetchrow(
            f"""
            INSERT INTO follows (account_id, channel_id, active, followed_at)
            VALUES ($1, $2, true, now())
            ON CONFLICT (account_id, channel_id) DO UPDATE
               SET active = true,
                   followed_at = CASE WHEN follows.active THEN follows.followed_at
                                      ELSE now() END
            RETURNING {FOLLOW_COLUMNS}
            """,
            account_id,
            channel_id,
        )
        return row


async def unfollow(conn: asyncpg.Connection, account_id: str, channel_id: UUID) -> bool:
    """Deactivate the follow; True when a row exists (whatever its previous state)."""
    row = await conn.fetchval(
        "UPDATE follows SET active = false WHERE account_id = $1 AND channel_id = $2 "
        "RETURNING true",
        account_id,
        channel_id,
    )
    return row is True


async def update_preferences(
    conn: asyncpg.Connection,
    account_id: str,
    channel_id: UUID,
    muted: bool | None,
    alerts: bool | None,
) -> asyncpg.Record | None:
    """Set mute and alerts of an active follow of an active channel; None otherwise."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        UPDATE follows f SET muted = COALESCE($3, f.muted), alerts = COALESCE($4, f.alerts)
          FROM channels c
         WHERE f.account_id = $1 AND f.channel_id = $2 AND f.active
           AND c.channel_id = f.channel_id AND c.status = 'active'
        RETURNING {_F_COLUMNS}
        """,
        account_id,
        channel_id,
        muted,
        alerts,
    )
    return row


async def mark_read(
    conn: asyncpg.Connection, account_id: str, channel_id: UUID, seq: int
) -> asyncpg.Record | None:
    """Move the read marker forward (never back, never past the channel's last seq) of an
    active follow of an active channel; None otherwise."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        UPDATE follows f
           SET last_read_seq = GREATEST(f.last_read_seq, LEAST($3::bigint, c.last_seq))
          FROM channels c
         WHERE f.account_id = $1 AND f.channel_id = $2 AND f.active
           AND c.channel_id = f.channel_id AND c.status = 'active'
        RETURNING {_F_COLUMNS}
        """,
        account_id,
        channel_id,
        seq,
    )
    return row


@timed("feed", "my_follows")
async def my_follows(
    conn: asyncpg.Connection,
    account_id: str,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    ts, channel_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT f.channel_id, f.active, f.muted, f.alerts, f.last_read_seq, f.followed_at,
               c.handle, c.name, c.avatar_media_id, c.verified
        FROM follows f JOIN channels c ON c.channel_id = f.channel_id AND c.status = 'active'
        WHERE f.account_id = $1 AND f.active
          AND ($2::timestamptz IS NULL OR (f.followed_at, f.channel_id) < ($2, $3::uuid))
        ORDER BY f.followed_at DESC, f.channel_id DESC
        LIMIT $4
        """,
        account_id,
        ts,
        channel_id,
        limit,
    )
    return rows


# One statement: the followed channels by last activity, each with a bounded unread count
# (visible posts past the read marker; deleted and expired ones are not counted) and the
# newest visible post as a preview. Index-only work per followed channel.
UPDATES = f"""
SELECT f.channel_id, f.last_read_seq, f.muted,
       c.handle, c.name, c.avatar_media_id, c.verified, c.last_seq, c.last_post_at,
       COALESCE(c.last_post_at, $4::timestamptz) AS sort_at,
       (SELECT count(*) FROM (
            SELECT 1 FROM posts p
             WHERE p.channel_id = f.channel_id AND p.seq > f.last_read_seq
               AND p.status = 'published' AND p.expires_at > now()
             LIMIT {UNREAD_COUNT_CAP}) unread) AS unread_count,
       lp.post_id AS last_post_id, lp.seq AS last_post_seq, lp.body AS last_post_body,
       lp.created_at AS last_post_created_at
FROM follows f
JOIN channels c ON c.channel_id = f.channel_id AND c.status = 'active'
LEFT JOIN LATERAL (
    SELECT p.post_id, p.seq, p.body, p.created_at FROM posts p
     WHERE p.channel_id = f.channel_id AND p.status = 'published' AND p.expires_at > now()
     ORDER BY p.seq DESC LIMIT 1) lp ON true
WHERE f.account_id = $1 AND f.active
  AND ($2::timestamptz IS NULL
       OR (COALESCE(c.last_post_at, $4::timestamptz), f.channel_id) < ($2, $3::uuid))
ORDER BY COALESCE(c.last_post_at, $4::timestamptz) DESC, f.channel_id DESC
LIMIT $5
"""


@timed("feed", "updates")
async def updates(
    conn: asyncpg.Connection,
    account_id: str,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    ts, channel_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(UPDATES, account_id, ts, channel_id, NEVER, limit)
    return rows
