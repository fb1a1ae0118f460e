"""A suspension seen from the feed: once an operator suspends a channel, every read path
answers 404 for it or leaves it out (card, history, media, directory, follow, updates,
timeline), a follower's open stream stops receiving it (even a post the publisher
accepted just before and fan-out applied after), its admins see why and may appeal; a
restore brings everything back (a reconnected stream receives again). The verified badge
shows on the card. Real publisher, fan-out, feed, Kafka and Postgres."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events.live import LIVE_EVENTS, POST_VISIBLE_EVENTS
from shared.producer import ProducerHolder
from shared.topics import LIVE
from tests.integration.feed.builder import Publisher, eventually, text_body, wait_post_visible
from tests.integration.feed.sse import SseEvent, SseReader, is_post
from tests.integration.publisher.conftest import channel_body, image_bytes
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth, operator_auth

OPERATOR = operator_auth("op-suspension")


@pytest.fixture
async def pub(publisher: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as http:
        yield http


async def _channel(pub: httpx.AsyncClient, owner: str) -> tuple[UUID, str]:
    body = channel_body()
    created = await pub.post("/v1/channels", json=body, headers=auth(owner))
    assert created.status_code == 201, created.text
    return UUID(created.json()["channel_id"]), body["handle"]


async def _post(pub: httpx.AsyncClient, channel_id: UUID, owner: str, body: Any) -> httpx.Response:
    return await pub.post(f"/v1/channels/{channel_id}/posts", json=body, headers=auth(owner))


def _text(text: str) -> dict[str, str]:
    """A text post as the publisher's API takes it."""
    return {"type": "text", "text": text}


async def _published(pub: httpx.AsyncClient, channel_id: UUID, owner: str, text: str) -> UUID:
    accepted = await _post(pub, channel_id, owner, _text(text))
    assert accepted.status_code == 202, accepted.text
    return UUID(accepted.json()["post_id"])


async def _listed(fd: httpx.AsyncClient, handle: str, channel_id: UUID) -> bool:
    page = (await fd.get("/v1/directory", params={"q": handle})).json()
    return str(channel_id) in {item["channel_id"] for item in page["items"]}


