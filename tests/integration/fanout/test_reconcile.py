"""Rows whose interaction event was lost (the feed wrote the row, then the broker was
down) are still counted, once, by the fan-out's reconciliation sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.topics import POSTS
from tests.integration.fanout.conftest import Fanout
from tests.integration.fanout.helpers import make_channel, published, send, wait_for


async def test_rows_no_event_announced_are_counted_once(
    db: asyncpg.Pool, make_fanout: Callable[..., Fanout], producer: AIOKafkaProducer
) -> None:
    fanout = make_fanout(HERALD_FANOUT_RECONCILE_INTERVAL_S="0.5")
    await fanout.process.start()
    channel_id = await make_channel(db, followers=0)
    post = published(channel_id)
    post_id = post.payload.post_id
    await send(producer, fanout.topic(POSTS.name), channel_id, post)
    await wait_for(
        lambda: db.fetchval("SELECT count(*) FROM posts WHERE post_id = $1", post_id),
        lambda n: n == 1,
    )
    # What the feed writes before emitting; here no event follows. Written a minute ago,
    # so the sweep's grace for events still on their way has passed.
    await db.executemany(
        """INSERT INTO reactions (post_id, account_id, channel_id, emoji, updated_at)
           VALUES ($1, $2, $3, $4, now() - interval '1 minute')""",
        [(post_id, f"lost-{n}", channel_id, "👍" if n < 3 else "❤️") for n in range(4)],
    )
    await db.execute(
        """INSERT INTO follows (account_id, channel_id, active) VALUES ('lost-follow', $1, true)""",
        channel_id,
    )

    async def counts() -> dict[str, int]:
        rows = await db.fetch("SELECT key, count FROM post_counters WHERE post_id = $1", post_id)
        return {r["key"]: r["count"] for r in rows}

    assert await wait_for(counts, lambda c: len(c) == 2, what="reactions counted") == {
        "👍": 3,
        "❤️": 1,
    }
    followers = await wait_for(
        lambda: db.fetchval(
            "SELECT followers FROM channel_stats WHERE channel_id = $1", channel_id
        ),
        lambda n: n == 1,
        what="follower counted",
    )
    assert followers == 1
    # Nothing is left to count, and later rounds change nothing.
    uncounted = await db.fetchval(
        """SELECT count(*) FROM reactions
           WHERE post_id = $1 AND counted_emoji IS DISTINCT FROM emoji""",
        post_id,
    )
    assert uncounted == 0
    await asyncio.sleep(2.0)  # several more sweep rounds
    assert await counts() == {"👍": 3, "❤️": 1}
