"""SQL of operators' decisions on channels: the verified badge, suspension and restore,
and appeals against a suspension (migration 1100).

Every change writes its audit entry (`store.audit.record`) in its own transaction. A
suspension is identified by `channels.suspension_id`; an appeal belongs to one
suspension and `appeals_suspension_key` allows exactly one per suspension, so two
concurrent appeals cannot both be filed. Restoring closes the suspension's open appeal
as `restored`, whoever restored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
from uuid6 import uuid7

from services.publisher.store import audit

Decision = Literal["restore", "uphold"]


class NotSuspended(Exception):
    """The channel is active: there is nothing to appeal."""


class AppealExists(Exception):
    """This suspension already has its appeal."""


class AppealDecided(Exception):
    """The appeal was decided already."""


async def _lock_status(conn: asyncpg.Connection, channel_id: UUID) -> str | None:
    """Lock the channel's row (in the caller's transaction) and return its status; None
    when no such channel or it is deleted."""
    status: str | None = await conn.fetchval(
        "SELECT status FROM channels WHERE channel_id = $1 AND status <> 'deleted' FOR UPDATE",
        channel_id,
    )
    return status


async def set_verified(pool: asyncpg.Pool, channel_id: UUID, verified: bool) -> bool:
    """Set the badge; False when no such channel (or it is deleted). Audited only when
    the badge actually changes, so a repeated PUT adds nothing."""
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchval(
            "SELECT verified FROM channels WHERE channel_id = $1 AND status <> 'deleted' "
            "FOR UPDATE",
            channel_id,
        )
        if before is None:
            return False
        if before != verified:
            await conn.execute(
                "UPDATE channels SET verified = $2, updated_at = now() WHERE channel_id = $1",
                channel_id,
                verified,
            )
            await audit.record(
                conn, channel_id, "operator", "verified" if verified else "unverified"
            )
        return True


async def suspend(pool: asyncpg.Pool, channel_id: UUID, reason: str) -> bool:
    """Suspend an active channel. A suspended one keeps its suspension (and its appeal)
    and takes the new reason; False for a deleted or unknown one."""
    async with pool.acquire() as conn, conn.transaction():
        status = await _lock_status(conn, channel_id)
        if status is None:
            return False
        await conn.execute(
            """
            UPDATE channels
            SET status = 'suspended', suspension_reason = $2, updated_at = now(),
                suspension_id = coalesce(suspension_id, $3),
                suspended_at = coalesce(suspended_at, now())
            WHERE channel_id = $1
            """,
            channel_id,
            reason,
            uuid7(),
        )
        action = "suspended" if status == "active" else "suspension.reason_changed"
        await audit.record(conn, channel_id, "operator", action, {"reason": reason})
        return True


async def _restore(conn: asyncpg.Connection, channel_id: UUID) -> None:
    """Lift the suspension and close its open appeal as restored (in the caller's
    transaction); nothing when the channel is not suspended."""
    suspension_id = await conn.fetchval(
        "SELECT suspension_id FROM channels WHERE channel_id = $1 AND status = 'suspended' "
        "FOR UPDATE",
        channel_id,
    )
    if suspension_id is None:
        return
    await conn.execute(
        """
        UPDATE channels
        SET status = 'active', suspension_id = NULL, suspension_reason = NULL,
            suspended_at = NULL, updated_at = now()
        WHERE channel_id = $1
        """,
        channel_id,
    )
    await conn.execute(
        """
        UPDATE appeals SET status = 'restored', decided_at = now()
        WHERE channel_id = $1 AND suspension_id = $2 AND status = 'open'
        """,
        channel_id,
        suspension_id,
    )
    await audit.record(conn, channel_id, "operator", "restored")


async def restore(pool: asyncpg.Pool, channel_id: UUID) -> bool:
    """Restore a suspended channel; an active one is left as it is. False for a deleted
    or unknown one."""
    async with pool.acquire() as conn, conn.transaction():
        status = await _lock_status(conn, channel_id)
        if status is None:
            return False
        await _restore(conn, channel_id)
        return True


async def file_appeal(pool: asyncpg.Pool, channel_id: UUID, text: str) -> UUID:
    """File the appeal of the channel's current suspension (by its owner); raises
    `NotSuspended` or `AppealExists`."""
    appeal_id = uuid7()
    async with pool.acquire() as conn, conn.transaction():
        suspension_id = await conn.fetchval(
            "SELECT suspension_id FROM channels WHERE channel_id = $1 AND status = 'suspended'",
            channel_id,
        )
        if suspension_id is None:
            raise NotSuspended
        try:
            await conn.execute(
                """
                INSERT INTO appeals (appeal_id, channel_id, suspension_id, text)
                VALUES ($1, $2, $3, $4)
                """,
                appeal_id,
                channel_id,
                suspension_id,
                text,
            )
        except asyncpg.UniqueViolationError:
            raise AppealExists from None
        await audit.record(conn, channel_id, "owner", "appeal.filed", {"appeal_id": str(appeal_id)})
    return appeal_id


APPEAL_COLUMNS = """
a.appeal_id, a.channel_id, a.text, a.status, a.created_at, a.decided_at,
c.suspension_reason AS reason, c.suspended_at
"""


async def open_appeals(
    pool: asyncpg.Pool, after: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Open appeals, oldest first (the queue operators work through)."""
    rows = await pool.fetch(
        f"""
        SELECT {APPEAL_COLUMNS}
        FROM appeals a JOIN channels c ON c.channel_id = a.channel_id
        WHERE a.status = 'open' AND ($1::timestamptz IS NULL OR a.created_at > $1)
        ORDER BY a.created_at, a.appeal_id
        LIMIT $2
        """,
        after,
        limit,
    )
    return [dict(row.items()) for row in rows]


