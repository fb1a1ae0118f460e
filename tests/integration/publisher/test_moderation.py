"""Moderation on the publisher: operators verify, suspend and restore channels and decide
appeals; a suspended channel's owner sees why and may appeal once; every operator action
and admin change lands in the channel's audit log, which operators and the channel's
owner read (nobody else), and which names no operator. Real publisher, Kafka, Postgres."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.retention.audit import expire_audit_log
from shared.events.live import LIVE_EVENTS, LiveChannelStatus
from shared.topics import LIVE
from tests.integration.publisher.conftest import Channel, account, create_channel
from tests.support.stack import StackSlice
from tests.support.tokens import auth, operator_auth

TEXT = {"type": "text", "text": "Clinic opening hours"}
OPERATOR = account("op")


def op_url(channel: Channel, what: str) -> str:
    return f"/v1/operator/channels/{channel.channel_id}/{what}"


async def admin_view(client: httpx.AsyncClient, channel: Channel) -> dict[str, Any]:
    response = await client.get(channel.url(), headers=auth(channel.owner))
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def audit_actions(client: httpx.AsyncClient, channel: Channel) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/operator/audit",
        params={"channel_id": channel.channel_id},
        headers=operator_auth(OPERATOR),
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries[::-1]  # oldest first


async def test_verification_badge_is_set_and_removed_by_operators_only(
    client: httpx.AsyncClient,
) -> None:
    channel = await create_channel(client)
    owner = auth(channel.owner)
    # The channel's own owner is no operator: the route does not exist for them.
    assert (await client.put(op_url(channel, "verification"), headers=owner)).status_code == 404
    assert (await admin_view(client, channel))["verified"] is False

    for _ in range(2):  # idempotent
        put = await client.put(op_url(channel, "verification"), headers=operator_auth(OPERATOR))
        assert put.status_code == 204, put.text
    assert (await admin_view(client, channel))["verified"] is True
    gone = await client.delete(op_url(channel, "verification"), headers=operator_auth(OPERATOR))
    assert gone.status_code == 204
    assert (await admin_view(client, channel))["verified"] is False

    unknown = "/v1/operator/channels/0193a1b2-0000-7000-8000-00000000dead/verification"
    assert (await client.put(unknown, headers=operator_auth(OPERATOR))).status_code == 404

    actions = [
        (e["action"], e["actor_role"], e["actor_id"]) for e in await audit_actions(client, channel)
    ]
    # A repeated PUT changes nothing, so it records nothing; no operator is named.
    assert actions == [("verified", "operator", None), ("unverified", "operator", None)]


async def test_suspension_appeal_and_restore(
    client: httpx.AsyncClient, stack: StackSlice, db: asyncpg.Pool
) -> None:
    channel = await create_channel(client)
    owner = auth(channel.owner)
    helper = account("helper")
    assert (await client.put(channel.url(f"/admins/{helper}"), headers=owner)).status_code == 201
    op = operator_auth(OPERATOR)

    # Bad input changes nothing; an active channel has nothing to appeal.
    bad = await client.put(op_url(channel, "suspension"), json={}, headers=op)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert (await admin_view(client, channel))["status"] == "active"
    early = await client.post(channel.url("/appeal"), json={"text": "why?"}, headers=owner)
    assert early.status_code == 409 and early.json()["type"].endswith("not-suspended")

    reason = "Impersonates the ministry of health"
    suspended = await client.put(op_url(channel, "suspension"), json={"reason": reason}, headers=op)
    assert suspended.status_code == 204, suspended.text
    assert await _status_events(stack, channel.channel_id) == ["suspended"]

    # The admins see why; every change is refused, publishing included.
    view = await admin_view(client, channel)
    assert view["status"] == "suspended"
    assert view["suspension"]["reason"] == reason
    assert view["suspension"]["appeal"] is None
    helper_view = await client.get(channel.url(), headers=auth(helper))
    assert helper_view.json()["suspension"]["reason"] == reason
    post = await client.post(channel.url("/posts"), json=TEXT, headers=owner)
    assert post.status_code == 409 and post.json()["type"].endswith("channel-suspended")
    edit = await client.patch(channel.url(), json={"name": "Renamed"}, headers=owner)
    assert edit.status_code == 409
    # Strangers still learn nothing.
    assert (await client.get(channel.url(), headers=auth(account("x")))).status_code == 404

    # One appeal, by the owner.
    by_admin = await client.post(channel.url("/appeal"), json={"text": "no"}, headers=auth(helper))
    assert by_admin.status_code == 403
    filed = await client.post(
        channel.url("/appeal"), json={"text": "We are the ministry: see our site"}, headers=owner
    )
    assert filed.status_code == 201, filed.text
    appeal_id = filed.json()["appeal_id"]
    again = await client.post(channel.url("/appeal"), json={"text": "again"}, headers=owner)
    assert again.status_code == 409 and again.json()["type"].endswith("appeal-exists")
    appeal = (await admin_view(client, channel))["suspension"]["appeal"]
    assert appeal["appeal_id"] == appeal_id and appeal["status"] == "open"

    listed = (await client.get("/v1/operator/appeals", headers=op)).json()["appeals"]
    mine = [a for a in listed if a["appeal_id"] == appeal_id]
    assert mine and mine[0]["reason"] == reason and mine[0]["channel_id"] == channel.channel_id
    assert (await client.get("/v1/operator/appeals", headers=owner)).status_code == 404
    bad_decision = await client.post(
        f"/v1/operator/appeals/{appeal_id}", json={"decision": "maybe"}, headers=op
    )
    assert bad_decision.status_code == 422

    restored = await client.post(
        f"/v1/operator/appeals/{appeal_id}", json={"decision": "restore"}, headers=op
    )
    assert restored.status_code == 204, restored.text
    twice = await client.post(
        f"/v1/operator/appeals/{appeal_id}", json={"decision": "uphold"}, headers=op
    )
    assert twice.status_code == 409
    assert await _status_events(stack, channel.channel_id) == ["suspended", "active"]
    view = await admin_view(client, channel)
    assert view["status"] == "active" and view["suspension"] is None
    listed = (await client.get("/v1/operator/appeals", headers=op)).json()["appeals"]
    assert appeal_id not in {a["appeal_id"] for a in listed}
    assert (await client.post(channel.url("/posts"), json=TEXT, headers=owner)).status_code == 202

    # A second suspension may be appealed again; upheld, it stays suspended.
    await client.put(op_url(channel, "suspension"), json={"reason": "spam"}, headers=op)
    second = await client.post(channel.url("/appeal"), json={"text": "please"}, headers=owner)
    assert second.status_code == 201
    upheld = await client.post(
        f"/v1/operator/appeals/{second.json()['appeal_id']}",
        json={"decision": "uphold"},
        headers=op,
    )
    assert upheld.status_code == 204
    view = await admin_view(client, channel)
    assert view["status"] == "suspended" and view["suspension"]["appeal"]["status"] == "upheld"
    third = await client.post(channel.url("/appeal"), json={"text": "again"}, headers=owner)
    assert third.status_code == 409
    assert (await client.delete(op_url(channel, "suspension"), headers=op)).status_code == 204
    assert (await admin_view(client, channel))["status"] == "active"

    actions = [e["action"] for e in await audit_actions(client, channel)]
    assert actions == [
        "admin.added",
        "suspended",
        "appeal.filed",
        "appeal.restored",
        "restored",
        "suspended",
        "appeal.filed",
        "appeal.upheld",
        "restored",
    ]
    # Append-only: the table refuses updates.
    try:
        await db.execute(
            "UPDATE audit_log SET action = 'x' WHERE channel_id = $1::uuid", channel.channel_id
        )
    except asyncpg.RaiseError as exc:
        assert "append-only" in str(exc)
    else:
        raise AssertionError("audit_log accepted an update")


async def test_audit_log_records_admin_changes_and_only_operators_and_the_owner_read_it(
    client: httpx.AsyncClient,
) -> None:
    channel = await create_channel(client)
    owner = auth(channel.owner)
    helper, follower = account("helper"), account("follower")
    assert (await client.put(channel.url(f"/admins/{helper}"), headers=owner)).status_code == 201
    edited = await client.patch(channel.url(), json={"name": "Renamed"}, headers=auth(helper))
    assert edited.status_code == 200
    settings = await client.patch(
        channel.url(), json={"settings": {"retention_days": 7}}, headers=owner
    )
    assert settings.status_code == 200, settings.text
    post = await client.post(channel.url("/posts"), json=TEXT, headers=auth(helper))
    post_id = post.json()["post_id"]
    deleted = await client.delete(channel.url(f"/posts/{post_id}"), headers=auth(helper))
    assert deleted.status_code == 202
    assert (await client.delete(channel.url(f"/admins/{helper}"), headers=owner)).status_code == 204
    granted = await client.put(op_url(channel, "alerts"), headers=operator_auth(OPERATOR))
    assert granted.status_code == 204

    own = await client.get(channel.url("/audit"), headers=owner)
    assert own.status_code == 200, own.text
    entries = own.json()["entries"][::-1]
    assert [(e["action"], e["actor_role"], e["actor_id"]) for e in entries] == [
        ("admin.added", "owner", channel.owner),
        ("channel.edited", "admin", helper),
        ("channel.edited", "owner", channel.owner),
        ("post.deleted", "admin", helper),
        ("admin.removed", "owner", channel.owner),
        ("alerts.granted", "operator", None),
    ]
    assert entries[1]["details"] == {"fields": ["name"]}
    assert entries[2]["details"] == {"fields": ["settings"]}
    assert entries[3]["details"] == {"post_id": post_id}
    assert await audit_actions(client, channel) == own.json()["entries"][::-1]
    # The follower's id appears nowhere: only admins act on a channel.
    assert follower not in own.text

    # Nobody else reads it: an admin is told it is the owner's, others that it is not there.
    other = await create_channel(client)
    assert (
        await client.put(other.url(f"/admins/{helper}"), headers=auth(other.owner))
    ).status_code == 201
    assert (await client.get(other.url("/audit"), headers=auth(helper))).status_code == 403
    for who in (follower, other.owner):
        assert (await client.get(channel.url("/audit"), headers=auth(who))).status_code == 404
    assert (
        await client.get(
            "/v1/operator/audit", params={"channel_id": channel.channel_id}, headers=owner
        )
    ).status_code == 404

    # Deleting the channel is recorded too, and stays readable by operators.
    assert (await client.delete(channel.url(), headers=owner)).status_code == 204
    assert (await audit_actions(client, channel))[-1]["action"] == "channel.deleted"


async def _status_events(stack: StackSlice, channel_id: str) -> list[str]:
    """The statuses of `live.channel_status` events of the channel on the live topic, in
    order (read from the start until no more arrive for a moment)."""
    topic = stack.topic(LIVE.name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    statuses: list[str] = []
    try:
        partitions = [TopicPartition(topic, p) for p in range(LIVE.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 30
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key != channel_id.encode():
                        continue
                    event = LIVE_EVENTS.decode(record.value)
                    if isinstance(event, LiveChannelStatus):
                        statuses.append(event.payload.status)
    finally:
        await consumer.stop()
    return statuses


async def test_audit_entries_expire_after_180_days(db: asyncpg.Pool) -> None:
    channel_id = uuid.uuid4()
    now = datetime.now(UTC)
    for action, age in (("old", timedelta(days=181)), ("kept", timedelta(days=179))):
        await db.execute(
            """
            INSERT INTO audit_log (audit_id, channel_id, at, actor_role, action)
            VALUES ($1, $2, $3, 'operator', $4)
            """,
            uuid.uuid4(),
            channel_id,
            now - age,
            action,
        )
    # A batch of one: the expiry goes on until a batch comes back short.
    assert await expire_audit_log(db, now, 1) == 1
    actions = await db.fetch("SELECT action FROM audit_log WHERE channel_id = $1", channel_id)
    assert [row["action"] for row in actions] == ["kept"]
    assert await expire_audit_log(db, now, 1) == 0