async def _on_live_topic(stack: StackSlice, channel_id: UUID, post_id: UUID) -> None:
    """Wait until fan-out has put the post's live event on the live topic."""
    topic = stack.topic(LIVE.name)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(LIVE.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the post's live event never came"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key != str(channel_id).encode():
                        continue
                    event = LIVE_EVENTS.decode(record.value)
                    if isinstance(event, POST_VISIBLE_EVENTS) and event.payload.post_id == post_id:
                        return
    finally:
        await consumer.stop()


async def test_suspension_hides_the_channel_everywhere_and_a_restore_brings_it_back(
    pub: httpx.AsyncClient,
    client: httpx.AsyncClient,
    fanout: ServiceProcess,
    posts_producer: ProducerHolder,
    stack: StackSlice,
) -> None:
    fd = client
    owner = f"owner-{uuid.uuid4().hex[:10]}"
    channel_id, handle = await _channel(pub, owner)
    control_id, _ = await _channel(pub, owner)
    follower = auth(f"follower-{uuid.uuid4().hex[:10]}")
    for target in (channel_id, control_id):
        assert (await fd.put(f"/v1/channels/{target}/follow", headers=follower)).status_code == 200

    uploaded = await pub.post(
        f"/v1/channels/{channel_id}/media",
        files={"file": ("p.png", image_bytes("PNG"), "image/png")},
        headers=auth(owner),
    )
    assert uploaded.status_code == 201, uploaded.text
    media_id = uploaded.json()["media_id"]
    photo = await _post(pub, channel_id, owner, {"type": "photo", "media_id": media_id})
    assert photo.status_code == 202, photo.text
    await wait_post_visible(fd, channel_id, UUID(photo.json()["post_id"]))

    # Before: listed, card, history and media served; the badge comes and goes on the card.
    assert await eventually(lambda: _listed(fd, handle, channel_id), what="listed")
    card = await fd.get(f"/v1/channels/{channel_id}")
    assert card.status_code == 200 and card.json()["verified"] is False
    verify = f"/v1/operator/channels/{channel_id}/verification"
    assert (await pub.put(verify, headers=OPERATOR)).status_code == 204
    assert (await fd.get(f"/v1/channels/{handle}")).json()["verified"] is True
    assert (await fd.get(f"/v1/media/{media_id}")).status_code == 200

    async with SseReader(fd, follower) as stream:
        first = await _published(pub, channel_id, owner, "before the suspension")
        assert (await stream.next(is_post)).data["post_id"] == str(first)

        reason = "Poses as the health ministry"
        suspension = f"/v1/operator/channels/{channel_id}/suspension"
        suspended = await pub.put(suspension, json={"reason": reason}, headers=OPERATOR)
        assert suspended.status_code == 204, suspended.text

        # Every read path: 404, or the channel left out.
        stranger = auth(f"stranger-{uuid.uuid4().hex[:10]}")
        for path in (
            f"/v1/channels/{channel_id}",
            f"/v1/channels/{handle}",
            f"/v1/channels/{channel_id}/posts",
            f"/v1/media/{media_id}",
        ):
            assert (await fd.get(path, headers=follower)).status_code == 404, path
        assert not await _listed(fd, handle, channel_id)
        follow = await fd.put(f"/v1/channels/{channel_id}/follow", headers=stranger)
        assert follow.status_code == 404
        for path in ("/v1/updates", "/v1/timeline", "/v1/me/follows"):
            answer = await fd.get(path, headers=follower)
            assert answer.status_code == 200 and str(channel_id) not in answer.text, path
        # The publisher refuses the channel's admins any new post.
        refused = await _post(pub, channel_id, owner, _text("while suspended"))
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("channel-suspended")

        # A post accepted just before the suspension, applied by fan-out after it, reaches
        # the topic but not the stream; the other channel's next post still does.
        late = await Publisher(posts_producer, stack).publish(channel_id, text_body("late"))
        await _on_live_topic(stack, channel_id, late)
        control = await _published(pub, control_id, owner, "the other channel")
        seen: list[SseEvent] = []
        while not seen or seen[-1].data.get("post_id") != str(control):
            seen.append(await stream.next(lambda e: "post_id" in e.data))
        assert str(late) not in {e.data["post_id"] for e in seen}
        assert all(e.data.get("channel_id") != str(channel_id) for e in seen)

    # The admin sees why and appeals; the operator restores.
    view = (await pub.get(f"/v1/channels/{channel_id}", headers=auth(owner))).json()
    assert view["status"] == "suspended" and view["suspension"]["reason"] == reason
    appeal = await pub.post(
        f"/v1/channels/{channel_id}/appeal",
        json={"text": "We are the ministry"},
        headers=auth(owner),
    )
    assert appeal.status_code == 201, appeal.text
    decided = await pub.post(
        f"/v1/operator/appeals/{appeal.json()['appeal_id']}",
        json={"decision": "restore"},
        headers=OPERATOR,
    )
    assert decided.status_code == 204

    # Everything is back, and a reconnected stream receives the channel again.
    assert (await fd.get(f"/v1/channels/{channel_id}")).json()["verified"] is True
    history = (await fd.get(f"/v1/channels/{channel_id}/posts", headers=follower)).json()
    assert str(first) in {p["post_id"] for p in history["items"]}
    assert (await fd.get(f"/v1/media/{media_id}")).status_code == 200
    assert await _listed(fd, handle, channel_id)
    updates = await fd.get("/v1/updates", headers=follower)
    assert str(channel_id) in updates.text
    async with SseReader(fd, follower) as stream:
        again = await _published(pub, channel_id, owner, "back")
        assert (await stream.next(lambda e: e.data.get("post_id") == str(again))).event == "post"
