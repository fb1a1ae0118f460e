"""Which media may be served: only while a visible post of an active channel uses it, or
it is the avatar of an active channel (the public card shows it) — and, for an
invite-only channel, only to its followers and admins (`queries.audience`).

The post lookup uses the expression index of migration 0300 on the media id inside the
post body, so it stays an index probe however many posts the channel has.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.feed.queries.audience import readable

SERVABLE_MEDIA = f"""
SELECT m.mime, m.storage_key, m.bytes
FROM media m JOIN channels c ON c.channel_id = m.channel_id AND c.status = 'active'
WHERE m.media_id = $1 AND {readable("c", "$2")}
  AND (c.avatar_media_id = m.media_id
       OR EXISTS (SELECT 1 FROM posts p
                   WHERE p.channel_id = m.channel_id
                     AND (p.body #>> '{{media,media_id}}') = $1::text
                     AND p.status = 'published' AND p.expires_at > now()))
"""


async def servable_media(
    conn: asyncpg.Connection, media_id: UUID, account_id: str | None
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(SERVABLE_MEDIA, media_id, account_id)
    return row
