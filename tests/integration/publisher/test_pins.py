"""Pinned posts against the real publisher, fan-out, feed, Kafka and Postgres: at most three
per channel (a 4th is 409), shown on the feed's card as `pinned`, gone from it when the
post is deleted; pinning what is not a live post of the channel is 404."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from tests.integration.publisher.conftest import Channel, create_channel
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

WAIT_S = 60.0


async def published(client: httpx.AsyncClient, channel: Channel, text: str) -> tuple[str, int]:
    """Publish a text post and wait until fan-out gave it its seq."""
    answer = await client.post(
        channel.url("/posts"), json={"type": "text", "text": text}, headers=auth(channel.owner)
    )
    assert answer.status_code == 202, answer.text
    post_id = answer.json()["post_id"]
    deadline = time.monotonic() + WAIT_S
    while True:
        state = await client.get(channel.url(f"/posts/{post_id}"), headers=auth(channel.owner))
        if state.json().get("status") == "published":
            return post_id, state.json()["seq"]
        assert time.monotonic() < deadline, state.text
        await asyncio.sleep(0.2)


async def card_pins(feed: ServiceProcess, channel: Channel) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=20) as http:
        answer = await http.get(f"/v1/channels/{channel.channel_id}")
    assert answer.status_code == 200, answer.text
    pinned: list[dict[str, Any]] = answer.json()["pinned"]
    return pinned


async def pin(client: httpx.AsyncClient, channel: Channel, post_id: str) -> httpx.Response:
    return await client.put(channel.url(f"/pins/{post_id}"), headers=auth(channel.owner))


async def test_three_pins_on_the_card_a_fourth_refused_a_deleted_post_unpinned(
    client: httpx.AsyncClient, fanout: ServiceProcess, feed: ServiceProcess
) -> None:
    channel = await create_channel(client)
    posts = [await published(client, channel, f"notice {n}") for n in range(4)]
    assert await card_pins(feed, channel) == []

    for post_id, _ in posts[:3]:
        assert (await pin(client, channel, post_id)).status_code == 204
    assert (await pin(client, channel, posts[0][0])).status_code == 204  # already pinned
    refused = await pin(client, channel, posts[3][0])
    assert refused.status_code == 409, refused.text
    # Newest pin first.
    assert await card_pins(feed, channel) == [
        {"post_id": post_id, "seq": seq} for post_id, seq in reversed(posts[:3])
    ]

    deleted = await client.delete(channel.url(f"/posts/{posts[1][0]}"), headers=auth(channel.owner))
    assert deleted.status_code == 202, deleted.text
    assert posts[1][0] not in [p["post_id"] for p in await card_pins(feed, channel)]
    # Its place is free again; the deleted post itself cannot be pinned.
    assert (await pin(client, channel, posts[3][0])).status_code == 204
    deadline = time.monotonic() + WAIT_S
    while (again := await pin(client, channel, posts[1][0])).status_code != 404:
        # 409 (three live pins) until fan-out has applied the delete, then 404.
        assert again.status_code == 409 and time.monotonic() < deadline, again.text
        await asyncio.sleep(0.2)
    assert [p["post_id"] for p in await card_pins(feed, channel)] == [
        posts[3][0],
        posts[2][0],
        posts[0][0],
    ]

    unpinned = await client.delete(channel.url(f"/pins/{posts[0][0]}"), headers=auth(channel.owner))
    assert unpinned.status_code == 204
    assert [p["post_id"] for p in await card_pins(feed, channel)] == [posts[3][0], posts[2][0]]


async def test_pinning_an_unknown_post_is_404(
    client: httpx.AsyncClient, fanout: ServiceProcess
) -> None:
    channel = await create_channel(client)
    other = await create_channel(client)
    post_id, _ = await published(client, other, "another channel's post")
    assert (await pin(client, channel, str(uuid.uuid4()))).status_code == 404
    assert (await pin(client, channel, post_id)).status_code == 404
