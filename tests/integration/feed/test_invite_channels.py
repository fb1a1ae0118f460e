"""Audience on the real stack (publisher → posts topic → fan-out → feed): invite-only
channels answer 404 on every read path to anyone who neither follows nor administers
them; invites admit followers, each use counted once, the last use going to one of two
racing followers; used-up, expired and revoked codes are refused; a follower from before
the channel became invite-only keeps access; unlisted channels stay out of the directory
and search yet can be followed by id or handle.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.security.world import World, build_world, create_channel, expect, new_account
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth, operator_auth

RACERS = 8


@pytest.fixture
async def pub(publisher: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as http:
        yield http


@pytest.fixture
async def fd(feed: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=20) as http:
        yield http


async def set_visibility(world: World, visibility: str) -> None:
    url = f"/v1/channels/{world.channel_id}"
    current = expect(await world.pub.get(url, headers=auth(world.owner)), 200)["settings"]
    patched = await world.pub.patch(
        url, json={"settings": {**current, "visibility": visibility}}, headers=auth(world.owner)
    )
    assert expect(patched, 200)["settings"]["visibility"] == visibility


@pytest.fixture
async def invite_world(
    pub: httpx.AsyncClient, fd: httpx.AsyncClient, fanout: ServiceProcess
) -> AsyncIterator[tuple[World, dict[str, str]]]:
    """A channel with a photo post and a poll, followed by `early` while it was public,
    then made invite-only by its owner."""
    world = await build_world(pub, fd, tag=f"inv{uuid.uuid4().hex[:6]}")
    early = auth(new_account("early"))
    expect(await fd.put(f"/v1/channels/{world.channel_id}/follow", headers=early), 200)
    await set_visibility(world, "invite")
    yield world, early


async def create_invite(world: World, **body: Any) -> dict[str, Any]:
    created = await world.pub.post(
        f"/v1/channels/{world.channel_id}/invites", json=body, headers=auth(world.admin)
    )
    invite: dict[str, Any] = expect(created, 201)
    return invite


def read_paths(world: World) -> list[str]:
    c = f"/v1/channels/{world.channel_id}"
    return [c, f"/v1/channels/{world.handle}", f"{c}/posts", f"/v1/media/{world.media_id}"]


async def crawl(world: World, headers: dict[str, str]) -> dict[str, int]:
    """The status of every feed path that reads or touches the channel, for one caller."""
    fd = world.fd
    out = {path: (await fd.get(path, headers=headers)).status_code for path in read_paths(world)}
    if not headers:
        return out
    c = f"/v1/channels/{world.channel_id}"
    out["react"] = (
        await fd.put(
            f"/v1/posts/{world.photo_post_id}/reaction", json={"emoji": "👍"}, headers=headers
        )
    ).status_code
    out["vote"] = (
        await fd.put(f"/v1/posts/{world.poll_post_id}/vote", json={"options": [1]}, headers=headers)
    ).status_code
    views = await fd.post("/v1/views", json={"post_ids": [world.photo_post_id]}, headers=headers)
    out["views"] = 200 if expect(views, 202)["accepted"] == 1 else 404
    out["read"] = (await fd.post(f"{c}/read", json={"seq": 1}, headers=headers)).status_code
    return out


async def test_every_read_path_is_404_to_strangers_and_open_to_followers_and_admins(
    invite_world: tuple[World, dict[str, str]],
) -> None:
    world, early = invite_world
    stranger = auth(new_account("stranger"))
    for who, headers in (
        ("anonymous", {}),
        ("stranger", stranger),
        ("operator", operator_auth(new_account("op"))),
        ("other channel's admin", auth(world.other_admin)),
    ):
        statuses = await crawl(world, headers)
        assert set(statuses.values()) == {404}, (who, statuses)

    # The follower from before the change keeps everything.
    statuses = await crawl(world, early)
    assert set(statuses.values()) == {200}, statuses
    page = expect(await world.fd.get(f"/v1/channels/{world.channel_id}/posts", headers=early), 200)
    assert {p["post_id"] for p in page["items"]} >= {world.photo_post_id, world.poll_post_id}

    # An admin who does not follow reads (and reacts) too; the read marker is a follower's.
    statuses = await crawl(world, auth(world.admin))
    assert statuses.pop("read") == 404
    assert set(statuses.values()) == {200}, statuses

    # Nobody finds it in the directory or search, the follower neither.
    for headers in ({}, early):
        listed = expect(
            await world.fd.get(
                "/v1/directory", params={"q": world.handle, "limit": 100}, headers=headers
            ),
            200,
        )
        assert world.channel_id not in {e["channel_id"] for e in listed["items"]}

    # Following without a code, or with a made-up one, is the 404 of no channel at all.
    follow = f"/v1/channels/{world.channel_id}/follow"
    refused = await world.fd.put(follow, headers=stranger)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    guessed = await world.fd.put(follow, json={"invite_code": "x" * 32}, headers=stranger)
    assert guessed.status_code == 404
    assert refused.json()["detail"] == guessed.json()["detail"]
    assert set((await crawl(world, stranger)).values()) == {404}

    # Unfollowing gives access up.
    expect(await world.fd.delete(follow, headers=early), 204)
    assert set((await crawl(world, early)).values()) == {404}


async def test_invites_admit_followers_until_used_up_expired_or_revoked(
    invite_world: tuple[World, dict[str, str]], db: asyncpg.Pool
) -> None:
    world, early = invite_world
    fd, follow = world.fd, f"/v1/channels/{world.channel_id}/follow"
    invite = await create_invite(world, max_uses=2)

    first, second, third = (auth(new_account("inv")) for _ in range(3))
    expect(await fd.put(follow, json={"invite_code": invite["code"]}, headers=first), 200)
    assert set((await crawl(world, first)).values()) == {200}
    # A current follower re-following needs no code and uses none; one with a code keeps it.
    expect(await fd.put(follow, headers=first), 200)
    expect(await fd.put(follow, json={"invite_code": invite["code"]}, headers=early), 200)
    expect(await fd.put(follow, json={"invite_code": invite["code"]}, headers=second), 200)
    used_up = await fd.put(follow, json={"invite_code": invite["code"]}, headers=third)
    assert used_up.status_code == 404
    assert set((await crawl(world, third)).values()) == {404}

    listed = expect(
        await world.pub.get(f"/v1/channels/{world.channel_id}/invites", headers=auth(world.owner)),
        200,
    )
    mine = next(i for i in listed["items"] if i["invite_id"] == invite["invite_id"])
    assert (mine["uses"], mine["max_uses"], mine["revoked"]) == (2, 2, False)
    assert "code" not in mine and invite["code"] not in str(listed)

    revoked = await create_invite(world)
    expect(
        await world.pub.delete(
            f"/v1/channels/{world.channel_id}/invites/{revoked['invite_id']}",
            headers=auth(world.admin),
        ),
        204,
    )
    refused = await fd.put(follow, json={"invite_code": revoked["code"]}, headers=third)
    assert refused.status_code == 404

    expired = await create_invite(world, expires_in_s=60)
    # Time passing, compressed: the publisher's expiry moved into the past.
    await db.execute(
        "UPDATE channel_invites SET expires_at = now() - interval '1 second' WHERE invite_id = $1",
        uuid.UUID(expired["invite_id"]),
    )
    refused = await fd.put(follow, json={"invite_code": expired["code"]}, headers=third)
    assert refused.status_code == 404

    # A good code of another channel opens nothing here.
    other = await world.pub.post(
        f"/v1/channels/{world.other_channel_id}/invites", json={}, headers=auth(world.other_admin)
    )
    refused = await fd.put(follow, json={"invite_code": expect(other, 201)["code"]}, headers=third)
    assert refused.status_code == 404

    # None of the refusals counted a use; a fresh invite still admits the refused account.
    uses = await db.fetchval(
        "SELECT sum(uses) FROM channel_invites WHERE channel_id = $1", uuid.UUID(world.channel_id)
    )
    assert uses == 2
    fresh = await create_invite(world, max_uses=1)
    expect(await fd.put(follow, json={"invite_code": fresh["code"]}, headers=third), 200)
    assert set((await crawl(world, third)).values()) == {200}


async def test_racing_followers_for_the_last_use_get_one_success(
    invite_world: tuple[World, dict[str, str]], db: asyncpg.Pool
) -> None:
    world, _ = invite_world
    invite = await create_invite(world, max_uses=1)
    follow = f"/v1/channels/{world.channel_id}/follow"
    names = [new_account("race") for _ in range(RACERS)]
    answers = await asyncio.gather(
        *(
            world.fd.put(follow, json={"invite_code": invite["code"]}, headers=auth(name))
            for name in names
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [404] * (RACERS - 1), statuses
    winner = names[[a.status_code for a in answers].index(200)]
    assert set((await crawl(world, auth(winner))).values()) == {200}
    following = await db.fetch(
        "SELECT account_id FROM follows WHERE channel_id = $1 AND active "
        "AND account_id = ANY($2::text[])",
        uuid.UUID(world.channel_id),
        names,
    )
    assert [r["account_id"] for r in following] == [winner]
    uses = await db.fetchval(
        "SELECT uses FROM channel_invites WHERE invite_id = $1", uuid.UUID(invite["invite_id"])
    )
    assert uses == 1


async def test_unlisted_channels_are_not_listed_but_followable_by_id_or_handle(
    pub: httpx.AsyncClient, fd: httpx.AsyncClient
) -> None:
    word = f"aud{uuid.uuid4().hex[:10]}"
    owner = new_account("owner")
    unlisted = await create_channel(
        pub, owner, name=f"Unlisted {word}", settings={"visibility": "unlisted"}
    )
    listed = await create_channel(pub, owner, name=f"Listed {word}")
    for params in ({"q": word}, {"q": word, "sort": "new"}, {"q": word, "sort": "popular"}):
        found = expect(await fd.get("/v1/directory", params=params), 200)
        ids = {e["channel_id"] for e in found["items"]}
        # The public twin is found by the same search: the query works, the filter hides.
        assert listed in ids and unlisted not in ids, (params, ids)
    newest = expect(await fd.get("/v1/directory", params={"sort": "new", "limit": 100}), 200)
    assert listed in {e["channel_id"] for e in newest["items"]}
    assert unlisted not in {e["channel_id"] for e in newest["items"]}

    handle = expect(await pub.get(f"/v1/channels/{unlisted}", headers=auth(owner)), 200)["handle"]
    card = expect(await fd.get(f"/v1/channels/{handle}"), 200)
    assert card["channel_id"] == unlisted
    expect(await fd.get(f"/v1/channels/{unlisted}/posts"), 200)
    follower = auth(new_account("fol"))
    followed = expect(
        await fd.put(f"/v1/channels/{card['channel_id']}/follow", headers=follower), 200
    )
    assert followed["following"] is True