async def decide(pool: asyncpg.Pool, appeal_id: UUID, decision: Decision) -> UUID | None:
    """Decide an open appeal; returns its channel (None: no such appeal). Raises
    `AppealDecided` for an appeal decided before (or whose suspension was lifted)."""
    async with pool.acquire() as conn, conn.transaction():
        channel_id: UUID | None = await conn.fetchval(
            "SELECT channel_id FROM appeals WHERE appeal_id = $1", appeal_id
        )
        if channel_id is None:
            return None
        # The channel's row first, then the appeal's: the order `restore` takes them in.
        await conn.execute("SELECT 1 FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id)
        status = await conn.fetchval(
            "SELECT status FROM appeals WHERE appeal_id = $1 FOR UPDATE", appeal_id
        )
        if status != "open":
            raise AppealDecided
        await audit.record(
            conn,
            channel_id,
            "operator",
            "appeal.restored" if decision == "restore" else "appeal.upheld",
            {"appeal_id": str(appeal_id)},
        )
        if decision == "restore":
            # Also closes this appeal (as restored) and writes the channel's own entry.
            await _restore(conn, channel_id)
        else:
            await conn.execute(
                "UPDATE appeals SET status = 'upheld', decided_at = now() WHERE appeal_id = $1",
                appeal_id,
            )
        return channel_id


async def suspension_view(
    db: asyncpg.Pool | asyncpg.Connection, channel_id: UUID
) -> dict[str, Any] | None:
    """For the admin view: the current suspension's reason and time and its appeal's
    state (None while the channel is active)."""
    row = await db.fetchrow(
        """
        SELECT c.suspension_reason AS reason, c.suspended_at,
               a.appeal_id, a.status AS appeal_status, a.created_at AS appealed_at,
               a.decided_at
        FROM channels c
        LEFT JOIN appeals a ON a.channel_id = c.channel_id AND a.suspension_id = c.suspension_id
        WHERE c.channel_id = $1 AND c.status = 'suspended'
        """,
        channel_id,
    )
    if row is None:
        return None
    appeal = None
    if row["appeal_id"] is not None:
        appeal = {
            "appeal_id": row["appeal_id"],
            "status": row["appeal_status"],
            "created_at": row["appealed_at"],
            "decided_at": row["decided_at"],
        }
    return {"reason": row["reason"], "suspended_at": row["suspended_at"], "appeal": appeal}
