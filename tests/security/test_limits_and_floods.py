"""Everything that takes input is bounded: oversize bodies (413, declared or streamed),
request floods per account (429 with Retry-After, others unaffected), SSE streams per
account (429) and per process (503), slow clients (a stream nobody reads, bodies sent a
byte at a time) that do not hold anyone else up — and the memory of every service stays
bounded through a flood (RSS before/after, printed for the report).

The publisher and feed here are dedicated processes with small limits, so the limits
are reached in a few requests; fan-out is the session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from uuid import UUID

import httpx
import psutil
import pytest

from tests.integration.feed.sse import SseEvent, SseReader, is_post
from tests.security.world import World, build_world, expect, publish
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

MIB = 1024 * 1024
RSS_GROWTH_MAX = 100 * MIB
STREAMS_PER_ACCOUNT = 2
STREAMS_PER_PROCESS = 6
LIMITS = {
    "HERALD_RATE_PER_SECOND": "5",
    "HERALD_RATE_BURST": "20",
    "HERALD_FEED_SSE_STREAMS_PER_ACCOUNT": str(STREAMS_PER_ACCOUNT),
    "HERALD_FEED_SSE_MAX_CONNECTIONS": str(STREAMS_PER_PROCESS),
    "HERALD_FEED_SSE_QUEUE_MAX": "4",
}


@dataclass
class Limited:
    publisher: ServiceProcess
    feed: ServiceProcess
    pub: httpx.AsyncClient
    fd: httpx.AsyncClient


@pytest.fixture
async def limited(
    spawn_service: Callable[..., ServiceProcess], fanout: ServiceProcess
) -> AsyncIterator[Limited]:
    publisher, feed = spawn_service("publisher", **LIMITS), spawn_service("feed", **LIMITS)
    await asyncio.gather(publisher.start(), feed.start())
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        yield Limited(publisher, feed, pub, fd)


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def _chunks(total: int, size: int = 8192) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


async def test_oversize_bodies_are_413(limited: Limited) -> None:
    me = auth(f"big-{uuid.uuid4().hex[:8]}")
    huge = {"handle": "big_body", "name": "x", "description": "d" * 70_000}
    _problem(await limited.pub.post("/v1/channels", json=huge, headers=me), 413)
    streamed = await limited.pub.post(
        "/v1/channels",
        content=_chunks(200_000),
        headers={**me, "content-type": "application/json"},
    )
    _problem(streamed, 413)
    views = {"post_ids": [str(uuid.uuid4())] * 3000}
    _problem(await limited.fd.post("/v1/views", json=views, headers=me), 413)
    chunked = await limited.fd.put(
        f"/v1/posts/{uuid.uuid4()}/reaction",
        content=_chunks(100_000),
        headers={**me, "content-type": "application/json"},
    )
    _problem(chunked, 413)


async def test_request_flood_per_account_is_429_and_spares_others(limited: Limited) -> None:
    noisy, quiet = auth("noisy-account"), auth("quiet-account")
    for http, path in ((limited.fd, "/v1/timeline"), (limited.pub, f"/v1/channels/{uuid.uuid4()}")):
        answers = await asyncio.gather(*(http.get(path, headers=noisy) for _ in range(40)))
        limited_ones = [r for r in answers if r.status_code == 429]
        assert limited_ones, [r.status_code for r in answers]
        for response in limited_ones:
            _problem(response, 429)
            assert int(response.headers["retry-after"]) >= 1
        assert (await http.get(path, headers=quiet)).status_code in (200, 404)


async def test_stream_caps_per_account_and_per_process(limited: Limited) -> None:
    readers: list[SseReader] = []
    try:
        mine = auth("many-tabs")
        for _ in range(STREAMS_PER_ACCOUNT):
            readers.append(await SseReader(limited.fd, mine).__aenter__())
        over = await limited.fd.get("/v1/stream", headers=mine)
        _problem(over, 429)
        assert over.headers["retry-after"]
        while len(readers) < STREAMS_PER_PROCESS:
            readers.append(await SseReader(limited.fd, auth(f"tab-{len(readers)}")).__aenter__())
        assert all(r.status == 200 for r in readers)
        full = await limited.fd.get("/v1/stream", headers=auth("one-too-many"))
        _problem(full, 503)
        assert full.headers["retry-after"]
    finally:
        for reader in readers:
            await reader.__aexit__()


async def _raw(service: ServiceProcess, head: bytes) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(head)
    await writer.drain()
    return writer


async def test_slow_clients_do_not_block_others(limited: Limited) -> None:
    world = await build_world(limited.pub, limited.fd, tag="slow")
    slow_follower = auth(f"slow-{uuid.uuid4().hex[:8]}")
    await _follow(world, slow_follower)
    token = slow_follower["Authorization"]
    # A stream that is opened and never read, and bodies that trickle in one byte at a time.
    never_read = await _raw(
        limited.feed,
        f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode(),
    )
    trickles = [
        await _raw(
            service,
            b"POST /v1/views HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000\r\nAuthorization: " + token.encode() + b"\r\n\r\n{",
        )
        for service in (limited.feed, limited.publisher)
        for _ in range(10)
    ]
    try:
        reader_headers = auth(f"fast-{uuid.uuid4().hex[:8]}")
        await _follow(world, reader_headers)
        async with SseReader(limited.fd, reader_headers) as fast:
            for i in range(12):  # more than the slow stream's queue holds
                post_id = await publish(
                    limited.pub, world.channel_id, world.owner, {"type": "text", "text": f"n{i}"}
                )
                seen = await fast.next(_post_event(post_id))
                assert seen.data["seq"] >= 3
                for writer in trickles:
                    writer.write(b" ")
        expect(await limited.fd.get("/v1/directory"), 200)
        assert (await limited.pub.get("/healthz")).status_code == 200
    finally:
        for writer in [never_read, *trickles]:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _post_event(post_id: str) -> Callable[[SseEvent], bool]:
    return lambda event: is_post(event) and event.data["post_id"] == post_id


async def _follow(world: World, headers: dict[str, str]) -> None:
    expect(await world.fd.put(f"/v1/channels/{world.channel_id}/follow", headers=headers), 200)


def _rss(process: ServiceProcess) -> int:
    assert process.proc is not None
    return int(psutil.Process(process.proc.pid).memory_info().rss)


async def test_memory_stays_bounded_through_a_flood(
    limited: Limited, fanout: ServiceProcess
) -> None:
    world = await build_world(limited.pub, limited.fd, tag="flood")
    processes = {"publisher": limited.publisher, "feed": limited.feed, "fanout": fanout}
    before = {name: _rss(p) for name, p in processes.items()}
    limits = httpx.Limits(max_connections=16)
    post_ids = [world.photo_post_id, world.poll_post_id]
    padding = "p" * 60_000
    async with (
        httpx.AsyncClient(base_url=limited.feed.base_url, timeout=30, limits=limits) as fd,
        httpx.AsyncClient(base_url=limited.publisher.base_url, timeout=30, limits=limits) as pub,
    ):
        semaphore = asyncio.Semaphore(32)

        async def one(i: int) -> int:
            me = auth(f"flood-{i}")
            async with semaphore:
                if i % 4 == 0:  # near the JSON body limit, refused by validation
                    r = await pub.post("/v1/channels", json={"name": padding}, headers=me)
                elif i % 4 == 1:
                    r = await fd.post("/v1/views", json={"post_ids": post_ids}, headers=me)
                elif i % 4 == 2:
                    r = await fd.get(f"/v1/channels/{world.channel_id}/posts", headers=me)
                else:
                    r = await fd.put(f"/v1/channels/{UUID(world.channel_id)}/follow", headers=me)
                return r.status_code

        statuses = await asyncio.gather(*(one(i) for i in range(3000)))
    assert not [s for s in statuses if s >= 500]
    after = {name: _rss(p) for name, p in processes.items()}
    print(
        "\nRSS MiB before -> after a 3000-request flood:",
        {n: f"{before[n] / MIB:.1f} -> {after[n] / MIB:.1f}" for n in processes},
    )
    for name in processes:
        assert after[name] - before[name] < RSS_GROWTH_MAX, (name, before[name], after[name])
