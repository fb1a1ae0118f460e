"""SQL for channels and their admins (the publisher is their only writer).

`handle` is stored lower-case and unique among channels not deleted: a clash surfaces as
`HandleTaken`. Settings are stored as JSON and `retention_days` also in its own column,
which fan-out uses for `posts.expires_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.publisher.models import ChannelCreate, ChannelSettings
from shared.db.timing import timed

# Admins besides the owner (DESIGN.md).
MAX_ADMINS = 16


class HandleTaken(Exception):
    pass


@dataclass(frozen=True)
class Access:
    """The caller's role in an active or suspended channel (`status`)."""

    channel_id: UUID
    account_id: str
    role: str
    retention_days: int
    # An operator's grant: may this channel post alerts (read with the role, re-checked
    # under the alert lock by `store.alerts.reserve`).
    alerts_enabled: bool = False
    # 'active' or 'suspended': a suspended channel's admins may only read it, read its
    # audit log and appeal (`api.deps`).
    status: str = "active"

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"


@timed("publisher", "channel_access")
async def access_of(pool: asyncpg.Pool, channel_id: UUID, account_id: str) -> Access | None:
    row = await pool.fetchrow(
        """
        SELECT a.role, c.retention_days, c.alerts_enabled, c.status
        FROM channel_admins a JOIN channels c ON c.channel_id = a.channel_id
        WHERE a.channel_id = $1 AND a.account_id = $2 AND c.status IN ('active', 'suspended')
        """,
        channel_id,
        account_id,
    )
    if row is None:
        return None
    return Access(
        channel_id,
        account_id,
        row["role"],
        row["retention_days"],
        row["alerts_enabled"],
        row["status"],
    )


@timed("publisher", "create_channel")
async def create_channel(
    pool: asyncpg.Pool, channel_id: UUID, owner_id: str, body: ChannelCreate
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        try:
            await conn.execute(
                """
                INSERT INTO channels (channel_id, handle, name, description, category,
                                      country, language, settings, retention_days,
                                      visibility)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """,
                channel_id,
                body.handle,
                body.name,
                body.description,
                body.category.value,
                body.country,
                body.language,
                body.settings.model_dump(mode="json"),
                body.settings.retention_days,
                body.settings.visibility,
            )
        except asyncpg.UniqueViolationError:
            raise HandleTaken from None
        await conn.execute(
            "INSERT INTO channel_admins (channel_id, account_id, role) VALUES ($1, $2, 'owner')",
            channel_id,
            owner_id,
        )


async def fetch_channel(pool: asyncpg.Pool, channel_id: UUID) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """
            SELECT channel_id, handle, name, description, category, country, language,
                   avatar_media_id, settings, retention_days, verified, alerts_enabled,
                   status, created_at, updated_at
            FROM channels WHERE channel_id = $1 AND status IN ('active', 'suspended')
            """,
            channel_id,
        )
        if row is None:
            return None
        admins = await conn.fetch(
            """
            SELECT account_id, role, added_at FROM channel_admins WHERE channel_id = $1
            ORDER BY role DESC, added_at, account_id
            """,
            channel_id,
        )
    channel = dict(row.items())
    channel["settings"] = ChannelSettings.model_validate(channel["settings"])
    channel["admins"] = [dict(a.items()) for a in admins]
    return channel


async def update_channel(
    conn: asyncpg.Connection, channel_id: UUID, changes: dict[str, Any]
) -> None:
    """Apply `changes` (column → value; `settings` is a ChannelSettings). The avatar is
    set with `store.media.set_avatar`, which checks the media. Settings that leave out
    `visibility` keep the channel's current one (read under the row lock)."""
    values: dict[str, Any] = dict(changes)
    settings = values.pop("settings", None)
    if isinstance(settings, ChannelSettings):
        if "visibility" not in settings.model_fields_set:
            current = await conn.fetchval(
                "SELECT visibility FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id
            )
            settings = settings.model_copy(update={"visibility": current or "public"})
        values["settings"] = settings.model_dump(mode="json")
        values["retention_days"] = settings.retention_days
        values["visibility"] = settings.visibility
    if "category" in values and values["category"] is not None:
        values["category"] = str(values["category"])
    if not values:
        return
    # Column names come from the model's fixed field set, never from the client.
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, start=2))
    await conn.execute(
        f"UPDATE channels SET {assignments}, updated_at = now() WHERE channel_id = $1",
        channel_id,
        *values.values(),
    )


async def mark_deleted(
    db: asyncpg.Pool | asyncpg.Connection, channel_id: UUID, at: datetime
) -> None:
    """Mark the channel deleted at `at` (the time its `channel.deleted` event carries);
    a channel already deleted keeps its first deletion time."""
    await db.execute(
        """
        UPDATE channels SET status = 'deleted', deleted_at = $2, updated_at = now()
        WHERE channel_id = $1 AND status <> 'deleted'
        """,
        channel_id,
        at,
    )


class TooManyAdmins(Exception):
    pass


async def put_admin(pool: asyncpg.Pool, channel_id: UUID, account_id: str) -> bool:
    """Make `account_id` an admin; True when newly added. Serialised per channel by locking
    the channel row, so two concurrent adds cannot both pass the limit."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id)
        existing = await conn.fetchval(
            "SELECT role FROM channel_admins WHERE channel_id = $1 AND account_id = $2",
            channel_id,
            account_id,
        )
        if existing is not None:
            return False
        admins = await conn.fetchval(
            "SELECT count(*) FROM channel_admins WHERE channel_id = $1 AND role = 'admin'",
            channel_id,
        )
        if admins >= MAX_ADMINS:
            raise TooManyAdmins
        await conn.execute(
            "INSERT INTO channel_admins (channel_id, account_id, role) VALUES ($1, $2, 'admin')",
            channel_id,
            account_id,
        )
        return True


async def remove_admin(pool: asyncpg.Pool, channel_id: UUID, account_id: str) -> bool:
    status: str = await pool.execute(
        "DELETE FROM channel_admins WHERE channel_id = $1 AND account_id = $2 AND role = 'admin'",
        channel_id,
        account_id,
    )
    return status.endswith(" 1")
