"""The fan-out through a database failover: its connection terminated in the middle of a
batch's transaction, and then only a read-only server (a demoted primary) to talk to.
The batch is retried, never dead-lettered, and every post lands exactly once, with
contiguous seqs and one feed row per follower.

The fan-out runs on a database of its own here, so that making it read-only (as every
new session of it then sees it) touches no other test.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from shared.db.pool import create_pool
from shared.topics import POSTS
from tests.integration.fanout.conftest import Fanout
from tests.integration.fanout.helpers import make_channel, published, send, wait_for
from tests.support.databases import (
    extra_database,
    lock_waiters,
    set_read_only,
    terminate_backends,
)
from tests.support.stack import StackSlice

FOLLOWERS = 3


async def _seqs(db: asyncpg.Pool, channel_id: UUID) -> list[int]:
    rows = await db.fetch("SELECT seq FROM posts WHERE channel_id = $1 ORDER BY seq", channel_id)
    return [r["seq"] for r in rows]


async def _metrics(fanout: Fanout) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{fanout.process.base_url}/metrics")).text


def _retries(metrics: str) -> float:
    """herald_fanout_batch_retries_total of the posts topic (0 before the first)."""
    for line in metrics.splitlines():
        if line.startswith("herald_fanout_batch_retries_total{") and "posts" in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_batch_cut_mid_transaction_is_retried_and_every_post_lands_once(
    stack: StackSlice, make_fanout: Callable[..., Fanout], producer: AIOKafkaProducer
) -> None:
    app_name = f"herald-fanout-failover-{uuid4().hex[:8]}"
    async with extra_database(stack, "fanout_failover") as url:
        fanout = make_fanout(HERALD_DATABASE_URL=f"{url}?application_name={app_name}")
        await fanout.process.start()
        await _run(stack, url, fanout, app_name, producer)


async def _run(
    stack: StackSlice, url: str, fanout: Fanout, app_name: str, producer: AIOKafkaProducer
) -> None:
    topic = fanout.topic(POSTS.name)
    db = await create_pool(stack.settings(), url=url, min_size=2, max_size=2)
    admin = await asyncpg.connect(stack.admin_database_url)
    try:
        channel_id = await make_channel(db, followers=FOLLOWERS)
        # The batch's transaction waits for the channel row (seqs are assigned under its
        # lock) while this transaction holds it: the batch is in flight, uncommitted.
        async with db.acquire() as blocker:
            locked = blocker.transaction()
            await locked.start()
            await blocker.execute(
                "SELECT 1 FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id
            )
            first = [published(channel_id, f"held {i}") for i in range(5)]
            await send(producer, topic, channel_id, *first)
            await wait_for(
                lambda: lock_waiters(admin, app_name),
                lambda n: n > 0,
                what="the batch waiting on the lock",
            )
            # The primary goes away under the batch: every connection of the fan-out.
            assert await terminate_backends(admin, app_name) >= 1
            await wait_for(
                lambda: _metrics(fanout),
                lambda text: _retries(text) >= 1,
                what="the cut batch retried",
            )
            await locked.rollback()

        seqs = await wait_for(lambda: _seqs(db, channel_id), lambda s: len(s) >= 5, what="held")
        assert seqs == [1, 2, 3, 4, 5]

        # Then the only server is read-only for a while (the old primary back as a
        # standby): new connections are refused, so the next batch waits it out.
        await set_read_only(admin, url, True)
        try:
            assert await terminate_backends(admin, app_name) >= 1
            retries_before = _retries(await _metrics(fanout))
            during = [published(channel_id, f"during {i}") for i in range(5)]
            await send(producer, topic, channel_id, *during)
            await wait_for(
                lambda: _metrics(fanout),
                lambda text: _retries(text) >= retries_before + 2,
                what="the batch retried against the read-only server",
            )
            assert await _seqs(db, channel_id) == [1, 2, 3, 4, 5]
        finally:
            await set_read_only(admin, url, False)

        seqs = await wait_for(lambda: _seqs(db, channel_id), lambda s: len(s) >= 10, what="all")
        assert seqs == list(range(1, 11))
        ids = await db.fetch(
            "SELECT post_id FROM posts WHERE channel_id = $1 ORDER BY seq", channel_id
        )
        assert [r["post_id"] for r in ids] == [p.payload.post_id for p in first + during]
        feed = await db.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT (account_id, post_id)) AS d"
            " FROM feed_items WHERE channel_id = $1",
            channel_id,
        )
        assert (feed["n"], feed["d"]) == (10 * FOLLOWERS, 10 * FOLLOWERS)
        metrics = await _metrics(fanout)
        # Nothing was dead-lettered or counted as a failed record along the way.
        assert "herald_dlq_messages_total{" not in metrics
        assert "herald_fanout_records_failed_total{" not in metrics
    finally:
        fanout.process.stop()
        await admin.close()
        await db.close()
