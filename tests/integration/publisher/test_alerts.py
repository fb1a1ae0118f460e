"""The publisher side of push: an operator grants a channel alerts, admins publish silent
posts and alerts, and fan-out carries `silent`/`priority` to the live topic (which push
reads). Real publisher, fan-out, Kafka and Postgres."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.events.live import LIVE_EVENTS, POST_VISIBLE_EVENTS, PostVisibleV1, PostVisibleV2
from shared.topics import LIVE, POSTS
from tests.integration.publisher.conftest import Channel, PostsTopic, account, create_channel
from tests.integration.publisher.test_broker_brownout import delete_topic
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth, operator_auth

TEXT = {"type": "text", "text": "Boil water before drinking"}


def alerts_url(channel_id: str) -> str:
    return f"/v1/operator/channels/{channel_id}/alerts"


async def publish(
    client: httpx.AsyncClient,
    channel: Channel,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        channel.url("/posts"), json={**TEXT, **fields}, headers=headers or auth(channel.owner)
    )


async def live_posts(
    stack: StackSlice, channel_id: str, post_ids: set[str]
) -> dict[str, PostVisibleV1 | PostVisibleV2]:
    """The `live.post_visible` payloads of these posts, read from the session's live topic
    (waits until fan-out has emitted all of them)."""
    consumer = AIOKafkaConsumer(
        stack.topic(LIVE.name),
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, PostVisibleV1 | PostVisibleV2] = {}
    deadline = time.monotonic() + 60
    try:
        while set(found) != post_ids:
            assert time.monotonic() < deadline, f"live events seen: {sorted(found)}"
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if record.key != channel_id.encode():
                        continue
                    event = LIVE_EVENTS.decode(record.value)
                    if isinstance(event, POST_VISIBLE_EVENTS):
                        payload = event.payload
                        if str(payload.post_id) in post_ids:
                            found[str(payload.post_id)] = payload
        return found
    finally:
        await consumer.stop()


@pytest.fixture
async def alert_channel(client: httpx.AsyncClient) -> AsyncIterator[Channel]:
    """A channel an operator granted alerts."""
    channel = await create_channel(client)
    granted = await client.put(alerts_url(channel.channel_id), headers=operator_auth(account("op")))
    assert granted.status_code == 204, granted.text
    yield channel


async def test_operator_grants_alerts_and_the_alert_reaches_the_live_topic(
    client: httpx.AsyncClient, stack: StackSlice, fanout: ServiceProcess
) -> None:
    channel = await create_channel(client)
    refused = await publish(client, channel, priority="alert")
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/alerts-not-enabled")
    view = await client.get(channel.url(), headers=auth(channel.owner))
    assert view.json()["alerts_enabled"] is False

    granted = await client.put(alerts_url(channel.channel_id), headers=operator_auth("op-1"))
    assert granted.status_code == 204, granted.text
    view = await client.get(channel.url(), headers=auth(channel.owner))
    assert view.json()["alerts_enabled"] is True

    accepted = await publish(client, channel, priority="alert")
    assert accepted.status_code == 202, accepted.text
    post_id = accepted.json()["post_id"]
    published = [
        e
        for e in await PostsTopic(stack).opened_events(channel.channel_id)
        if str(e.payload.post_id) == post_id
    ]
    assert [(e.payload.priority, e.payload.silent) for e in published] == [("alert", False)]
    live = await live_posts(stack, channel.channel_id, {post_id})
    assert (live[post_id].priority, live[post_id].silent) == ("alert", False)

    withdrawn = await client.delete(alerts_url(channel.channel_id), headers=operator_auth("op-1"))
    assert withdrawn.status_code == 204
    again = await publish(client, channel, priority="alert")
    assert again.status_code == 403, again.text


async def test_silent_and_normal_posts_carry_their_flags_to_the_live_topic(
    client: httpx.AsyncClient, stack: StackSlice, fanout: ServiceProcess
) -> None:
    channel = await create_channel(client)
    silent = await publish(client, channel, silent=True)
    plain = await publish(client, channel)  # neither field given
    assert (silent.status_code, plain.status_code) == (202, 202), (silent.text, plain.text)
    ids = {silent.json()["post_id"], plain.json()["post_id"]}
    live = await live_posts(stack, channel.channel_id, ids)
    assert (live[silent.json()["post_id"]].silent, live[silent.json()["post_id"]].priority) == (
        True,
        "normal",
    )
    assert (live[plain.json()["post_id"]].silent, live[plain.json()["post_id"]].priority) == (
        False,
        "normal",
    )


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "silent-alert"}])
async def test_a_silent_alert_is_refused_and_publishes_nothing(
    client: httpx.AsyncClient, stack: StackSlice, alert_channel: Channel, headers: dict[str, str]
) -> None:
    before = await PostsTopic(stack).end_offsets()
    refused = await publish(
        client,
        alert_channel,
        {**auth(alert_channel.owner), **headers},
        silent=True,
        priority="alert",
    )
    assert refused.status_code == 422, refused.text
    assert "silent" in refused.json()["detail"]
    bad_priority = await publish(client, alert_channel, priority="urgent")
    assert bad_priority.status_code == 422
    assert await PostsTopic(stack).end_offsets() == before
    # Nothing was taken either: the channel still has all its alerts of the hour.
    for _ in range(3):
        assert (await publish(client, alert_channel, priority="alert")).status_code == 202


async def test_the_fourth_alert_of_the_hour_is_429_with_retry_after(
    client: httpx.AsyncClient, stack: StackSlice, alert_channel: Channel
) -> None:
    keyed = {**auth(alert_channel.owner), "Idempotency-Key": "alert-1"}
    first = await publish(client, alert_channel, keyed, priority="alert")
    replay = await publish(client, alert_channel, keyed, priority="alert")
    assert first.status_code == replay.status_code == 202
    assert first.json()["post_id"] == replay.json()["post_id"]  # the retry took no slot
    for _ in range(2):
        assert (await publish(client, alert_channel, priority="alert")).status_code == 202
    before = await PostsTopic(stack).end_offsets()

    over = await publish(client, alert_channel, priority="alert")
    assert over.status_code == 429, over.text
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["type"].endswith("/alert-limit")
    # Seconds until the oldest alert of the hour leaves the window.
    assert 3000 < int(over.headers["Retry-After"]) <= 3600
    keyed_over = await publish(
        client,
        alert_channel,
        {**auth(alert_channel.owner), "Idempotency-Key": "alert-4"},
        priority="alert",
    )
    assert keyed_over.status_code == 429
    assert await PostsTopic(stack).end_offsets() == before
    # Only alerts are limited.
    assert (await publish(client, alert_channel)).status_code == 202


async def test_operator_endpoints_answer_404_to_everyone_but_operators(
    client: httpx.AsyncClient,
) -> None:
    channel = await create_channel(client)
    url = alerts_url(channel.channel_id)
    unserved = await client.put("/v1/operator/no-such-route", headers=auth(channel.owner))
    assert unserved.status_code == 404
    for headers in (
        {},
        auth(channel.owner),
        auth(account(), roles=["admin", "operator"]),
        {"Authorization": "Bearer not-a-token"},
    ):
        for method in ("PUT", "DELETE"):
            response = await client.request(method, url, headers=headers)
            assert response.status_code == 404, (headers, response.text)
            # Word for word a path the publisher does not serve.
            assert response.json() == unserved.json()
    malformed = await client.put("/v1/operator/channels/not-a-uuid/alerts", headers=auth("x"))
    assert (malformed.status_code, malformed.json()) == (404, unserved.json())
    view = await client.get(channel.url(), headers=auth(channel.owner))
    assert view.json()["alerts_enabled"] is False

    ghost = await client.put(alerts_url(str(uuid.uuid4())), headers=operator_auth("op-2"))
    assert ghost.status_code == 404
    assert ghost.json()["type"].endswith("/not-found")


async def test_operator_accounts_setting_makes_operators(
    stack: StackSlice, spawn_service: Callable[..., ServiceProcess]
) -> None:
    operator = account("ops")
    process = await spawn_service(
        "publisher", HERALD_OPERATOR_ACCOUNTS=f"someone-else, {operator}"
    ).start()
    async with httpx.AsyncClient(base_url=process.base_url, timeout=20) as http:
        channel = await create_channel(http)
        url = alerts_url(channel.channel_id)
        assert (await http.put(url, headers=auth(account()))).status_code == 404
        assert (await http.put(url, headers=auth(operator))).status_code == 204
        view = await http.get(channel.url(), headers=auth(channel.owner))
        assert view.json()["alerts_enabled"] is True
        assert (await publish(http, channel, priority="alert")).status_code == 202


async def test_concurrent_alerts_never_pass_the_limit_together(
    client: httpx.AsyncClient, alert_channel: Channel
) -> None:
    keyed = [{**auth(alert_channel.owner), "Idempotency-Key": f"race-{i}"} for i in range(4)]
    answers = await asyncio.gather(
        *(publish(client, alert_channel, priority="alert") for _ in range(4)),
        *(publish(client, alert_channel, headers, priority="alert") for headers in keyed),
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] * 3 + [429] * 5, [a.text for a in answers]


async def test_an_alert_whose_produce_failed_does_not_count(
    client: httpx.AsyncClient,
    stack: StackSlice,
    alert_channel: Channel,
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    # A second publisher on the same database whose posts topic is gone: its produces
    # time out (503). The session's publisher then still has all the hour's alerts.
    namespace = f"{stack.namespace}-a{uuid.uuid4().hex[:6]}"
    broken = await spawn_service(
        "publisher", HERALD_NAMESPACE=namespace, HERALD_PRODUCE_TIMEOUT_S="1"
    ).start()
    try:
        await delete_topic(stack, f"{namespace}.{POSTS.name}")
        async with httpx.AsyncClient(base_url=broken.base_url, timeout=30) as http:
            for i in range(4):
                headers = auth(alert_channel.owner)
                if i % 2:
                    headers["Idempotency-Key"] = f"failing-{i}"
                failed = await publish(http, alert_channel, headers, priority="alert")
                assert failed.status_code == 503, failed.text
                assert failed.json()["type"].endswith("/broker-unavailable")
    finally:
        broken.kill()  # its producer still retries the unacknowledged sends
    for _ in range(3):
        assert (await publish(client, alert_channel, priority="alert")).status_code == 202
    assert (await publish(client, alert_channel, priority="alert")).status_code == 429
