"""Bad input gets a clear 4xx problem and changes nothing: emoji outside the channel's
set, impossible poll options, reactions to deleted/expired/unknown posts, unknown fields,
garbage cursors, oversized pages."""

from __future__ import annotations

from collections.abc import Awaitable
from uuid import UUID, uuid4

import asyncpg
import httpx

from tests.integration.feed.builder import (
    Publisher,
    create_channel,
    eventually,
    poll_body,
    text_body,
    wait_post_visible,
)
from tests.support.tokens import auth


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def _rows(db: asyncpg.Pool, account: str) -> tuple[int, int]:
    reactions = await db.fetchval("SELECT count(*) FROM reactions WHERE account_id = $1", account)
    votes = await db.fetchval("SELECT count(*) FROM poll_votes WHERE account_id = $1", account)
    return reactions, votes


async def test_bad_interactions_change_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    account = f"bad-{uuid4().hex[:6]}"
    me = auth(account)
    open_channel = await create_channel(db)
    limited = await create_channel(
        db, settings={"reactions": "limited", "allowed_reactions": ["👍", "❤️"]}
    )
    silent = await create_channel(db, settings={"reactions": "none"})
    text_id = await publish.publish(open_channel, text_body("hi"))
    poll_id = await publish.publish(open_channel, poll_body("Q", ["a", "b"]))
    limited_id = await publish.publish(limited, text_body("hi"))
    silent_id = await publish.publish(silent, text_body("hi"))
    expired_id = await publish.publish(open_channel, text_body("old news"))
    deleted_id = await publish.publish(open_channel, text_body("oops"))
    for channel_id, post_id in (
        (open_channel, text_id),
        (open_channel, poll_id),
        (limited, limited_id),
        (silent, silent_id),
        (open_channel, expired_id),
        (open_channel, deleted_id),
    ):
        await wait_post_visible(client, channel_id, post_id)
    # Past its expiry before retention has run: it must already be invisible.
    await db.execute(
        "UPDATE posts SET expires_at = now() - interval '1 second' WHERE post_id = $1", expired_id
    )
    await publish.delete(open_channel, deleted_id)

    async def deleted() -> bool:
        status = await db.fetchval("SELECT status FROM posts WHERE post_id = $1", deleted_id)
        return bool(status == "deleted")

    await eventually(deleted, what="post deleted by fan-out")

    def react(post_id: UUID, emoji: object) -> Awaitable[httpx.Response]:
        return client.put(f"/v1/posts/{post_id}/reaction", json={"emoji": emoji}, headers=me)

    _problem(await react(text_id, "abc"), 422)
    _problem(await react(text_id, "👍👍"), 422)
    _problem(await react(text_id, "©"), 422)  # a symbol, but not a fully-qualified emoji
    _problem(await react(text_id, "°"), 422)
    _problem(await react(text_id, "👍" * 40), 422)
    _problem(await react(limited_id, "🔥"), 422)
    _problem(await react(silent_id, "👍"), 403)
    _problem(await react(expired_id, "👍"), 404)
    _problem(await react(deleted_id, "👍"), 404)
    _problem(await react(uuid4(), "👍"), 404)
    _problem(
        await client.put(
            f"/v1/posts/{text_id}/reaction", json={"emoji": "👍", "weight": 9}, headers=me
        ),
        422,
    )

    def vote(post_id: UUID, options: object) -> Awaitable[httpx.Response]:
        return client.put(f"/v1/posts/{post_id}/vote", json={"options": options}, headers=me)

    _problem(await vote(poll_id, [99]), 422)
    _problem(await vote(poll_id, [-1]), 422)
    _problem(await vote(poll_id, [0, 1]), 422)  # single choice
    _problem(await vote(poll_id, [0, 0]), 422)
    _problem(await vote(poll_id, []), 422)
    _problem(await vote(text_id, [0]), 422)  # not a poll
    _problem(await vote(expired_id, [0]), 404)
    assert await _rows(db, account) == (0, 0)

    # The allowed ones work, and a second vote replaces the first (documented semantics).
    assert (await react(limited_id, "❤️")).status_code == 200
    assert (await vote(poll_id, [1])).json()["my_vote"] == [1]
    assert (await vote(poll_id, [0])).json()["my_vote"] == [0]
    assert await _rows(db, account) == (1, 1)

    _problem(await client.post("/v1/views", json={"post_ids": []}, headers=me), 422)
    many = [str(uuid4()) for _ in range(101)]
    _problem(await client.post("/v1/views", json={"post_ids": many}, headers=me), 422)
    viewed = await client.post(
        "/v1/views", json={"post_ids": [str(expired_id), str(deleted_id)]}, headers=me
    )
    assert viewed.json()["accepted"] == 0


async def test_bad_listing_and_follow_input(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = auth(f"bad-{uuid4().hex[:6]}")
    channel_id = await create_channel(db)
    for path in ("/v1/timeline", "/v1/updates", "/v1/me/follows", "/v1/directory"):
        _problem(await client.get(path, params={"cursor": "%%%garbage"}, headers=me), 400)
        _problem(await client.get(path, params={"limit": 10000}, headers=me), 422)
    _problem(await client.get(f"/v1/channels/{channel_id}/posts", params={"limit": 10000}), 422)
    _problem(await client.get(f"/v1/channels/{uuid4()}/posts"), 404)
    _problem(await client.put(f"/v1/channels/{uuid4()}/follow", headers=me), 404)
    _problem(
        await client.patch(f"/v1/channels/{channel_id}/follow", json={"muted": True}, headers=me),
        404,
    )
    await client.put(f"/v1/channels/{channel_id}/follow", headers=me)
    _problem(
        await client.patch(f"/v1/channels/{channel_id}/follow", json={"mute": True}, headers=me),
        422,
    )
    _problem(
        await client.post(f"/v1/channels/{channel_id}/read", json={"seq": -1}, headers=me), 422
    )
    _problem(await client.put(f"/v1/channels/{channel_id}/follow"), 401)
    follows = (await client.get("/v1/me/follows", headers=me)).json()["items"]
    assert follows[0]["muted"] is False
