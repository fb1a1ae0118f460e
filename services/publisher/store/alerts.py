"""SQL of the alert tier: the operator's grant (`channels.alerts_enabled`) and the
per-channel rate limit of alert posts (`channel_alerts_sent`).

The limit is a sliding window: a channel holds at most `limit` reservations younger than
`window_s`. `reserve` counts and inserts in one short transaction holding the channel's
advisory lock, so two concurrent alerts cannot both take the last slot, and it runs
before the produce without holding anything across the broker wait (see
`publishing.py`). The lock is an advisory one rather than the channel row's: fan-out
holds channel rows `FOR UPDATE` for a whole batch, and an alert must not wait for that.
"""

from __future__ import annotations

import hashlib
import math
from uuid import UUID

import asyncpg

from shared.db.timing import timed

# The advisory-lock namespace of alert reservations ("alrt"): the two-int form never meets
# the single-bigint locks (migrations, retention) nor media content's ("medi").
ALERT_LOCK_CLASS = 0x616C7274


class AlertsNotEnabled(Exception):
    """The channel has no operator grant for alerts (or is not active)."""


class AlertLimitReached(Exception):
    """The channel used its alerts of the window; one frees up in `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


def alert_lock_id(channel_id: UUID) -> int:
    """The lock id of a channel's alert slots. A collision only makes two channels' alert
    reservations wait for each other, briefly."""
    digest = hashlib.blake2b(channel_id.bytes, digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


async def set_alerts(pool: asyncpg.Pool, channel_id: UUID, enabled: bool) -> bool:
    """Grant or withdraw alerts; False when no such channel (or it is deleted)."""
    status: str = await pool.execute(
        """
        UPDATE channels SET alerts_enabled = $2, updated_at = now()
        WHERE channel_id = $1 AND status <> 'deleted'
        """,
        channel_id,
        enabled,
    )
    return status.endswith(" 1")


@timed("publisher", "reserve_alert")
async def reserve(
    pool: asyncpg.Pool, channel_id: UUID, post_id: UUID, limit: int, window_s: float
) -> None:
    """Take one of the channel's alert slots for `post_id` (idempotent: a post that holds
    one keeps it, e.g. a retried Idempotency-Key). Raises `AlertsNotEnabled` when the grant
    is gone (an operator may withdraw it while the request runs), `AlertLimitReached` when
    `limit` posts hold slots younger than `window_s`."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, $2)", ALERT_LOCK_CLASS, alert_lock_id(channel_id)
        )
        enabled = await conn.fetchval(
            "SELECT alerts_enabled FROM channels WHERE channel_id = $1 AND status = 'active'",
            channel_id,
        )
        if not enabled:
            raise AlertsNotEnabled
        # Slots that left the window: a handful per channel at most.
        await conn.execute(
            """
            DELETE FROM channel_alerts_sent
            WHERE channel_id = $1 AND reserved_at <= clock_timestamp() - make_interval(secs => $2)
            """,
            channel_id,
            window_s,
        )
        row = await conn.fetchrow(
            """
            SELECT count(*) AS used,
                   bool_or(post_id = $2) AS held,
                   extract(epoch FROM min(reserved_at) + make_interval(secs => $3)
                                      - clock_timestamp()) AS frees_in
            FROM channel_alerts_sent WHERE channel_id = $1
            """,
            channel_id,
            post_id,
            window_s,
        )
        if row["held"]:
            return
        if row["used"] >= limit:
            raise AlertLimitReached(max(1, math.ceil(float(row["frees_in"]))))
        await conn.execute(
            "INSERT INTO channel_alerts_sent (channel_id, post_id) VALUES ($1, $2)",
            channel_id,
            post_id,
        )


async def release(db: asyncpg.Pool | asyncpg.Connection, channel_id: UUID, post_id: UUID) -> None:
    """Give back the slot of a post whose produce failed (it does not count)."""
    await db.execute(
        "DELETE FROM channel_alerts_sent WHERE channel_id = $1 AND post_id = $2",
        channel_id,
        post_id,
    )
