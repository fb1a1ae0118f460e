"""Feed workers: `HERALD_FEED_WORKERS=2` runs two feed processes on one port under a
supervisor. Streams land on both, each gets the posts of its channels, a follow made
through whichever worker answers reaches the account's streams on both, `/metrics` on the
one ops port adds the workers up, and a killed worker is replaced while the port keeps
serving. Also a reconnect storm: many streams resuming with Last-Event-ID at once, past
the replay cap, all get what they missed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from uuid import UUID, uuid4

import asyncpg
import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from shared.runtime import LISTENING
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
from tests.support.tokens import auth

STREAMS = 16
# Enough connections for every stream of a test at once (httpx's default pool is 100).
LIMITS = httpx.Limits(max_connections=400, max_keepalive_connections=20)


def post_of(channel_id: UUID) -> Callable[[SseEvent], bool]:
    return lambda e: is_post(e) and e.data["channel_id"] == str(channel_id)


async def streams_by_worker(client: httpx.AsyncClient, feed: ServiceProcess) -> dict[str, float]:
    """Open streams per worker pid, as one scrape of the feed's ops port reports them
    (worker 0 serves it, with every worker's samples)."""
    response = await client.get(f"{feed.ops_url}/metrics")
    assert response.status_code == 200
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name == "herald_feed_sse_connections":
            for sample in family.samples:
                counts[sample.labels["pid"]] = sample.value
    return counts


def listening(feed: ServiceProcess) -> set[str]:
    """Pids of the workers that said they accept connections on the shared port."""
    pids = set()
    for line in feed.log_text().splitlines():
        if LISTENING in line:
            pids.add(str(orjson.loads(line)["pid"]))
    return pids


async def wait_listening(feed: ServiceProcess, pids: Callable[[set[str]], bool]) -> set[str]:
    async def probe() -> set[str] | None:
        found = listening(feed)
        return found if pids(found) else None

    return await eventually(probe, timeout_s=60, what="feed workers listening")


@contextlib.asynccontextmanager
async def open_streams(readers: list[SseReader]) -> AsyncIterator[list[SseReader]]:
    try:
        await asyncio.gather(*(r.__aenter__() for r in readers))
        yield readers
    finally:
        await asyncio.gather(*(r.__aexit__() for r in readers))


async def open_one(
    client: httpx.AsyncClient,
    feed: ServiceProcess,
    headers: dict[str, str],
    stack: contextlib.AsyncExitStack,
) -> tuple[SseReader, str]:
    """Open a stream and say which worker took it (the pid whose count grew)."""
    before = await streams_by_worker(client, feed)
    reader = await stack.enter_async_context(SseReader(client, headers))
    assert reader.status == 200
    after = await streams_by_worker(client, feed)
    (grown,) = [pid for pid, count in after.items() if count > before.get(pid, 0)]
    return reader, grown


async def test_two_workers_share_the_port_streams_follows_metrics_and_a_killed_worker(
    db: asyncpg.Pool,
    publish: Publisher,
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    feed = await spawn_service(
        "feed", HERALD_FEED_WORKERS="2", HERALD_FEED_SSE_STREAMS_PER_ACCOUNT="40"
    ).start()
    # Ready means one worker answers: wait until both take connections.
    await wait_listening(feed, lambda found: len(found) == 2)
    news = await create_channel(db, name="Spread over workers")
    later = await create_channel(db, name="Followed while streaming")
    readers_of = [f"worker-reader-{uuid4().hex[:8]}-{i}" for i in range(STREAMS)]
    await add_followers(db, news, readers_of)
    me = f"worker-follower-{uuid4().hex[:8]}"
    await add_followers(db, news, [me])

    async with (
        httpx.AsyncClient(base_url=feed.base_url, timeout=30, limits=LIMITS) as client,
        open_streams([SseReader(client, auth(a)) for a in readers_of]) as readers,
        contextlib.AsyncExitStack() as mine_stack,
    ):
        assert all(r.status == 200 for r in readers)
        counts = await streams_by_worker(client, feed)
        assert len(counts) == 2, counts
        assert all(count > 0 for count in counts.values()), f"one worker holds all: {counts}"
        assert sum(counts.values()) == STREAMS

        # Streams of one account on both workers (opened one by one until both hold some).
        mine: list[SseReader] = []
        where: set[str] = set()
        while where != set(counts) and len(mine) < 30:
            reader, pid = await open_one(client, feed, auth(me), mine_stack)
            mine.append(reader)
            where.add(pid)
        assert where == set(counts), "the account's streams all landed on one worker"
        assert sum((await streams_by_worker(client, feed)).values()) == STREAMS + len(mine)

        # Every stream gets the post, whichever worker holds it.
        post = await publish.publish(news, text_body("to every worker"))
        for reader in [*readers, *mine]:
            assert (await reader.next(post_of(news), timeout_s=30)).data["post_id"] == str(post)

        # A follow through whichever worker answers is live on every stream of the account.
        assert (await client.put(f"/v1/channels/{later}/follow", headers=auth(me))).is_success
        fresh = await publish.publish(later, text_body("for the new follower"))
        for reader in mine:
            assert (await reader.next(post_of(later), timeout_s=30)).data["post_id"] == str(fresh)

        # SIGKILL one worker: its streams end, the supervisor starts another in its place.
        killed = next(iter(counts))
        os.kill(int(killed), signal.SIGKILL)

        async def replaced() -> set[str] | None:
            try:
                pids = set(await streams_by_worker(client, feed))
            except httpx.TransportError:
                return None  # a pooled connection to the killed worker
            return pids if killed not in pids and len(pids) == 2 else None

        pids = await eventually(replaced, timeout_s=60, what="the killed worker replaced")
        (successor,) = pids - set(counts)
        await wait_listening(feed, lambda found: successor in found)

    # New streams still open, and once the new worker listens some land on it.
    async with (
        httpx.AsyncClient(base_url=feed.base_url, timeout=30, limits=LIMITS) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        newcomers = [f"worker-newcomer-{uuid4().hex[:8]}-{i}" for i in range(60)]
        await add_followers(db, news, newcomers)
        opened: list[SseReader] = []
        on_successor = 0
        for account in newcomers:
            reader, pid = await open_one(client, feed, auth(account), stack)
            opened.append(reader)
            on_successor += pid == successor
            if on_successor and len(opened) >= 4:
                break
        assert on_successor, "no new stream reached the restarted worker"
        after = await publish.publish(news, text_body("after the restart"))
        for reader in opened:
            assert (await reader.next(post_of(news), timeout_s=30)).data["post_id"] == str(after)
        assert sum((await streams_by_worker(client, feed)).values()) == len(opened)


async def test_a_reconnect_storm_past_the_replay_cap_gets_every_replay(
    db: asyncpg.Pool,
    publish: Publisher,
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    feed = await spawn_service("feed", HERALD_FEED_SSE_REPLAYS_CONCURRENT="2").start()
    channel_id = await create_channel(db, name="Storm")
    accounts = [f"storm-{uuid4().hex[:8]}-{i}" for i in range(200)]
    await add_followers(db, channel_id, accounts)
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=60, limits=LIMITS) as client:
        async with SseReader(client, auth(accounts[0])) as first:
            await publish.publish(channel_id, text_body("before the outage"))
            last_id = (await first.next(post_of(channel_id))).id
        assert last_id is not None
        missed = [await publish.publish(channel_id, text_body(f"missed {i}")) for i in range(2)]
        for post_id in missed:
            await wait_post_visible(client, channel_id, post_id)

        # Everyone comes back at once with the same position; two replays run at a time.
        storm = [SseReader(client, {**auth(a), "Last-Event-ID": last_id}) for a in accounts]
        async with open_streams(storm):
            assert all(r.status == 200 for r in storm)
            for reader in storm:
                replayed = [await reader.next(is_post, timeout_s=60) for _ in missed]
                assert [e.data["post_id"] for e in replayed] == [str(p) for p in missed]
