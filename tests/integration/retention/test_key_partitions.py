"""Content keys leave with their expiry day's partition, and the ledger says what went.

Retention drops a `content_keys` day partition once that day is over (every key in it
belongs to content that expired that day), for 1-day channels as for 30-day ones, and
records per channel and expiry day the rows, partitions, media and keys destroyed.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg

from tests.integration.retention.builder import Builder, Post
from tests.integration.retention.conftest import Run

ACCOUNTS = ["acct-1", "acct-2"]


def at_ten(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=10)


async def add_keys(db: asyncpg.Pool, posts: list[Post], expires_on: date) -> None:
    """One (opaque) wrapped key per post, as the publisher stores them."""
    await db.execute("SELECT herald_ensure_content_key_partitions($1, $1)", expires_on)
    await db.executemany(
        """INSERT INTO content_keys (key_id, expires_on, channel_id, post_id, master_key_id,
                                     wrapped)
           VALUES ($1, $2, $3, $4, 'test', $5)""",
        [(uuid.uuid4(), expires_on, p.channel_id, p.post_id, os.urandom(60)) for p in posts],
    )


async def keys_left(db: asyncpg.Pool, channel_id: UUID) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM content_keys WHERE channel_id = $1", channel_id
    )
    return count


async def ledger(db: asyncpg.Pool, channel_id: UUID, day: date) -> dict[str, int] | None:
    row = await db.fetchrow(
        """SELECT rows_dropped, partitions_dropped, media_removed, keys_destroyed
           FROM deletion_ledger WHERE channel_id = $1 AND day = $2""",
        channel_id,
        day,
    )
    return None if row is None else dict(row)


async def partition_exists(db: asyncpg.Pool, day: date) -> bool:
    found: bool = await db.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f"content_keys_{day:%Y%m%d}"
    )
    return found


async def test_expired_days_lose_their_keys_and_the_ledger_counts_it(
    db: asyncpg.Pool, builder: Builder, run: Run
) -> None:
    now = datetime.now(UTC)
    today = now.date()
    expired_day = today - timedelta(days=1)  # over since 00:00 today

    # A 30-day channel's posts of 31 days ago expired yesterday; one younger post did not.
    monthly = await builder.channel(retention_days=30)
    old = await builder.posts(monthly, [at_ten(today - timedelta(days=31))] * 3)
    await builder.follow_and_interact(old, ACCOUNTS)
    await add_keys(db, old, expired_day)
    young = await builder.posts(monthly, [now - timedelta(hours=1)])
    await add_keys(db, young, (young[0].created_at + timedelta(days=30)).date())

    # A 1-day channel: posted two days ago → expired yesterday, key partition over today;
    # posted 20 hours ago → not expired yet, its key stays.
    daily = await builder.channel(retention_days=1)
    gone = await builder.posts(daily, [at_ten(today - timedelta(days=2))] * 2)
    await builder.follow_and_interact(gone, ACCOUNTS)
    await add_keys(db, gone, expired_day)
    control = await builder.posts(daily, [now - timedelta(hours=20)])
    control_day = (control[0].created_at + timedelta(days=1)).date()
    await add_keys(db, control, control_day)
    photo = await builder.media(
        daily,
        b"daily photo",
        gone[0].created_at,
        first_used_at=gone[0].created_at,
        expires_at=gone[0].created_at + timedelta(days=1),
    )

    # A run killed after detaching the day's key partition: the next run counts and drops it.
    await db.execute(
        f'ALTER TABLE content_keys DETACH PARTITION "content_keys_{expired_day:%Y%m%d}"'
    )

    report = await run(now)

    assert f"content_keys_{expired_day:%Y%m%d}" in report.partitions_dropped
    assert not await partition_exists(db, expired_day)
    assert await partition_exists(db, control_day)
    # Created ahead: content published today may expire 31 days on.
    assert await partition_exists(db, today + timedelta(days=31))
    assert await keys_left(db, monthly) == 1
    assert await keys_left(db, daily) == 1
    assert not builder.file_exists(photo.storage_key)

    # 30-day channel: 3 posts + 6 feed rows; posts, feed_items, content_keys partitions.
    assert await ledger(db, monthly, expired_day) == {
        "rows_dropped": 3 + 3 * len(ACCOUNTS),
        "partitions_dropped": 3,
        "media_removed": 0,
        "keys_destroyed": 3,
    }
    # 1-day channel: rows deleted by expiry, its photo, and the key partition.
    assert await ledger(db, daily, expired_day) == {
        "rows_dropped": 2 + 2 * len(ACCOUNTS),
        "partitions_dropped": 1,
        "media_removed": 1,
        "keys_destroyed": 2,
    }
    assert await ledger(db, daily, control_day) is None

    # A second run destroys nothing more and counts nothing twice.
    await run(now)
    assert (await ledger(db, monthly, expired_day) or {}).get("keys_destroyed") == 3
    assert (await ledger(db, daily, expired_day) or {}).get("rows_dropped") == 2 + 2 * len(ACCOUNTS)

    # Once the control's day is over, its key goes too.
    await run(now + timedelta(days=2))
    assert await keys_left(db, daily) == 0
    assert (await ledger(db, daily, control_day) or {}).get("keys_destroyed") == 1


async def test_a_deleted_channel_loses_its_keys_with_its_posts(
    db: asyncpg.Pool, builder: Builder, run: Run
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel(retention_days=30)
    posts = await builder.posts(channel, [now - timedelta(days=2), now - timedelta(hours=1)])
    await add_keys(db, posts, (now + timedelta(days=28)).date())
    neighbour = await builder.channel(retention_days=30)
    kept = await builder.posts(neighbour, [now - timedelta(hours=1)])
    await add_keys(db, kept, (now + timedelta(days=29)).date())
    await builder.set_status(channel, "deleted")

    await run(now)

    assert await keys_left(db, channel) == 0
    assert await keys_left(db, neighbour) == 1
