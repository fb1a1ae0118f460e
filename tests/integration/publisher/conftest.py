"""Helpers for the publisher's integration tests: an HTTP client on the session's
publisher, channel set-up, tiny real media files, and reading the posts topic directly."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from PIL import Image

from services.fanout.posts.opening import opened_event
from shared.content.keys import load_keys
from shared.events.envelope import Event
from shared.events.posts import (
    POST_EVENTS,
    PostEditedSealed,
    PostPublishedSealed,
)
from shared.topics import POSTS
from tests.support import media_samples
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


@pytest.fixture
async def client(publisher: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as http:
        yield http


def account(prefix: str = "acct") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def channel_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "handle": f"ch_{uuid.uuid4().hex[:12]}",
        "name": "Public Health Updates",
        "description": "Official updates",
        "category": "health",
        "country": "ke",
        "language": "en",
        "settings": {"reactions": "limited", "allowed_reactions": ["👍", "❤️"]},
    }
    body.update(overrides)
    return body


@dataclass
class Channel:
    channel_id: str
    owner: str

    def url(self, suffix: str = "") -> str:
        return f"/v1/channels/{self.channel_id}{suffix}"


async def create_channel(http: httpx.AsyncClient, owner: str | None = None) -> Channel:
    owner = owner or account("owner")
    response = await http.post("/v1/channels", json=channel_body(), headers=auth(owner))
    assert response.status_code == 201, response.text
    return Channel(response.json()["channel_id"], owner)


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt)
    return out.getvalue()


# Small, structurally whole containers (the publisher walks a video's or voice note's
# container to its last byte): an MP4 with a movie box and media data, an Ogg/Opus stream.
MP4_BYTES = media_samples.mp4()
OGG_OPUS_BYTES = media_samples.ogg_opus()


async def upload(
    http: httpx.AsyncClient,
    channel: Channel,
    data: bytes,
    filename: str,
    content_type: str = "application/octet-stream",
    kind: str | None = None,
    who: str | None = None,
) -> httpx.Response:
    form = {"kind": kind} if kind else None
    return await http.post(
        channel.url("/media"),
        files={"file": (filename, data, content_type)},
        data=form,
        headers=auth(who or channel.owner),
    )


class PostsTopic:
    """Reads a posts topic (the session's, or `topic`) from outside, as fan-out would."""

    def __init__(self, stack: StackSlice, topic: str | None = None) -> None:
        self.stack = stack
        self.topic = topic or stack.topic(POSTS.name)

    async def _consumer(self) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.stack.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(POSTS.partitions)]
        return consumer, partitions

    async def end_offsets(self) -> dict[TopicPartition, int]:
        consumer, partitions = await self._consumer()
        try:
            offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
            return offsets
        finally:
            await consumer.stop()

    async def opened_events(self, key: str) -> list[Event]:
        """`events`, sealed ones opened with their content keys (read from the database as
        fan-out would) into their version 1 shape; a sealed event whose key is destroyed
        stays sealed."""
        events = await self.events(key)
        wanted = [
            (e.payload.key_id, e.payload.key_expires_on)
            for e in events
            if isinstance(e, PostPublishedSealed | PostEditedSealed)
        ]
        conn = await asyncpg.connect(self.stack.database_url)
        try:
            keys = await load_keys(conn, self.stack.settings().content_master_keys(), wanted)
        finally:
            await conn.close()
        return [_opened(e, keys) for e in events]

    async def events(self, key: str) -> list[Event]:
        """Every event on the topic keyed `key`, in log order (reads up to the end)."""
        consumer, partitions = await self._consumer()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            found: list[Event] = []
            remaining = {tp for tp, end in ends.items() if end > 0}
            deadline = time.monotonic() + 30
            while remaining:
                assert time.monotonic() < deadline, "posts topic not read to its end in time"
                batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        if record.key == key.encode():
                            found.append(POST_EVENTS.decode(record.value))
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
            return found
        finally:
            await consumer.stop()


def _opened(event: Event, keys: dict[uuid.UUID, bytes]) -> Event:
    """A sealed record opened as fan-out opens it, when its key is among `keys`."""
    if isinstance(event, PostPublishedSealed | PostEditedSealed) and event.payload.key_id in keys:
        return opened_event(event, keys[event.payload.key_id])
    return event


@pytest.fixture
def posts_topic(stack: StackSlice) -> PostsTopic:
    return PostsTopic(stack)
