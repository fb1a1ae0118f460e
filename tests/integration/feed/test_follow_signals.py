"""Two feed processes: a follow or unfollow made through one reaches the account's open
stream on the other without a reconnect, and the live topic names the account only by an
HMAC tag."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import asyncpg
import httpx
import orjson
from aiokafka import TopicPartition

from services.feed.config import DEV_LIVE_SIGNAL_KEY
from shared.events.live import account_tag
from shared.kafka import make_consumer
from shared.topics import LIVE
from tests.integration.feed.builder import Publisher, create_channel, text_body
from tests.integration.feed.sse import SseEvent, SseReader, is_post
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


def post_of(channel_id: UUID) -> Callable[[SseEvent], bool]:
    return lambda e: is_post(e) and e.data["channel_id"] == str(channel_id)


async def test_follow_changes_through_one_feed_reach_a_stream_on_another(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    publish: Publisher,
    spawn_service: Callable[..., ServiceProcess],
    stack: StackSlice,
) -> None:
    feed_b = await spawn_service("feed").start()
    warmup = await create_channel(db, name="Already followed")
    news = await create_channel(db, name="Followed later, elsewhere")
    me, witness = "signal-follower", "signal-witness"
    assert (await client.put(f"/v1/channels/{warmup}/follow", headers=auth(me))).is_success
    assert (await client.put(f"/v1/channels/{news}/follow", headers=auth(witness))).is_success

    # The ticket comes from feed A and is redeemed by feed B.
    ticket = (await client.post("/v1/stream/tickets", headers=auth(me))).json()["ticket"]
    async with (
        httpx.AsyncClient(base_url=feed_b.base_url, timeout=10) as on_b,
        SseReader(on_b, {}, params={"ticket": ticket}) as mine,
        SseReader(on_b, auth(witness)) as theirs,
    ):
        assert (mine.status, theirs.status) == (200, 200)
        # B's live consumer is running: a post of a channel followed before the stream
        # opened arrives.
        first = await publish.publish(warmup, text_body("warming up"))
        assert (await mine.next(post_of(warmup))).data["post_id"] == str(first)

        # Followed through A after the stream on B opened: B's stream gets its posts.
        assert (await client.put(f"/v1/channels/{news}/follow", headers=auth(me))).is_success
        fresh = await publish.publish(news, text_body("hello new follower"))
        assert (await mine.next(is_post)).data["post_id"] == str(fresh)
        await theirs.next(post_of(news))

        # Unfollowed through A: B's stream stops getting them. The witness still follows;
        # once B delivered the post to the witness it would already be queued for me,
        # ahead of the marker published after it.
        assert (await client.delete(f"/v1/channels/{news}/follow", headers=auth(me))).is_success
        unseen = await publish.publish(news, text_body("not for the ex-follower"))
        assert (await theirs.next(post_of(news))).data["post_id"] == str(unseen)
        marker = await publish.publish(warmup, text_body("marker"))
        assert (await mine.next(is_post)).data["post_id"] == str(marker)

    signals = await _follow_signals(stack, news)
    assert [s["payload"]["following"] for s in signals] == [True, True, False]
    tags = {s["payload"]["account_tag"] for s in signals}
    assert tags == {account_tag(DEV_LIVE_SIGNAL_KEY, me), account_tag(DEV_LIVE_SIGNAL_KEY, witness)}
    raw = b"".join(orjson.dumps(s) for s in signals)
    assert me.encode() not in raw and witness.encode() not in raw


async def _follow_signals(stack: StackSlice, channel_id: UUID) -> list[dict]:  # type: ignore[type-arg]
    """The follow signals of a channel on the session's live topic, in order."""
    consumer = make_consumer(stack.settings(), [], None)
    await consumer.start()
    try:
        topic = stack.topic(LIVE.name)
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(partitions)
        found: list[dict] = []  # type: ignore[type-arg]
        async with asyncio.timeout(20):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=500)
                for record in (r for rs in batch.values() for r in rs):
                    event = orjson.loads(record.value)
                    if event["type"] == "live.follow_changed" and event["payload"][
                        "channel_id"
                    ] == str(channel_id):
                        assert record.key == str(channel_id).encode()
                        found.append(event)
        return found
    finally:
        await consumer.stop()
