"""A newcomer's journey: find a channel, follow it, see the next post in /updates, the
timeline and the live stream, react, vote, mark read, and unfollow."""

from __future__ import annotations

import asyncpg
import httpx

from tests.integration.feed.builder import (
    Publisher,
    create_channel,
    eventually,
    poll_body,
    text_body,
    unique_handle,
    wait_post_visible,
)
from tests.integration.feed.sse import SseReader, is_post
from tests.support.tokens import auth


async def test_newcomer_journey(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    word = f"okapi{unique_handle('')[1:7]}"
    channel_id = await create_channel(db, name=f"{word} Club", category="sports", country="CD")
    me = auth("newcomer-1")

    found = (await client.get("/v1/directory", params={"q": word})).json()["items"]
    assert [c["channel_id"] for c in found] == [str(channel_id)]

    followed = await client.put(f"/v1/channels/{channel_id}/follow", headers=me)
    assert followed.status_code == 200 and followed.json()["following"] is True
    again = await client.put(f"/v1/channels/{channel_id}/follow", headers=me)
    assert again.json()["followed_at"] == followed.json()["followed_at"]  # idempotent
    mine = (await client.get("/v1/me/follows", headers=me)).json()["items"]
    assert [f["channel_id"] for f in mine] == [str(channel_id)]

    async with SseReader(client, me) as stream:
        assert stream.status == 200
        post_id = await publish.publish(channel_id, text_body("Kick-off at 15:00"))
        live = await stream.next(is_post)
        assert live.data["post_id"] == str(post_id)
        assert live.data["body"]["text"] == "Kick-off at 15:00"
        assert live.id

        await wait_post_visible(client, channel_id, post_id)
        updates = (await client.get("/v1/updates", headers=me)).json()["items"]
        assert len(updates) == 1
        assert updates[0]["channel_id"] == str(channel_id)
        assert updates[0]["unread_count"] == 1
        assert updates[0]["last_post"]["preview"] == "Kick-off at 15:00"
        timeline = (await client.get("/v1/timeline", headers=me)).json()["items"]
        assert [t["post_id"] for t in timeline] == [str(post_id)]

        poll_id = await publish.publish(channel_id, poll_body("Who wins?", ["Home", "Away"]))
        assert (await stream.next(is_post)).data["post_id"] == str(poll_id)
        poll = await wait_post_visible(client, channel_id, poll_id)

        reacted = await client.put(
            f"/v1/posts/{post_id}/reaction", json={"emoji": "👍"}, headers=me
        )
        assert reacted.status_code == 200 and reacted.json()["my_reaction"] == "👍"
        voted = await client.put(f"/v1/posts/{poll_id}/vote", json={"options": [1]}, headers=me)
        assert voted.json()["my_vote"] == [1]
        # Voting again replaces the earlier choice.
        revoted = await client.put(f"/v1/posts/{poll_id}/vote", json={"options": [0]}, headers=me)
        assert revoted.json()["my_vote"] == [0]
        viewed = await client.post(
            "/v1/views", json={"post_ids": [str(post_id), str(poll_id)]}, headers=me
        )
        assert viewed.status_code == 202 and viewed.json()["accepted"] == 2

        async def counted() -> dict[str, dict[str, object]] | None:
            page = (await client.get(f"/v1/channels/{channel_id}/posts", headers=me)).json()
            posts = {p["post_id"]: p for p in page["items"]}
            text, vote = posts[str(post_id)], posts[str(poll_id)]
            done = (
                text["counters"]["reactions"] == {"👍": 1}
                and vote["counters"]["votes"] == {"0": 1}
                and text["counters"]["views"] == 1
            )
            return posts if done else None

        posts = await eventually(counted, what="counters aggregated by fan-out")
        assert posts[str(post_id)]["my_reaction"] == "👍"
        assert posts[str(poll_id)]["my_vote"] == [0]
        assert poll["seq"] == 2
        counters = await stream.next(lambda e: e.event == "counters")
        assert counters.data["channel_id"] == str(channel_id)

    read = await client.post(f"/v1/channels/{channel_id}/read", json={"seq": 2}, headers=me)
    assert read.status_code == 200 and read.json()["last_read_seq"] == 2
    updates = (await client.get("/v1/updates", headers=me)).json()["items"]
    assert updates[0]["unread_count"] == 0

    unfollowed = await client.delete(f"/v1/channels/{channel_id}/follow", headers=me)
    assert unfollowed.status_code == 204
    assert (await client.delete(f"/v1/channels/{channel_id}/follow", headers=me)).status_code == 204
    assert (await client.get("/v1/me/follows", headers=me)).json()["items"] == []
    assert (await client.get("/v1/updates", headers=me)).json()["items"] == []
    assert (await client.get("/v1/timeline", headers=me)).json()["items"] == []
