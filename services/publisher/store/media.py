"""SQL for media metadata (the publisher is its only writer).

Lifetime, as retention reads it: a media row whose `first_used_at` stays NULL for 24 hours
was never used and is removed; once used, the file lives until `expires_at`, the latest
expiry of any post using it. A channel avatar is used with no expiry (`infinity`) until
it is replaced; the replaced one then expires with its last post (or now).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from services.publisher.media.inspect import Inspected
from shared.db.timing import timed
from shared.events.content import MediaKind, MediaRef


@timed("publisher", "insert_media")
async def insert_media(
    db: asyncpg.Pool | asyncpg.Connection,
    media_id: UUID,
    channel_id: UUID,
    info: Inspected,
    thumbnail_key: str | None,
) -> None:
    await db.execute(
        """
        INSERT INTO media (media_id, channel_id, kind, mime, bytes, sha256, width, height,
                           storage_key, thumbnail_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        media_id,
        channel_id,
        info.kind.value,
        info.mime,
        info.size,
        info.sha256,
        info.width,
        info.height,
        info.sha256,
        thumbnail_key,
    )


@timed("publisher", "media_ref")
async def media_ref(
    pool: asyncpg.Pool, channel_id: UUID, media_id: UUID, kind: MediaKind
) -> MediaRef | None:
    """The media as a post body names it, if it is live media of `kind` in the channel
    (a read-only check; `claim_for_post` is what marks it used)."""
    row = await pool.fetchrow(
        """
        SELECT media_id, kind, mime, bytes, width, height FROM media
        WHERE media_id = $1 AND channel_id = $2 AND kind = $3
          AND (expires_at IS NULL OR expires_at > now())
        """,
        media_id,
        channel_id,
        kind.value,
    )
    return None if row is None else MediaRef.model_validate(dict(row.items()))


@timed("publisher", "claim_media_for_post")
async def claim_for_post(
    db: asyncpg.Pool | asyncpg.Connection,
    channel_id: UUID,
    media_id: UUID,
    kind: MediaKind,
    expires_at: datetime,
    content_key: Sequence[object] | None = None,
) -> MediaRef | None:
    """Mark the media used until `expires_at` (a post's expiry) and return it as the post
    body names it; None when it is not live media of `kind` in the channel.

    One statement, so it is atomic against retention: retention selects the rows it
    removes `FOR UPDATE SKIP LOCKED` and re-checks them, so either this finds the row gone
    (None) or retention sees it used and keeps it.

    `content_key`: the arguments of `shared.content.keys.INSERT_KEY_SQL` for the post's
    content key, inserted by the same statement when (and only when) the media is claimed,
    saving the publish a round trip. A missing expiry-day partition of `content_keys` is
    created and the statement retried (claiming twice is harmless).
    """
    if content_key is None:
        row = await db.fetchrow(_CLAIM, media_id, channel_id, kind.value, expires_at)
    else:
        sql = _CLAIM_WITH_KEY
        args = (media_id, channel_id, kind.value, expires_at, *content_key)
        try:
            row = await db.fetchrow(sql, *args)
        except asyncpg.CheckViolationError as exc:
            if "no partition" not in str(exc):
                raise
            await db.execute("SELECT herald_ensure_content_key_partitions($1, $1)", content_key[1])
            row = await db.fetchrow(sql, *args)
    return None if row is None else MediaRef.model_validate(dict(row.items()))


_CLAIM = """
UPDATE media SET first_used_at = coalesce(first_used_at, now()),
                 expires_at = greatest(expires_at, $4)
WHERE media_id = $1 AND channel_id = $2 AND kind = $3
  AND (expires_at IS NULL OR expires_at > now())
RETURNING media_id, kind, mime, bytes, width, height
"""
_CLAIM_WITH_KEY = f"""
WITH claimed AS ({_CLAIM}), stored AS (
    INSERT INTO content_keys (key_id, expires_on, channel_id, post_id, master_key_id, wrapped)
    SELECT $5::uuid, $6::date, $7::uuid, $8::uuid, $9::text, $10::bytea FROM claimed
)
SELECT * FROM claimed
"""


async def set_avatar(conn: asyncpg.Connection, channel_id: UUID, media_id: UUID | None) -> bool:
    """Point the channel's avatar at `media_id` (a photo of the channel) or clear it.
    False when the media is not a photo of this channel."""
    if media_id is not None:
        used = await conn.execute(
            """
            UPDATE media SET first_used_at = coalesce(first_used_at, now()),
                             expires_at = 'infinity'
            WHERE media_id = $1 AND channel_id = $2 AND kind = 'photo'
            """,
            media_id,
            channel_id,
        )
        if not used.endswith(" 1"):
            return False
    old = await conn.fetchval(
        "SELECT avatar_media_id FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id
    )
    if old is not None and old != media_id:
        await conn.execute(
            """
            UPDATE media SET expires_at = coalesce(
                (SELECT max(expires_at) FROM accepted_posts
                 WHERE channel_id = $2 AND media_id = $1), now())
            WHERE media_id = $1
            """,
            old,
            channel_id,
        )
    await conn.execute(
        "UPDATE channels SET avatar_media_id = $2, updated_at = now() WHERE channel_id = $1",
        channel_id,
        media_id,
    )
    return True
