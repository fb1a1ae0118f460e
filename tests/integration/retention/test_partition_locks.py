"""Dropping an expired partition never stops fan-out from writing posts."""

from __future__ import annotations

import asyncio
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
