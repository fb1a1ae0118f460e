"""Fan-out carries a post's `silent` and `priority` from `post.published` into its
`live.post_visible` (push learns of posts from the live topic alone); a record written
before those fields existed reads as a normal, pushed post."""

from __future__ import annotations

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from shared.topics import POSTS
from tests.integration.fanout.conftest import Fanout
from tests.integration.fanout.helpers import make_channel, published, send, wait_for
from tests.integration.fanout.test_posts import _live_events
from tests.support.stack import StackSlice


async def test_live_event_carries_silent_and_priority(
    db: asyncpg.Pool, stack: StackSlice, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    channel_id = await make_channel(db, followers=3)
    alert, silent, old = published(channel_id), published(channel_id), published(channel_id)
    alert = alert.model_copy(
        update={"payload": alert.payload.model_copy(update={"priority": "alert"})}
    )
    silent = silent.model_copy(
        update={"payload": silent.payload.model_copy(update={"silent": True})}
    )
    # As the publisher wrote it before the fields existed: neither key in the payload.
    old_raw = orjson.loads(old.encode())
    del old_raw["payload"]["silent"], old_raw["payload"]["priority"]
    await send(
        producer, fanout5k.topic(POSTS.name), channel_id, alert, silent, orjson.dumps(old_raw)
    )

    events = await wait_for(
        lambda: _live_events(stack, fanout5k, channel_id),
        lambda evs: sum(e["type"] == "live.post_visible" for e in evs) == 3,
        what="three live.post_visible events",
    )
    flags = {
        e["payload"]["post_id"]: (e["payload"]["silent"], e["payload"]["priority"])
        for e in events
        if e["type"] == "live.post_visible"
    }
    assert flags == {
        str(alert.payload.post_id): (False, "alert"),
        str(silent.payload.post_id): (True, "normal"),
        str(old.payload.post_id): (False, "normal"),
    }
    # The live topic never carries who wrote a post.
    assert all("author_id" not in e["payload"] for e in events)
