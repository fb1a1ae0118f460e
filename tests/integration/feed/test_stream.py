"""The live stream: a client that was away gets exactly what it missed, in order, when it
reconnects with Last-Event-ID; streams per account are capped."""

from __future__ import annotations

import asyncpg
import httpx

from tests.integration.feed.builder import Publisher, create_channel, text_body, wait_post_visible
from tests.integration.feed.sse import SseReader, is_post
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
