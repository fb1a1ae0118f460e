"""SQL of the audit log (`audit_log`, migration 1100): one row per operator action and per
admin change to a channel, append-only, removed by retention after 180 days.

Who acted is recorded as a role ('operator', 'owner', 'admin'); an account id only for a
change by one of the channel's admins or its owner (`actor_id`), whom the channel's
owner already knows. Never an operator's, follower's or reporter's account: the log is
read by operators and by the channel's owner. `details` holds what changed (field names,
the admin added or removed, a suspension's reason), never post content.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import asyncpg
from uuid6 import uuid7

from shared.db.timing import timed

if TYPE_CHECKING:
    from services.publisher.store.channels import Access

ActorRole = Literal["operator", "owner", "admin"]

# One page of the log; the newest first.
PAGE_MAX = 500


async def record(
    db: asyncpg.Pool | asyncpg.Connection,
    channel_id: UUID,
    actor_role: ActorRole,
    action: str,
    details: dict[str, Any] | None = None,
    actor_id: str | None = None,
) -> None:
    """Append one entry. Pass the connection of the change's own transaction where there
    is one, so the entry commits with the change or not at all."""
    if actor_role == "operator":
        # An operator is recorded by role only: the channel's owner reads this log.
        actor_id = None
    await db.execute(
        """
        INSERT INTO audit_log (audit_id, channel_id, actor_role, actor_id, action, details)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        uuid7(),
        channel_id,
        actor_role,
        actor_id,
        action,
        details or {},
    )


async def record_admin(
    db: asyncpg.Pool | asyncpg.Connection,
    access: Access,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """An admin's change: recorded as "owner" or "admin" with the acting account (one of
    the channel's own, whom its owner knows)."""
    role: ActorRole = "owner" if access.is_owner else "admin"
    await record(db, access.channel_id, role, action, details, access.account_id)


@timed("publisher", "audit_entries")
async def entries(
    pool: asyncpg.Pool, channel_id: UUID, before: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """The channel's entries, newest first, older than `before` when given."""
    rows = await pool.fetch(
        """
        SELECT audit_id, channel_id, at, actor_role, actor_id, action, details
        FROM audit_log
        WHERE channel_id = $1 AND ($2::timestamptz IS NULL OR at < $2)
        ORDER BY at DESC, audit_id DESC
        LIMIT $3
        """,
        channel_id,
        before,
        limit,
    )
    return [dict(row.items()) for row in rows]
