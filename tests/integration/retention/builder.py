"""Aged test content for retention, written straight with SQL (set-based).

Channels, posts in their day partitions (created_at anywhere in the past; missing
partitions are created), feed rows, reactions, votes, counters, views, follows, and
media rows with real files in the session's media store.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from shared.media import LocalMediaStore

# The tables retention must empty of an expired post.
POST_TABLES = ("posts", "feed_items", "reactions", "poll_votes", "post_counters", "post_views")


@dataclass(frozen=True)
class Post:
    channel_id: UUID
    post_id: UUID
    created_at: datetime
    seq: int


@dataclass(frozen=True)
class Media:
    media_id: UUID
    storage_key: str
    thumbnail_key: str | None


def uuid7_at(at: datetime) -> UUID:
    """A UUIDv7 whose time is `at`, as the publisher makes post ids (created_at = its time)."""
    ms = int(at.timestamp() * 1000)
    rand_a, rand_b = secrets.randbits(12), secrets.randbits(62)
    return UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)


class Builder:
    def __init__(self, db: asyncpg.Pool, media_dir: Path) -> None:
        self.db = db
        self.store = LocalMediaStore(media_dir)

    async def channel(self, retention_days: int = 30, status: str = "active") -> UUID:
        channel_id = uuid.uuid4()
        await self.db.execute(
            """INSERT INTO channels (channel_id, handle, name, category, country, language,
                                     retention_days, status, settings)
               VALUES ($1, $2, 'Test channel', 'news', 'NL', 'nl', $3::int, 'active',
                       jsonb_build_object('retention_days', $3::int))""",
            channel_id,
            f"t_{channel_id.hex[:20]}",
            retention_days,
        )
        if status != "active":
            await self.set_status(channel_id, status)
        return channel_id

    async def set_status(self, channel_id: UUID, status: str) -> None:
        await self.db.execute(
            "UPDATE channels SET status = $2, deleted_at = now() WHERE channel_id = $1",
            channel_id,
            status,
        )

    async def posts(self, channel_id: UUID, created: list[datetime]) -> list[Post]:
        """Posts at these times (seq in the given order), expiring per the channel."""
        for table in ("posts", "feed_items"):
            await self.db.execute(
                "SELECT herald_ensure_day_partitions($1, $2::date, $3::date)",
                table,
                min(created),
                max(created),
            )
        async with self.db.acquire() as conn, conn.transaction():
            last_seq, days = await conn.fetchrow(
                "SELECT last_seq, retention_days FROM channels WHERE channel_id = $1 FOR UPDATE",
                channel_id,
            )
            posts = [
                Post(channel_id, uuid7_at(at), at, last_seq + n) for n, at in enumerate(created, 1)
            ]
            await conn.execute(
                """INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body,
                                      expires_at, fanned_out)
                   SELECT $1, p, c, s, 'admin-1', jsonb_build_object('type', 'text', 'text',
                          'post ' || s), c + make_interval(days => $5), true
                   FROM unnest($2::uuid[], $3::timestamptz[], $4::bigint[]) AS t(p, c, s)""",
                channel_id,
                [p.post_id for p in posts],
                [p.created_at for p in posts],
                [p.seq for p in posts],
                days,
            )
            await conn.execute(
                "UPDATE channels SET last_seq = $2 WHERE channel_id = $1", channel_id, posts[-1].seq
            )
        return posts

    async def follow_and_interact(self, posts: list[Post], accounts: list[str]) -> None:
        """Every account follows, gets feed rows, reacts, votes and views every post."""
        channel_ids = [p.channel_id for p in posts]
        post_ids = [p.post_id for p in posts]
        created = [p.created_at for p in posts]
        seqs = [p.seq for p in posts]
        args = (channel_ids, post_ids, created, seqs, accounts)
        posts_sql = "unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::bigint[])"
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(
                f"""INSERT INTO follows (account_id, channel_id, followed_at, counted_active)
                    SELECT DISTINCT a, c, '2000-01-01'::timestamptz, true
                    FROM {posts_sql} AS t(c, p, ca, s), unnest($5::text[]) AS a
                    ON CONFLICT DO NOTHING""",
                *args,
            )
            for statement in (
                "INSERT INTO feed_items (account_id, created_at, channel_id, post_id, seq) "
                "SELECT a, ca, c, p, s",
                "INSERT INTO reactions (post_id, account_id, channel_id, emoji, counted_emoji) "
                "SELECT p, a, c, '👍', '👍'",
                "INSERT INTO poll_votes (post_id, account_id, channel_id, options, "
                "counted_options) SELECT p, a, c, '{0}', '{0}'",
            ):
                await conn.execute(
                    f"{statement} FROM {posts_sql} AS t(c, p, ca, s), unnest($5::text[]) AS a",
                    *args,
                )
            await conn.execute(
                f"""INSERT INTO post_counters (post_id, kind, key, channel_id, count)
                    SELECT p, k, '0', c, cardinality($5::text[])
                    FROM {posts_sql} AS t(c, p, ca, s), unnest(ARRAY['reaction', 'vote']) AS k""",
                *args,
            )
            await conn.execute(
                f"""INSERT INTO post_views (post_id, channel_id, sketch)
                    SELECT p, c, hll_add_agg(hll_hash_text(a))
                    FROM {posts_sql} AS t(c, p, ca, s), unnest($5::text[]) AS a GROUP BY p, c""",
                *args,
            )

    async def media(
        self,
        channel_id: UUID,
        content: bytes,
        created_at: datetime,
        *,
        first_used_at: datetime | None = None,
        expires_at: datetime | None = None,
        thumbnail: bool = False,
    ) -> Media:
        """A media row with its file (and thumbnail) in the store; same bytes, same key."""
        sha = hashlib.sha256(content).hexdigest()
        keys = [sha] + ([f"{sha}.thumb.jpg"] if thumbnail else [])
        for key in keys:
            path = self.store.local_path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        media = Media(uuid.uuid4(), sha, keys[1] if thumbnail else None)
        await self.db.execute(
            """INSERT INTO media (media_id, channel_id, kind, mime, bytes, sha256, storage_key,
                                  thumbnail_key, created_at, first_used_at, expires_at)
               VALUES ($1, $2, 'photo', 'image/jpeg', $3, $4, $5, $6, $7, $8, $9)""",
            media.media_id,
            channel_id,
            len(content),
            sha,
            media.storage_key,
            media.thumbnail_key,
            created_at,
            first_used_at,
            expires_at,
        )
        return media

    def file_exists(self, key: str) -> bool:
        return self.store.local_path(key).exists()

    async def rows_of(self, posts: list[Post]) -> dict[str, int]:
        """How many rows of each post table still belong to these posts."""
        ids = [p.post_id for p in posts]
        counts: dict[str, int] = {}
        for table in POST_TABLES:
            counts[table] = await self.db.fetchval(
                f"SELECT count(*) FROM {table} WHERE post_id = ANY($1::uuid[])", ids
            )
        return counts

    async def channel_rows(self, channel_id: UUID) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table in (*POST_TABLES, "follows", "media"):
            counts[table] = await self.db.fetchval(
                f"SELECT count(*) FROM {table} WHERE channel_id = $1", channel_id
            )
        return counts

    async def partition_exists(self, table: str, day: datetime) -> bool:
        name = f"{table}_p{day:%Y%m%d}"
        return bool(await self.db.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


def ago(now: datetime, **delta: float) -> datetime:
    return now - timedelta(**delta)
