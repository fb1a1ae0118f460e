"""Followers never see each other: several accounts follow, react and vote; no response
any of them gets (history, timeline, updates, follows, card, directory, live stream)
carries another account's id, and /me/follows shows only the caller's own follows."""

from __future__ import annotations

from uuid import uuid4

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
from tests.integration.feed.sse import SseReader
from tests.support.tokens import auth


async def test_no_response_names_another_account(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    tag = uuid4().hex[:6]
    accounts = [f"acct-{tag}-{name}" for name in ("amina", "bruno", "chen")]
    shared = await create_channel(db, name=f"Shared {tag}")
    own = await create_channel(db, name=f"Only bruno {tag}")
    for account in accounts:
        assert (await client.put(f"/v1/channels/{shared}/follow", headers=auth(account))).is_success
    await client.put(f"/v1/channels/{own}/follow", headers=auth(accounts[1]))

    text_id = await publish.publish(shared, text_body("hello"))
    poll_id = await publish.publish(shared, poll_body("Pick", ["a", "b", "c"], multiple=True))
    await wait_post_visible(client, shared, text_id)
    await wait_post_visible(client, shared, poll_id)
    for i, account in enumerate(accounts):
        headers = auth(account)
        emoji = ["👍", "❤️", "🔥"][i]
        assert (
            await client.put(
                f"/v1/posts/{text_id}/reaction", json={"emoji": emoji}, headers=headers
            )
        ).is_success
        assert (
            await client.put(f"/v1/posts/{poll_id}/vote", json={"options": [i]}, headers=headers)
        ).is_success

    async def all_counted() -> bool:
        page = (await client.get(f"/v1/channels/{shared}/posts")).json()["items"]
        by_id = {p["post_id"]: p for p in page}
        return bool(
            sum(by_id[str(text_id)]["counters"]["reactions"].values()) == 3
            and sum(by_id[str(poll_id)]["counters"]["votes"].values()) == 3
        )

    await eventually(all_counted, what="all reactions and votes counted")

    async def answer(path: str, headers: dict[str, str]) -> httpx.Response:
        # An error page names no account either: only a real answer proves anything.
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/json", path
        return response

    both_posts = {str(text_id), str(poll_id)}
    for me in accounts:
        headers = auth(me)
        others = [a for a in accounts if a != me]
        expected = {str(shared), str(own)} if me == accounts[1] else {str(shared)}
        posts = await answer(f"/v1/channels/{shared}/posts", headers)
        assert both_posts <= {p["post_id"] for p in posts.json()["items"]}
        card = await answer(f"/v1/channels/{shared}", headers)
        assert card.json()["channel_id"] == str(shared)
        timeline = await answer("/v1/timeline", headers)
        assert both_posts <= {p["post_id"] for p in timeline.json()["items"]}
        updates = await answer("/v1/updates", headers)
        assert {u["channel_id"] for u in updates.json()["items"]} == expected
        follows = await answer("/v1/me/follows", headers)
        assert {f["channel_id"] for f in follows.json()["items"]} == expected
        found = await answer(f"/v1/directory?q=Shared {tag}", headers)
        assert [c["channel_id"] for c in found.json()["items"]] == [str(shared)]
        bodies = [r.text for r in (posts, card, timeline, updates, follows, found)]
        async with SseReader(
            client, {**headers, "Last-Event-ID": "0000000000000000-" + "0" * 32}
        ) as s:
            assert s.status == 200
            replayed = [await s.next() for _ in range(2)]
        assert {e.event for e in replayed} == {"post"}
        assert {e.data["post_id"] for e in replayed} == both_posts
        bodies += [str(e.data) for e in replayed]
        for body in bodies:
            for other in others:
                assert other not in body
        # The caller sees their own choice, and only theirs.
        page = (await client.get(f"/v1/channels/{shared}/posts", headers=headers)).json()
        mine = {p["post_id"]: p for p in page["items"]}
        assert mine[str(text_id)]["my_reaction"] == ["👍", "❤️", "🔥"][accounts.index(me)]
        assert mine[str(poll_id)]["my_vote"] == [accounts.index(me)]
