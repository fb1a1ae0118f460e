"""The live stream: a client that was away gets exactly what it missed, in order and
once, when it reconnects with Last-Event-ID (also while new posts keep coming); streams
per account are capped; a client that stops reading is cut off without holding up the
others."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from shared.events.posts import PostEdited, PostEditedV1
from shared.topics import POSTS
from tests.integration.feed.builder import (
    Publisher,
    add_followers,
    create_channel,
    eventually,
    text_body,
    wait_post_visible,
)
from tests.integration.feed.sse import SseEvent, SseReader, is_post
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


async def test_reconnect_with_last_event_id_replays_exactly_what_was_missed(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    channel_id = await create_channel(db, name="Replay news")
    me = auth("sse-reader-1")
    assert (await client.put(f"/v1/channels/{channel_id}/follow", headers=me)).status_code == 200

    async with SseReader(client, me) as stream:
        first = await publish.publish(channel_id, text_body("before the tunnel"))
        seen = await stream.next(is_post)
        assert seen.data["post_id"] == str(first)
        last_id = seen.id
    assert last_id is not None

    missed = [await publish.publish(channel_id, text_body(f"missed {i}")) for i in range(3)]
    for post_id in missed:
        await wait_post_visible(client, channel_id, post_id)

    async with SseReader(client, {**me, "Last-Event-ID": last_id}) as stream:
        replayed = [await stream.next(is_post) for _ in missed]
        assert [e.data["post_id"] for e in replayed] == [str(p) for p in missed]
        assert [e.data["seq"] for e in replayed] == [2, 3, 4]
        assert [e.id for e in replayed] == sorted(e.id for e in replayed if e.id)
        # Then live again, with nothing replayed twice in between.
        after = await publish.publish(channel_id, text_body("back online"))
        assert (await stream.next(is_post)).data["post_id"] == str(after)


async def test_stream_limits_and_bad_ids(client: httpx.AsyncClient) -> None:
    me = auth("sse-many-tabs")
    readers = [SseReader(client, me) for _ in range(5)]
    for reader in readers:
        await reader.__aenter__()
    try:
        assert all(r.status == 200 for r in readers)
        refused = await client.get("/v1/stream", headers=me)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
    finally:
        for reader in readers:
            await reader.__aexit__()
    bad = await client.get("/v1/stream", headers={**me, "Last-Event-ID": "not-an-id"})
    assert bad.status_code == 400
    assert (await client.get("/v1/stream")).status_code == 401


async def _edit(
    posts_producer: AIOKafkaProducer, stack: StackSlice, channel_id: UUID, post_id: UUID, text: str
) -> None:
    """An admin's edit, as the publisher produces it."""
    event = PostEdited(
        payload=PostEditedV1(
            channel_id=channel_id, post_id=post_id, text=text, edited_at=datetime.now(UTC)
        )
    )
    await posts_producer.send_and_wait(
        stack.topic(POSTS.name), event.encode(), key=str(channel_id).encode()
    )


def _changes(event: SseEvent) -> bool:
    return event.event in ("post", "post_deleted")


async def test_replay_is_exact_across_edits_deletes_counters_and_posts_published_meanwhile(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    publish: Publisher,
    posts_producer: AIOKafkaProducer,
    stack: StackSlice,
) -> None:
    channel_id = await create_channel(db, name="Exact replay")
    me = auth("sse-exact")
    assert (await client.put(f"/v1/channels/{channel_id}/follow", headers=me)).status_code == 200
    async with SseReader(client, me) as stream:
        first = await publish.publish(channel_id, text_body("first"))
        last_id = (await stream.next(is_post)).id
    assert last_id is not None

    # While away: two new posts, the first one edited, one new post deleted, a reaction.
    second = await publish.publish(channel_id, text_body("second"))
    third = await publish.publish(channel_id, text_body("third"))
    await wait_post_visible(client, channel_id, third)
    await _edit(posts_producer, stack, channel_id, first, "first, edited")
    await eventually(
        lambda: _body_text(client, channel_id, first, me),
        what="edit applied",
    )
    await publish.delete(channel_id, second)
    await eventually(lambda: _gone(client, channel_id, second, me), what="delete applied")
    reacted = await client.put(f"/v1/posts/{third}/reaction", json={"emoji": "👍"}, headers=me)
    assert reacted.status_code == 200

    # Reconnect while new posts keep coming: they may land before, during or after the
    # replay reads Postgres; each must arrive once either way.
    reader = SseReader(client, {**me, "Last-Event-ID": last_id})
    live = asyncio.create_task(_publish_all(publish, channel_id, ["fourth", "fifth"]))
    async with reader as stream:
        fourth, fifth = await live
        last = await publish.publish(channel_id, text_body("last"))
        seen: list[SseEvent] = []
        while not seen or seen[-1].data["post_id"] != str(last):
            seen.append(await stream.next(_changes))

    got = [(e.event, e.data["post_id"]) for e in seen]
    # Replayed: each missed post once, in the order of its latest change, in its current
    # state; then the posts published meanwhile and after, once each.
    assert got == [
        ("post", str(third)),
        ("post", str(first)),
        ("post_deleted", str(second)),
        ("post", str(fourth)),
        ("post", str(fifth)),
        ("post", str(last)),
    ]
    assert seen[1].data["body"]["text"] == "first, edited"
    ids = [e.id for e in seen]
    assert all(ids) and ids == sorted(set(ids), key=str)


