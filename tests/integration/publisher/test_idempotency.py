"""An Idempotency-Key makes retries safe: identical requests racing each other publish
exactly one event and all get its post_id; a key reused with a different body is refused."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from shared.events.posts import PostPublished
from tests.integration.publisher.conftest import PostsTopic, create_channel
from tests.support.tokens import auth

PARALLEL = 10


async def test_parallel_identical_requests_publish_once(
    client: httpx.AsyncClient, posts_topic: PostsTopic
) -> None:
    channel = await create_channel(client)
    headers = {**auth(channel.owner), "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    body = {"type": "text", "text": "Boil water before drinking"}

    responses = await asyncio.gather(
        *(client.post(channel.url("/posts"), json=body, headers=headers) for _ in range(PARALLEL))
    )
    assert [r.status_code for r in responses] == [202] * PARALLEL, [r.text for r in responses]
    post_ids = {r.json()["post_id"] for r in responses}
    assert len(post_ids) == 1

    # A later retry gets the same answer and still publishes nothing new.
    again = await client.post(channel.url("/posts"), json=body, headers=headers)
    assert again.status_code == 202 and again.json()["post_id"] in post_ids

    events = await posts_topic.opened_events(channel.channel_id)
    published = [e for e in events if isinstance(e, PostPublished)]
    assert [str(e.payload.post_id) for e in published] == list(post_ids)

    # The same key with another body is a client bug, not a retry.
    other = await client.post(channel.url("/posts"), json={**body, "text": "x"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")

    # Keys are per channel: another channel may use the same one.
    elsewhere = await create_channel(client, channel.owner)
    fresh = await client.post(elsewhere.url("/posts"), json=body, headers=headers)
    assert fresh.status_code == 202 and fresh.json()["post_id"] not in post_ids


async def test_a_refused_request_leaves_its_key_unused(client: httpx.AsyncClient) -> None:
    channel = await create_channel(client)
    headers = {**auth(channel.owner), "Idempotency-Key": f"fix-{uuid.uuid4()}"}
    no_such_media = {"type": "photo", "media_id": str(uuid.uuid4())}

    refused = await client.post(channel.url("/posts"), json=no_such_media, headers=headers)
    assert refused.status_code == 422, refused.text

    # Bad input changed nothing: the corrected request may use the same key.
    fixed = await client.post(
        channel.url("/posts"), json={"type": "text", "text": "Corrected"}, headers=headers
    )
    assert fixed.status_code == 202, fixed.text
