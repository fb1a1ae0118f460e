"""Every "at most N" limit holds under concurrent requests, not only one at a time:
follows per account, pins per channel, admins per channel, push subscriptions per account
(alerts per window and invite uses have their own race tests).

A check that counts and then inserts lets parallel requests all see the count below the
limit and all insert. Each limit here is raced over HTTP against the real services; the
first (follows per account) was exceeded that way: 48 concurrent follows at 1,995 made
2,004 active follows.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from services.feed.api.routes.push import MAX_SUBSCRIPTIONS_PER_ACCOUNT
from services.publisher.store.channels import MAX_ADMINS
from services.publisher.store.pins import MAX_PINS
from tests.integration.feed.builder import wait_post_visible
from tests.integration.feed.test_push_subscriptions import subscription
from tests.security.seed import FOLLOW_LIMIT, seed_channels, seed_follows
from tests.security.world import World, create_channel, expect, new_account, publish
from tests.support.tokens import auth

RACERS = 40


async def active_follows(db: asyncpg.Pool, account_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM follows WHERE account_id = $1 AND active", account_id
    )
    return count


async def test_concurrent_follows_stop_exactly_at_the_follow_limit(
    fd: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    account = new_account("limit")
    await seed_follows(db, account, await seed_channels(db, FOLLOW_LIMIT - 2))
    targets = await seed_channels(db, RACERS)

    answers = await asyncio.gather(
        *(fd.put(f"/v1/channels/{target}/follow", headers=auth(account)) for target in targets)
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 2 + [409] * (RACERS - 2), statuses
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["type"].endswith("/follow-limit"), answer.text
    assert await active_follows(db, account) == FOLLOW_LIMIT
    # Following one already followed is no new follow: still allowed at the limit.
    won = targets[[a.status_code for a in answers].index(200)]
    expect(await fd.put(f"/v1/channels/{won}/follow", headers=auth(account)), 200)


async def test_concurrent_pins_stop_exactly_at_the_pin_limit(world: World) -> None:
    channel_id = await world.fresh_channel()
    posts = [
        await publish(world.pub, channel_id, world.owner, {"type": "text", "text": f"n{n}"})
        for n in range(MAX_PINS + 3)
    ]
    for post_id in posts:
        await wait_post_visible(world.fd, uuid.UUID(channel_id), uuid.UUID(post_id))

    answers = await asyncio.gather(
        *(
            world.pub.put(f"/v1/channels/{channel_id}/pins/{post_id}", headers=auth(world.owner))
            for post_id in posts
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [204] * MAX_PINS + [409] * 3, statuses
    card = expect(await world.fd.get(f"/v1/channels/{channel_id}"), 200)
    won = {post_id for post_id, a in zip(posts, answers, strict=True) if a.status_code == 204}
    assert {pin["post_id"] for pin in card["pinned"]} == won


async def test_concurrent_admin_adds_stop_exactly_at_the_admin_limit(
    pub: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner = new_account("owner")
    channel_id = await create_channel(pub, owner)
    candidates = [new_account("adm") for _ in range(MAX_ADMINS + 4)]

    answers = await asyncio.gather(
        *(
            pub.put(f"/v1/channels/{channel_id}/admins/{who}", headers=auth(owner))
            for who in candidates
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * MAX_ADMINS + [409] * 4, statuses
    admins = await db.fetchval(
        "SELECT count(*) FROM channel_admins WHERE channel_id = $1 AND role = 'admin'",
        uuid.UUID(channel_id),
    )
    assert admins == MAX_ADMINS


async def test_concurrent_push_subscriptions_stop_exactly_at_the_per_account_limit(
    fd: httpx.AsyncClient,
) -> None:
    account = new_account("push")
    extra = 4

    answers = await asyncio.gather(
        *(
            fd.put("/v1/me/push-subscriptions", json=subscription(), headers=auth(account))
            for _ in range(MAX_SUBSCRIPTIONS_PER_ACCOUNT + extra)
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * MAX_SUBSCRIPTIONS_PER_ACCOUNT + [409] * extra, statuses
    listed = expect(await fd.get("/v1/me/push-subscriptions", headers=auth(account)), 200)
    assert len(listed) == MAX_SUBSCRIPTIONS_PER_ACCOUNT
