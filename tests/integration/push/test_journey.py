"""A follower's devices get a post by push: subscribe through the feed API, follow, publish
on the publisher; fan-out and the push service (real processes) deliver to a loopback
push receiver that checks VAPID and decrypts every message like a push service and a
browser would."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from shared.events.push import PushShard, PushShardV1
from shared.topics import LIVE, PUSH
from tests.integration.publisher.conftest import Channel, account, create_channel
from tests.integration.push.conftest import INSECURE, eventually, metric, metrics_of
from tests.support.processes import ServiceProcess
from tests.support.push_receiver import HANG, PushReceiver, Received, Reply
from tests.support.stack import StackSlice
from tests.support.tokens import auth, operator_auth

PAYLOAD_FIELDS = {
    "type",
    "channel_id",
    "channel_name",
    "post_id",
    "seq",
    "preview",
    "priority",
    "expires_at",
}


async def publish(http: httpx.AsyncClient, channel: Channel, **fields: Any) -> str:
    response = await http.post(
        channel.url("/posts"),
        json={"type": "text", "text": "Clinic open until 8pm", **fields},
        headers=auth(channel.owner),
    )
    assert response.status_code == 202, response.text
    post_id: str = response.json()["post_id"]
    return post_id


async def arrived(receiver: PushReceiver, device: str, post_id: str) -> Received:
    async def check() -> bool:
        return any(m.json()["post_id"] == post_id for m in receiver.received_by(device))

    try:
        await eventually(check, f"{post_id} at {device}")
    except AssertionError as exc:
        attempts = [(a.status, a.error) for a in receiver.attempts_at(device)]
        raise AssertionError(f"{exc}; attempts at {device}: {attempts}") from None
    return next(m for m in receiver.received_by(device) if m.json()["post_id"] == post_id)


async def send_raw(stack: StackSlice, topic: str, key: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(stack.topic(topic), value, key=key.encode())
    finally:
        await producer.stop()


async def test_push_journey(
    stack: StackSlice,
    publisher: ServiceProcess,
    fanout: ServiceProcess,
    push_feed: ServiceProcess,
    receiver: PushReceiver,
    spawn_service: Callable[..., ServiceProcess],
    db: asyncpg.Pool,
) -> None:
    push = await spawn_service("push", **INSECURE).start()
    pub = httpx.AsyncClient(base_url=publisher.base_url, timeout=20)
    feed = httpx.AsyncClient(base_url=push_feed.base_url, timeout=20)
    follower = account("follower")
    phone, laptop = f"phone-{uuid.uuid4().hex[:8]}", f"laptop-{uuid.uuid4().hex[:8]}"
    try:
        channel = await create_channel(pub)
        # Two devices of one follower, subscribed through the feed API.
        for device in (phone, laptop):
            response = await feed.put(
                "/v1/me/push-subscriptions",
                json=receiver.new_subscription(device),
                headers=auth(follower),
            )
            assert response.status_code == 201, response.text
        followed = await feed.put(channel.url("/follow"), json={}, headers=auth(follower))
        assert followed.status_code in (200, 201), followed.text

        # Ahead of the channel's first post on its live partition: a post-visible event
        # that does not decode (poison: DLQ, then keep going) and a type push does not
        # know (ignored); a broken shard record on the push topic (DLQ).
        await send_raw(
            stack,
            LIVE.name,
            channel.channel_id,
            b'{"type": "live.post_visible", "version": 1, "payload": {}}',
            b'{"type": "live.something_new", "version": 1, "payload": {}}',
        )
        await send_raw(stack, PUSH.name, f"{uuid.uuid4()}:0", b"not a shard")

        # A post reaches both devices with exactly the contract's payload.
        post_id = await publish(pub, channel, text="Clinic open until 8pm " + "x" * 200)
        await arrived(receiver, phone, post_id)
        row = await db.fetchrow(
            "SELECT seq, expires_at FROM posts WHERE post_id = $1", uuid.UUID(post_id)
        )
        assert row is not None
        expected = {
            "type": "post",
            "channel_id": channel.channel_id,
            "channel_name": "Public Health Updates",
            "post_id": post_id,
            "seq": row["seq"],
            "priority": "normal",
            "expires_at": row["expires_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        for device in (phone, laptop):
            message = await arrived(receiver, device, post_id)
            body = message.json()
            assert set(body) == PAYLOAD_FIELDS
            assert {k: body[k] for k in expected} == expected
            assert body["preview"].startswith("Clinic open until 8pm")
            assert len(body["preview"]) <= 120
            assert message.urgency == "normal"
            topic = base64.urlsafe_b64encode(uuid.UUID(channel.channel_id).bytes).rstrip(b"=")
            assert message.topic == topic.decode()
            assert 0 < message.ttl <= 28 * 24 * 3600

        # A silent post pushes nothing.
        silent_id = await publish(pub, channel, silent=True)

        async def silent_seen() -> bool:
            text = await metrics_of(push)
            return metric(text, "herald_push_posts_planned_total", outcome="silent") >= 1

        await eventually(silent_seen, "the silent post planned")

        # Muted (alerts kept on): a normal post reaches nobody…
        muted = await feed.patch(
            channel.url("/follow"), json={"muted": True, "alerts": True}, headers=auth(follower)
        )
        assert muted.status_code == 200, muted.text
        muted_id = await publish(pub, channel)

        async def muted_seen() -> bool:
            text = await metrics_of(push)
            return metric(text, "herald_push_posts_planned_total", outcome="no_audience") >= 1

        await eventually(muted_seen, "the muted post planned")

        # …but an alert does, urgent and with no Topic (nothing may replace it).
        granted = await pub.put(
            f"/v1/operator/channels/{channel.channel_id}/alerts",
            headers=operator_auth(account("operator")),
        )
        assert granted.status_code == 204, granted.text
        alert_id = await publish(pub, channel, text="Flood warning", priority="alert")
        for device in (phone, laptop):
            message = await arrived(receiver, device, alert_id)
            assert message.urgency == "high"
            assert message.topic is None
            assert message.json()["priority"] == "alert"
        # The silent and muted posts were planned before the alert (same live partition,
        # handled in order) with no shards: neither was ever sent.
        for post in (silent_id, muted_id):
            assert not [m for m in receiver.received if m.json()["post_id"] == post]

        # 410 from the laptop's push service: its subscription is deleted; 429 on the
        # phone: retried after Retry-After, then delivered.
        unmuted = await feed.patch(
            channel.url("/follow"), json={"muted": False}, headers=auth(follower)
        )
        assert unmuted.status_code == 200, unmuted.text
        receiver.set_replies(laptop, Reply(410))
        receiver.set_replies(phone, Reply(429, retry_after="1"))
        last_id = await publish(pub, channel)
        await arrived(receiver, phone, last_id)
        statuses = [a.status for a in receiver.attempts_at(phone)][-2:]
        assert statuses == [429, 201]
        first, second = receiver.attempts_at(phone)[-2:]
        assert second.at - first.at >= 0.9  # Retry-After: 1 honoured

        async def laptop_gone() -> bool:
            listed = await feed.get("/v1/me/push-subscriptions", headers=auth(follower))
            return len(listed.json()) == 1

        await eventually(laptop_gone, "the gone subscription deleted")
        assert not [m for m in receiver.received_by(laptop) if m.json()["post_id"] == last_id]

        # A shard of a post deleted before it was sent (a late or redelivered record) is
        # dropped: nothing goes out.
        deleted = await pub.delete(channel.url(f"/posts/{last_id}"), headers=auth(channel.owner))
        assert deleted.status_code == 202, deleted.text

        async def post_deleted() -> bool:
            status = await db.fetchval(
                "SELECT status FROM posts WHERE post_id = $1", uuid.UUID(last_id)
            )
            return bool(status == "deleted")

        await eventually(post_deleted, "the post deleted")
        late = PushShard(
            payload=PushShardV1(
                post_id=uuid.UUID(last_id),
                channel_id=uuid.UUID(channel.channel_id),
                shard=0,
                shards=1,
            )
        )
        await send_raw(stack, PUSH.name, f"{last_id}:0", late.encode())

        async def dropped() -> bool:
            text = await metrics_of(push)
            return metric(text, "herald_push_shards_total", outcome="dropped") >= 1

        await eventually(dropped, "the late shard dropped")
        assert len([m for m in receiver.received_by(phone) if m.json()["post_id"] == last_id]) == 1

        # A push service that never answers does not hold back another host's pushes.
        other = account("follower")
        async with PushReceiver(receiver.application_server_key) as hanging:
            stuck = f"stuck-{uuid.uuid4().hex[:8]}"
            subscribed = await feed.put(
                "/v1/me/push-subscriptions",
                json=hanging.new_subscription(stuck),
                headers=auth(other),
            )
            assert subscribed.status_code == 201, subscribed.text
            hanging.set_replies(stuck, then=HANG)
            followed = await feed.put(channel.url("/follow"), json={}, headers=auth(other))
            assert followed.status_code in (200, 201), followed.text
            slow_id = await publish(pub, channel)
            await arrived(receiver, phone, slow_id)
            await hanging.wait_for_attempts(stuck, 1)
            assert [a.status for a in hanging.attempts_at(stuck)] == [None]  # still hanging

        async def dead_lettered() -> bool:
            text = await metrics_of(push)
            return [
                metric(text, "herald_dlq_messages_total", service="push", topic=topic)
                for topic in ("herald.live.v1", "herald.push.v1")
            ] == [1, 1]

        await eventually(dead_lettered, "one poison record per topic dead-lettered")

        # Privacy: no payload, push log line or push metric names the follower or a device.
        exposed = await metrics_of(push) + push.log_text()
        for message in receiver.received:
            exposed += message.plaintext.decode()
        for secret in (follower, other, phone, laptop, stuck):
            assert secret not in exposed
    finally:
        await pub.aclose()
        await feed.aclose()