async def _publish_all(publish: Publisher, channel_id: UUID, texts: list[str]) -> list[UUID]:
    return [await publish.publish(channel_id, text_body(t)) for t in texts]


async def _history(
    client: httpx.AsyncClient, channel_id: UUID, me: dict[str, str]
) -> dict[str, Any]:
    page = (await client.get(f"/v1/channels/{channel_id}/posts", headers=me)).json()
    return {p["post_id"]: p for p in page["items"]}


async def _body_text(
    client: httpx.AsyncClient, channel_id: UUID, post_id: UUID, me: dict[str, str]
) -> bool:
    post = (await _history(client, channel_id, me)).get(str(post_id))
    return post is not None and post["body"].get("text") == "first, edited"


async def _gone(
    client: httpx.AsyncClient, channel_id: UUID, post_id: UUID, me: dict[str, str]
) -> bool:
    return str(post_id) not in await _history(client, channel_id, me)


def _open_streams(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("herald_feed_sse_connections "):
            return float(line.split()[1])
    raise AssertionError("no herald_feed_sse_connections in /metrics")


async def test_a_client_that_stops_reading_is_cut_off_and_the_others_get_everything(
    db: asyncpg.Pool, publish: Publisher, spawn_service: Callable[..., ServiceProcess]
) -> None:
    # A small per-stream bound (1 event's worth of bytes) so a few posts overflow it.
    feed = await spawn_service("feed", HERALD_FEED_SSE_QUEUE_MAX="1").start()
    channel_id = await create_channel(db, name="Slow readers")
    slow_account, fast_account = "sse-slow", "sse-fast"
    await add_followers(db, channel_id, [slow_account, fast_account])

    # The slow client: a tiny receive window, reads the response head, then nothing.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", feed.port))
    token = auth(slow_account)["Authorization"]
    await loop.sock_sendall(
        sock, f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(loop.sock_recv(sock, 1024), 10)
    assert head.startswith(b"HTTP/1.1 200")

    async with httpx.AsyncClient(base_url=feed.base_url, timeout=10) as http:

        async def open_streams() -> float:
            return _open_streams((await http.get(f"{feed.ops_url}/metrics")).text)

        async with SseReader(http, auth(fast_account)) as fast:
            assert await open_streams() == 2
            big = "x" * 4000
            published: list[UUID] = []
            for i in range(200):
                published.append(await publish.publish(channel_id, text_body(f"{i} {big}")))
                received = await fast.next(is_post)
                assert received.data["post_id"] == str(published[-1])
                if await open_streams() == 1:
                    break
            assert await open_streams() == 1, "the slow stream was never cut off"
            # The healthy stream still gets what comes next.
            after = await publish.publish(channel_id, text_body("after the cut"))
            assert (await fast.next(is_post)).data["post_id"] == str(after)

    # The slow client's connection was closed by the server: what it had not read is
    # there, then the end.
    async def read_to_end() -> None:
        while await loop.sock_recv(sock, 65536):
            pass

    with contextlib.suppress(ConnectionResetError):
        await asyncio.wait_for(read_to_end(), 10)
    sock.close()
