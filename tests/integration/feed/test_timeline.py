"""The merged timeline reads the same whether a channel is fanned out on write (at most
the threshold of followers: 20 in this session) or merged at read time (21 and more):
newest first, only since the follow, never muted or unfollowed channels, stable pages."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg
import httpx

from tests.conftest import SESSION_FANOUT_WRITE_MAX_FOLLOWERS
from tests.integration.feed.builder import (
    Publisher,
    add_followers,
    create_channel,
    eventually,
    text_body,
    wait_post_visible,
)
from tests.support.tokens import auth


async def _timeline(client: httpx.AsyncClient, headers: dict[str, str], limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/timeline", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["post_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("timeline never ended")


async def test_same_timeline_above_and_below_the_fanout_threshold(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    tag = uuid4().hex[:6]
    small = await create_channel(db, name="Small club")
    large = await create_channel(db, name="Large club")
    muted = await create_channel(db, name="Muted club")
    crowd = [f"crowd-{tag}-{i}" for i in range(SESSION_FANOUT_WRITE_MAX_FOLLOWERS + 1)]
    await add_followers(db, large, crowd)
    early, late = auth(f"early-{tag}"), auth(f"late-{tag}")
    for channel_id in (small, large, muted):
        assert (await client.put(f"/v1/channels/{channel_id}/follow", headers=early)).is_success
    await client.patch(f"/v1/channels/{muted}/follow", json={"muted": True}, headers=early)

    posts: list[tuple[UUID, UUID]] = []
    for i in range(3):
        for channel_id in (small, large, muted):
            posts.append((channel_id, await publish.publish(channel_id, text_body(f"p{i}"))))
    for channel_id, post_id in posts:
        await wait_post_visible(client, channel_id, post_id)
    fanned = dict(
        await db.fetch(
            "SELECT channel_id, bool_and(fanned_out) FROM posts WHERE channel_id = ANY($1) "
            "GROUP BY channel_id",
            [small, large],
        )
    )
    assert fanned == {small: True, large: False}  # both paths are exercised

    # The late follower joins both channels now and sees only what comes after.
    for channel_id in (small, large):
        assert (await client.put(f"/v1/channels/{channel_id}/follow", headers=late)).is_success
    later = [
        (channel_id, await publish.publish(channel_id, text_body("later")))
        for channel_id in (large, small)
    ]
    for channel_id, post_id in later:
        await wait_post_visible(client, channel_id, post_id)

    expected_early = [str(p) for c, p in reversed(posts + later) if c != muted]
    assert await _timeline(client, early, limit=100) == expected_early
    # Pages of one give the same sequence: the keyset neither skips nor repeats.
    assert await _timeline(client, early, limit=1) == expected_early
    assert await _timeline(client, late, limit=2) == [str(p) for _, p in reversed(later)]

    # Unfollowing removes a channel's posts on either side of the threshold.
    for channel_id in (small, large):
        await client.delete(f"/v1/channels/{channel_id}/follow", headers=late)
    assert await _timeline(client, late, limit=10) == []
    # A deleted post leaves both kinds of timeline.
    await publish.delete(small, later[1][1])
    await publish.delete(large, later[0][1])

    async def gone() -> bool:
        return str(later[0][1]) not in await _timeline(client, early, limit=100) and str(
            later[1][1]
        ) not in await _timeline(client, early, limit=100)

    await eventually(gone, what="deleted posts gone from the timeline")
    assert await _timeline(client, early, limit=100) == expected_early[2:]
