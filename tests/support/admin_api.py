"""An admin's side of a test, over the publisher's HTTP API: make a channel, publish,
wait for a post to be published (fan-out gave it its seq), edit and delete it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.tokens import token_for

# Fan-out publishes within a second or two; this only bounds a broken run.
PUBLISH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Channel:
    channel_id: str
    handle: str
    name: str
    owner: str


@dataclass(frozen=True)
class Post:
    post_id: str
    seq: int


class Admin:
    """The owner of channels made through `publisher_url`."""

    def __init__(self, publisher_url: str, owner: str | None = None) -> None:
        self.owner = owner or f"owner-{uuid.uuid4().hex[:12]}"
        self.http = httpx.AsyncClient(
            base_url=publisher_url,
            timeout=30,
            headers={"Authorization": f"Bearer {token_for(self.owner, ttl_s=7200)}"},
        )

    async def __aenter__(self) -> Admin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def channel(self, name: str, **fields: Any) -> Channel:
        body: dict[str, Any] = {
            "handle": f"ch_{uuid.uuid4().hex[:12]}",
            "name": name,
            "description": "Opening hours, vaccination days and health alerts.",
            "category": "health",
            "country": "ke",
            "language": "en",
            "settings": {"reactions": "limited", "allowed_reactions": ["👍", "❤️"]},
            **fields,
        }
        response = await self.http.post("/v1/channels", json=body)
        assert response.status_code == 201, response.text
        return Channel(response.json()["channel_id"], body["handle"], name, self.owner)

    async def publish(self, channel: Channel, **body: Any) -> Post:
        """Publish `body` (a text post by default) and wait until it is published."""
        body = body or {"type": "text", "text": "Clinic open until 8pm"}
        response = await self.http.post(
            f"/v1/channels/{channel.channel_id}/posts",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 202, response.text
        post_id: str = response.json()["post_id"]
        return Post(post_id, await self.published_seq(channel, post_id))

    async def published_seq(self, channel: Channel, post_id: str) -> int:
        deadline = time.monotonic() + PUBLISH_TIMEOUT_S
        while True:
            response = await self.http.get(f"/v1/channels/{channel.channel_id}/posts/{post_id}")
            assert response.status_code == 200, response.text
            status = response.json()
            if status["status"] == "published":
                seq: int = status["seq"]
                return seq
            assert time.monotonic() < deadline, f"post {post_id} not published: {status}"
            await asyncio.sleep(0.2)

    async def edit(self, channel: Channel, post: Post, **fields: Any) -> None:
        response = await self.http.patch(
            f"/v1/channels/{channel.channel_id}/posts/{post.post_id}", json=fields
        )
        assert response.status_code == 202, response.text

    async def delete(self, channel: Channel, post: Post) -> None:
        response = await self.http.delete(f"/v1/channels/{channel.channel_id}/posts/{post.post_id}")
        assert response.status_code == 202, response.text
