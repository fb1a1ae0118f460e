"""Privacy canaries: followers with unique marker ids follow, react, vote, view, mute,
mark read and make mistakes; then everything an admin, another account or an operator
can see is crawled — publisher admin views, insights and post status, the feed's
directory, card, history, timeline, updates, media and error bodies, another account's
SSE stream (live and replayed), the log files and /metrics of all five services. No
marker may appear anywhere except in a canary's own answers, and there only its own.
Canaries also subscribe to push with a marker in the endpoint's path, which may appear
nowhere at all: their own list shows the endpoint's origin only. A push canary follows a
channel of its own with a subscription at a loopback push receiver; the push service
pushes a post to it (the receiver decrypts it), and only then are push's logs and
/metrics crawled for its account id and endpoint marker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.push.service import PLANNER_GROUP
from shared.topics import LIVE
from tests.integration.feed.builder import eventually
from tests.integration.feed.sse import SseEvent, SseReader
from tests.integration.feed.test_push_subscriptions import subscription
from tests.integration.publisher.conftest import create_channel
from tests.security.world import World, build_world, expect
from tests.support.processes import ServiceProcess
from tests.support.push_receiver import PushReceiver, b64url_decode
from tests.support.stack import StackSlice
from tests.support.tokens import auth

CANARIES = 3
# Below this on average, a kind of document was (nearly) empty: nothing really searched.
MIN_BYTES_PER_DOCUMENT = 20


@dataclass
class Crawl:
    """Where markers were looked for, and how much was looked at."""

    markers: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)

    def check(self, where: str, text: str, allowed: str | None = None) -> None:
        kind = where.split(":")[0]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + len(text)
        for marker in self.markers:
            if marker != allowed and marker in text:
                self.leaks.append(f"{marker} in {where}: …{_around(text, marker)}…")


def _around(text: str, marker: str) -> str:
    at = text.index(marker)
    return text[max(0, at - 80) : at + len(marker) + 40]


@pytest.fixture(scope="module")
async def retention(stack: StackSlice, service_logs: Path) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess("retention", stack.env(HERALD_RETENTION_INTERVAL_S="1"), service_logs)
    await process.start()
    yield process
    process.stop()


async def _canary_activity(
    world: World, fd: httpx.AsyncClient, canary: str, i: int, push_marker: str
) -> None:
    me = auth(canary)
    # A push subscription whose endpoint path carries a marker: the full endpoint is a
    # capability to push to the canary's browser and must show nowhere, not even to the
    # canary itself (its list shows the origin only).
    push = subscription(f"https://8.8.4.4/wpush/{push_marker}")
    expect(await fd.put("/v1/me/push-subscriptions", json=push, headers=me), 201)
    refused = await fd.put(
        "/v1/me/push-subscriptions",
        json=subscription(f"https://127.0.0.1/wpush/{push_marker}"),
        headers=me,
    )
    assert refused.status_code == 422 and push_marker not in refused.text
    c = f"/v1/channels/{world.channel_id}"
    expect(await fd.put(f"{c}/follow", headers=me), 200)
    expect(await fd.patch(f"{c}/follow", json={"muted": i % 2 == 0}, headers=me), 200)
    expect(await fd.post(f"{c}/read", json={"seq": 1}, headers=me), 200)
    emoji = ["👍", "❤️"][i % 2]
    reaction = f"/v1/posts/{world.photo_post_id}/reaction"
    expect(await fd.put(reaction, json={"emoji": emoji}, headers=me), 200)
    expect(
        await fd.put(f"/v1/posts/{world.poll_post_id}/vote", json={"options": [i]}, headers=me), 200
    )
    views = {"post_ids": [world.photo_post_id, world.poll_post_id]}
    expect(await fd.post("/v1/views", json=views, headers=me), 202)
    # Mistakes, whose error bodies and log lines are crawled too.
    assert (await fd.put(reaction, json={"emoji": "🦄"}, headers=me)).status_code == 422
    bad_vote = await fd.put(
        f"/v1/posts/{world.poll_post_id}/vote", json={"options": [9]}, headers=me
    )
    assert bad_vote.status_code == 422
    assert (
        await fd.put(f"/v1/posts/{uuid.uuid4()}/reaction", json={"emoji": "👍"}, headers=me)
    ).status_code == 404
    assert (
        await fd.post(f"/v1/channels/{world.other_channel_id}/read", json={"seq": 1}, headers=me)
    ).status_code == 404


async def _plan_from_now(stack: StackSlice) -> None:
    """Commit the push planner's group at the end of the live topic, so the push process
    started next plans only posts published from now on. Push tests earlier in the
    session leave the group's offsets behind; resumed from there, it would plan this
    module's earlier posts and push them to the canaries' https endpoints, which are
    public addresses."""
    topic = stack.topic(LIVE.name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=stack.settings().group(PLANNER_GROUP),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        # The topic as the stack declared it (ensure_topics), so its partition count.
        partitions = [TopicPartition(topic, p) for p in range(LIVE.partitions)]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _push_to_canary(
    pub: httpx.AsyncClient,
    fd: httpx.AsyncClient,
    db: asyncpg.Pool,
    canary: str,
    marker: str,
) -> None:
    """`canary` follows a new channel with one subscription, at a loopback receiver whose
    endpoint path is `marker`; a post there reaches it through the push service."""
    key = expect(await fd.get("/v1/push/key"), 200)["public_key"]
    async with PushReceiver(key) as receiver:
        device = receiver.new_subscription(marker)
        # Inserted as the feed would store it: the session's feed keeps production rules
        # and refuses loopback endpoints; the push process here admits them.
        await db.execute(
            """INSERT INTO push_subscriptions (subscription_id, account_id, endpoint, p256dh, auth)
               VALUES ($1, $2, $3, $4, $5)""",
            uuid.uuid4(),
            canary,
            device["endpoint"],
            b64url_decode(device["keys"]["p256dh"]),
            b64url_decode(device["keys"]["auth"]),
        )
        channel = await create_channel(pub)
        expect(await fd.put(channel.url("/follow"), headers=auth(canary)), 200)
        posted = await pub.post(
            channel.url("/posts"),
            json={"type": "text", "text": "Water cut on Elm Street tonight"},
            headers=auth(channel.owner),
        )
        post_id = expect(posted, 202)["post_id"]

        async def pushed() -> bool:
            return any(m.json()["post_id"] == post_id for m in receiver.received_by(marker))

        await eventually(pushed, what="the post pushed to the push canary")


async def test_no_canary_leaks_anywhere(
    pub: httpx.AsyncClient,
    fd: httpx.AsyncClient,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
    retention: ServiceProcess,
    db: asyncpg.Pool,
    stack: StackSlice,
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    world = await build_world(pub, fd, tag="priv")
    canaries = [f"canary-{uuid.uuid4().hex}" for _ in range(CANARIES)]
    push_markers = [f"wpush-{uuid.uuid4().hex}" for _ in range(CANARIES)]
    push_canary, push_canary_marker = f"canary-{uuid.uuid4().hex}", f"wpush-{uuid.uuid4().hex}"
    crawl = Crawl([*canaries, *push_markers, push_canary, push_canary_marker])
    observer = auth(f"observer-{uuid.uuid4().hex[:8]}")
    c = f"/v1/channels/{world.channel_id}"
    expect(await fd.put(f"{c}/follow", headers=observer), 200)

    async with SseReader(fd, observer) as live:
        for i, canary in enumerate(canaries):
            await _canary_activity(world, fd, canary, i, push_markers[i])

        async def counted() -> bool:
            page = (await fd.get(f"{c}/posts")).json()["items"]
            by_id = {p["post_id"]: p["counters"] for p in page}
            photo, poll = by_id[world.photo_post_id], by_id[world.poll_post_id]
            return bool(
                sum(photo["reactions"].values()) == CANARIES
                and sum(poll["votes"].values()) == CANARIES
            )

        await eventually(counted, what="canary reactions and votes counted")
        # A counters event reached the observer's live stream; collect what else came.
        seen = [await live.next(lambda e: e.event == "counters")]
        seen += _drain(live)
    async with SseReader(
        fd, {**observer, "Last-Event-ID": "0000000000000000-" + "0" * 32}
    ) as replay:
        seen += [await replay.next() for _ in range(2)]
    for event in seen:
        crawl.check(f"sse:{event.event}", f"{event.id} {event.event} {event.data}")

    # Publisher: everything an admin sees.
    owner = auth(world.owner)
    admin_paths = [
        c,
        f"{c}/insights",
        f"{c}/posts/{world.photo_post_id}",
        f"{c}/posts/{world.poll_post_id}",
        f"{c}/posts/{uuid.uuid4()}",
        f"/v1/channels/{uuid.uuid4()}",
    ]
    for path in admin_paths:
        crawl.check(f"publisher:{path}", (await pub.get(path, headers=owner)).text)
    insights = (await pub.get(f"{c}/insights", headers=owner)).json()
    assert insights["followers"] >= 1  # numbers, not names

    # Feed: what the public and another account see, errors included.
    feed_paths = [
        "/v1/directory",
        "/v1/directory?q=Security&sort=new",
        f"/v1/channels/{world.handle}",
        c,
        f"{c}/posts",
        f"/v1/media/{world.media_id}",
        "/v1/timeline",
        "/v1/updates",
        "/v1/me/follows",
        "/v1/me/push-subscriptions",
        "/v1/push/key",
        f"/v1/channels/{uuid.uuid4()}/posts",
        "/v1/directory?cursor=garbage",
        f"{c}/posts?limit=1000",
    ]
    for headers in ({}, observer):
        for path in feed_paths:
            response = await fd.get(path, headers=headers)
            crawl.check(
                f"feed:{path}", response.text if path.find("/media/") < 0 else str(response.headers)
            )

    # Each canary's own answers: its own state, nobody else's.
    own_paths = (
        f"{c}/posts",
        "/v1/me/follows",
        "/v1/updates",
        "/v1/timeline",
        c,
        "/v1/me/push-subscriptions",
    )
    for i, canary in enumerate(canaries):
        me = auth(canary)
        for path in own_paths:
            crawl.check(f"own:{path}", (await fd.get(path, headers=me)).text, allowed=canary)
        mine = {p["post_id"]: p for p in (await fd.get(f"{c}/posts", headers=me)).json()["items"]}
        assert mine[world.poll_post_id]["my_vote"] == [i]
        pushes = (await fd.get("/v1/me/push-subscriptions", headers=me)).json()
        assert [p["origin"] for p in pushes] == ["https://8.8.4.4"]

    # Push: a post pushed to the push canary's device, then push is crawled with the rest.
    await _plan_from_now(stack)
    push = await spawn_service("push", HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS="true").start()
    await _push_to_canary(pub, fd, db, push_canary, push_canary_marker)

    # Operators: logs and metrics of all five services.
    services = (publisher, feed, fanout, retention, push)
    async with httpx.AsyncClient(timeout=10) as http:
        for process in services:
            metrics = await http.get(f"{process.ops_url}/metrics")
            assert metrics.status_code == 200
            crawl.check(f"metrics:{process.name}", metrics.text)
    await asyncio.sleep(0.5)  # let buffered log lines reach their files
    for process in services:
        log = process.log_text()
        assert log, f"{process.name} wrote no log lines: nothing to search"
        crawl.check(f"logs:{process.name}", log)

    # The markers are real: the canaries' rows exist, so the crawl had something to find.
    stored = await db.fetchval(
        "SELECT count(*) FROM follows WHERE account_id = ANY($1::text[])", canaries
    )
    assert stored == CANARIES
    endpoints = await db.fetch(
        "SELECT endpoint FROM push_subscriptions WHERE account_id = ANY($1::text[])", canaries
    )
    assert sorted(r["endpoint"].rsplit("/", 1)[1] for r in endpoints) == sorted(push_markers)
    print(
        "\ncanary crawl (documents, bytes):",
        {k: (crawl.counts[k], crawl.bytes[k]) for k in sorted(crawl.counts)},
    )
    # The crawl read what it says it read: a crawl that searched nothing would pass the
    # leak check below vacuously.
    least_documents = {
        "sse": 3,  # the live counters event and the two replayed posts
        "publisher": len(admin_paths),
        "feed": 2 * len(feed_paths),
        "own": CANARIES * len(own_paths),
        "metrics": len(services),
        "logs": len(services),
    }
    for kind, least in least_documents.items():
        assert crawl.counts.get(kind, 0) >= least, (kind, crawl.counts)
        # Any real answer, even a short problem body, is longer than this per document.
        assert crawl.bytes.get(kind, 0) >= MIN_BYTES_PER_DOCUMENT * least, (kind, crawl.bytes)
    assert crawl.leaks == []


def _drain(reader: SseReader) -> list[SseEvent]:
    out: list[SseEvent] = []
    while not reader.events.empty():
        out.append(reader.events.get_nowait())
    return out
