"""Scheduled posts against real publishers, fan-out, Kafka and Postgres: published once at
their time (one event, one seq) — with three publisher processes, and with the publisher
SIGKILLed at the moment of publication — never when cancelled before, with the edited
text when edited while scheduled; expiry counts from publication.

The publishers here accept `publish_at` from one second ahead
(`HERALD_PUBLISHER_SCHEDULE_MIN_AHEAD_S=1`; DESIGN.md's minute in production)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared.events.posts import PostPublished, PostPublishedSealed
from tests.integration.publisher.conftest import Channel, PostsTopic, create_channel
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth, operator_auth

SCHEDULER_ENV = {
    "HERALD_PUBLISHER_SCHEDULE_MIN_AHEAD_S": "1",
    "HERALD_PUBLISHER_SCHEDULE_POLL_S": "0.2",
}
WAIT_S = 60.0


async def _publisher(spawn_service: Callable[..., ServiceProcess]) -> ServiceProcess:
    return await spawn_service("publisher", **SCHEDULER_ENV).start()


@pytest.fixture
async def http(spawn_service: Callable[..., ServiceProcess], fanout: ServiceProcess) -> Any:
    process = await _publisher(spawn_service)
    async with httpx.AsyncClient(base_url=process.base_url, timeout=20) as client:
        yield client


def at(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def schedule(
    http: httpx.AsyncClient, channel: Channel, when: datetime, text: str = "Clinic opens at 9"
) -> str:
    response = await http.post(
        channel.url("/posts"),
        json={"type": "text", "text": text, "publish_at": when.isoformat()},
        headers=auth(channel.owner),
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "scheduled"
    return str(response.json()["post_id"])


async def status(http: httpx.AsyncClient, channel: Channel, post_id: str) -> httpx.Response:
    return await http.get(channel.url(f"/posts/{post_id}"), headers=auth(channel.owner))


async def until_published(
    http: httpx.AsyncClient, channel: Channel, post_id: str
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = await status(http, channel, post_id)
        if answer.status_code == 200 and answer.json()["status"] == "published":
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, f"not published: {answer.text}"
        await asyncio.sleep(0.2)


async def published_events(topic: PostsTopic, channel: Channel) -> dict[str, int]:
    """post_id → number of publish events of it on the posts topic."""
    counts: dict[str, int] = {}
    for event in await topic.events(channel.channel_id):
        if isinstance(event, PostPublished | PostPublishedSealed):
            post_id = str(event.payload.post_id)
            counts[post_id] = counts.get(post_id, 0) + 1
    return counts


async def persisted(db: asyncpg.Pool, channel: Channel) -> dict[str, list[int]]:
    """post_id → the seqs fan-out gave it (one, for a post published once)."""
    rows = await db.fetch(
        "SELECT post_id, seq FROM posts WHERE channel_id = $1", uuid.UUID(channel.channel_id)
    )
    seqs: dict[str, list[int]] = {}
    for row in rows:
        seqs.setdefault(str(row["post_id"]), []).append(row["seq"])
    return seqs


async def scheduled_list(http: httpx.AsyncClient, channel: Channel) -> list[dict[str, Any]]:
    answer = await http.get(channel.url("/scheduled"), headers=auth(channel.owner))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_scheduled_post_is_published_once_at_its_time(
    http: httpx.AsyncClient, posts_topic: PostsTopic, db: asyncpg.Pool
) -> None:
    channel = await create_channel(http)
    when = at(2)
    post_id = await schedule(http, channel, when)

    waiting = (await status(http, channel, post_id)).json()
    assert waiting["status"] == "scheduled"
    assert datetime.fromisoformat(waiting["publish_at"]) == when.replace(
        microsecond=when.microsecond // 1000 * 1000
    )
    listed = await scheduled_list(http, channel)
    assert [item["post_id"] for item in listed] == [post_id]
    assert listed[0]["post"]["text"] == "Clinic opens at 9"

    post = await until_published(http, channel, post_id)
    # Expiry counts from publication, not from when it was scheduled.
    created_at = datetime.fromisoformat(post["created_at"])
    assert abs(created_at - when) < timedelta(milliseconds=2)
    assert datetime.fromisoformat(post["expires_at"]) - created_at == timedelta(days=30)
    assert await scheduled_list(http, channel) == []
    assert await published_events(posts_topic, channel) == {post_id: 1}
    assert await persisted(db, channel) == {post_id: [post["seq"]]}


async def test_publish_at_outside_the_window_is_refused_and_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    channel = await create_channel(http)
    for when in (at(0.2), at(-60), datetime.now(UTC) + timedelta(days=30, minutes=1)):
        response = await http.post(
            channel.url("/posts"),
            json={"type": "text", "text": "too soon or too late", "publish_at": when.isoformat()},
            headers=auth(channel.owner),
        )
        assert response.status_code == 422, response.text
    naive = (datetime.now(UTC) + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    response = await http.post(
        channel.url("/posts"),
        json={"type": "text", "text": "which zone?", "publish_at": naive},
        headers=auth(channel.owner),
    )
    assert response.status_code == 422, response.text
    assert await scheduled_list(http, channel) == []


async def test_a_cancelled_post_is_never_published(
    http: httpx.AsyncClient, posts_topic: PostsTopic, db: asyncpg.Pool
) -> None:
    channel = await create_channel(http)
    cancelled = await schedule(http, channel, at(2), "cancel me")
    later = await schedule(http, channel, at(3), "publish me")

    answer = await http.delete(channel.url(f"/posts/{cancelled}"), headers=auth(channel.owner))
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "cancelled"
    assert (await status(http, channel, cancelled)).status_code == 404

    # The scheduler got past the cancelled post's time: the later one is out.
    await until_published(http, channel, later)
    assert await published_events(posts_topic, channel) == {later: 1}
    assert list(await persisted(db, channel)) == [later]
    assert (await status(http, channel, cancelled)).status_code == 404


async def test_an_edit_while_scheduled_is_what_gets_published(
    http: httpx.AsyncClient, posts_topic: PostsTopic
) -> None:
    channel = await create_channel(http)
    post_id = await schedule(http, channel, at(3), "Clinic opens at 9")
    answer = await http.patch(
        channel.url(f"/posts/{post_id}"),
        json={"text": "Clinic opens at 10"},
        headers=auth(channel.owner),
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "scheduled"
    assert (await scheduled_list(http, channel))[0]["post"]["text"] == "Clinic opens at 10"

    await until_published(http, channel, post_id)
    texts = [
        event.payload.body.text
        for event in await posts_topic.opened_events(channel.channel_id)
        if isinstance(event, PostPublished)
    ]
    assert texts == ["Clinic opens at 10"]


async def test_three_publishers_publish_each_post_once(
    spawn_service: Callable[..., ServiceProcess],
    fanout: ServiceProcess,
    posts_topic: PostsTopic,
    db: asyncpg.Pool,
) -> None:
    publishers = [await _publisher(spawn_service) for _ in range(3)]
    async with httpx.AsyncClient(base_url=publishers[0].base_url, timeout=20) as http:
        channel = await create_channel(http)
        when = at(3)
        post_ids = [await schedule(http, channel, when, f"post {n}") for n in range(12)]
        seqs = [(await until_published(http, channel, p))["seq"] for p in post_ids]
    assert len(set(seqs)) == len(post_ids)
    assert await published_events(posts_topic, channel) == dict.fromkeys(post_ids, 1)
    assert await persisted(db, channel) == {p: [s] for p, s in zip(post_ids, seqs, strict=True)}


async def test_a_publisher_killed_at_publication_time_publishes_once(
    spawn_service: Callable[..., ServiceProcess],
    fanout: ServiceProcess,
    posts_topic: PostsTopic,
    db: asyncpg.Pool,
) -> None:
    first = await _publisher(spawn_service)
    async with httpx.AsyncClient(base_url=first.base_url, timeout=20) as http:
        channel = await create_channel(http)
        when = at(2)
        post_ids = [await schedule(http, channel, when, f"post {n}") for n in range(20)]
    # SIGKILL right at the due time: some posts may be in the log, their rows not yet
    # deleted (or the other way round is impossible: the delete commits after the ack).
    await asyncio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.05)
    first.kill()

    second = await _publisher(spawn_service)
    async with httpx.AsyncClient(base_url=second.base_url, timeout=20) as http:
        seqs = [(await until_published(http, channel, p))["seq"] for p in post_ids]
        assert await scheduled_list(http, channel) == []
    assert len(set(seqs)) == len(post_ids)
    # Produced at least once each, persisted exactly once: one seq per post.
    events = await published_events(posts_topic, channel)
    assert set(events) == set(post_ids)
    assert await persisted(db, channel) == {p: [s] for p, s in zip(post_ids, seqs, strict=True)}


async def test_a_post_due_while_its_channel_is_suspended_is_refused_not_published(
    http: httpx.AsyncClient, posts_topic: PostsTopic
) -> None:
    channel = await create_channel(http)
    post_id = await schedule(http, channel, at(2))
    operator = operator_auth(f"op-{uuid.uuid4().hex[:8]}")
    suspension = f"/v1/operator/channels/{channel.channel_id}/suspension"
    answer = await http.put(suspension, json={"reason": "impersonation"}, headers=operator)
    assert answer.status_code == 204, answer.text

    deadline = time.monotonic() + WAIT_S
    while not (listed := await scheduled_list(http, channel))[0]["failed"]:
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.2)
    assert "suspended" in listed[0]["failed"]
    # Restored, the channel does not get the stale post published late.
    assert (await http.delete(suspension, headers=operator)).status_code == 204
    assert (await status(http, channel, post_id)).json()["status"] == "scheduled"
    assert await published_events(posts_topic, channel) == {}


async def test_a_deleted_channels_scheduled_post_is_dropped_unpublished(
    http: httpx.AsyncClient, posts_topic: PostsTopic, db: asyncpg.Pool
) -> None:
    channel = await create_channel(http)
    await schedule(http, channel, at(2))
    deleted = await http.delete(channel.url(), headers=auth(channel.owner))
    assert deleted.status_code == 204, deleted.text

    deadline = time.monotonic() + WAIT_S
    query = "SELECT count(*) FROM scheduled_posts WHERE channel_id = $1"
    while await db.fetchval(query, uuid.UUID(channel.channel_id)):
        assert time.monotonic() < deadline, "the scheduled row outlived its channel"
        await asyncio.sleep(0.2)
    events = await posts_topic.events(channel.channel_id)
    assert not [e for e in events if isinstance(e, PostPublished | PostPublishedSealed)]
