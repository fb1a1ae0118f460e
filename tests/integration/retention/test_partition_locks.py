"""Dropping an expired partition never stops fan-out from writing posts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import asyncpg

from tests.integration.retention.builder import Builder, ago, uuid7_at
from tests.integration.retention.conftest import Run

WAITING_DETACH = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'ALTER TABLE "posts" DETACH PARTITION%'
  AND wait_event_type = 'Lock'
"""


async def test_inserts_go_on_while_a_partition_is_detached(
    builder: Builder, run: Run, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel()
    await builder.posts(channel, [ago(now, days=33)])

    async with db.acquire() as fanout:
        # A fan-out batch in flight: it has written to posts and not committed yet.
        in_flight = fanout.transaction()
        await in_flight.start()
        await fanout.execute(
            """INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body,
                                  expires_at)
               VALUES ($1, $2, $3, 1000, 'admin-1', '{"type": "text", "text": "hi"}', $3)""",
            channel,
            uuid7_at(now),
            now,
        )
        running = asyncio.create_task(run(now))
        try:
            async with asyncio.timeout(30):
                while True:
                    if await db.fetchval(WAITING_DETACH):
                        break
                    await asyncio.sleep(0.05)
            # The detach waits for the batch in flight; new writes do not wait for it.
            async with asyncio.timeout(10):
                written = await builder.posts(channel, [now])
        except BaseException:
            await in_flight.rollback()
            running.cancel()
            raise
        await in_flight.commit()
        report = await running

    assert f"posts_p{ago(now, days=33):%Y%m%d}" in report.partitions_dropped
    assert not await builder.partition_exists("posts", ago(now, days=33))
    assert (await builder.rows_of(written))["posts"] == 1
    assert uuid.UUID(int=0) != written[0].post_id


async def test_a_detach_interrupted_half_way_is_finished_by_the_next_run(
    builder: Builder, run: Run, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel()
    await builder.posts(channel, [ago(now, days=34), ago(now, days=35)])
    pending, detached = f"posts_p{ago(now, days=34):%Y%m%d}", f"posts_p{ago(now, days=35):%Y%m%d}"
    # A run killed between DETACH and DROP leaves a plain table behind.
    await db.execute(f'ALTER TABLE posts DETACH PARTITION "{detached}"')
    # A run killed while DETACH … CONCURRENTLY waited leaves the partition "pending".
    async with db.acquire() as fanout, db.acquire() as retention:
        in_flight = fanout.transaction()
        await in_flight.start()
        await fanout.execute("SELECT 1 FROM posts WHERE channel_id = $1", channel)
        detach = asyncio.create_task(
            retention.execute(f'ALTER TABLE "posts" DETACH PARTITION "{pending}" CONCURRENTLY')
        )
        async with asyncio.timeout(30):
            while True:
                if await db.fetchval(WAITING_DETACH):
                    break
                await asyncio.sleep(0.05)
        await db.execute("SELECT pg_cancel_backend($1)", retention.get_server_pid())
        with contextlib.suppress(asyncpg.QueryCanceledError):
            await detach
        await in_flight.rollback()
    assert await db.fetchval(
        "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = $1::regclass", pending
    )

    report = await run(now)

    assert {pending, detached} <= set(report.partitions_dropped)
    assert not await builder.partition_exists("posts", ago(now, days=34))
    assert not await builder.partition_exists("posts", ago(now, days=35))
