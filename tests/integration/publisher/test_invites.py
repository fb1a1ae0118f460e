"""Invites and visibility on the publisher (real publisher and Postgres): admins create,
list and revoke a channel's invites; the code is shown once and only its sha256 is kept;
bad input is a 422 that creates nothing; the owner sets `settings.visibility`, which a
settings change that leaves it out keeps.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

import asyncpg
import httpx

from tests.integration.publisher.conftest import account, channel_body, create_channel
from tests.support.tokens import auth

DAY_S = 24 * 3600


async def test_create_list_revoke_and_only_the_hash_is_stored(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    channel = await create_channel(client)
    admin = account("admin")
    assert (
        await client.put(channel.url(f"/admins/{admin}"), headers=auth(channel.owner))
    ).status_code == 201
    created = await client.post(
        channel.url("/invites"), json={"expires_in_s": 3600, "max_uses": 5}, headers=auth(admin)
    )
    assert created.status_code == 201, created.text
    invite = created.json()
    code = invite["code"]
    # ≥ 128 random bits: URL-safe base64 of at least 16 bytes.
    assert len(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))) >= 16
    assert (invite["uses"], invite["max_uses"], invite["revoked"]) == (0, 5, False)

    row = await db.fetchrow(
        "SELECT * FROM channel_invites WHERE invite_id = $1", uuid.UUID(invite["invite_id"])
    )
    assert row["code_hash"] == hashlib.sha256(code.encode()).digest()
    assert code not in str(dict(row))

    second = (await client.post(channel.url("/invites"), json={}, headers=auth(admin))).json()
    assert second["code"] != code and second["max_uses"] is None
    # Default expiry: a week.
    lifetime = _seconds(second["expires_at"]) - _seconds(second["created_at"])
    assert abs(lifetime - 7 * DAY_S) < 60

    listed = await client.get(channel.url("/invites"), headers=auth(channel.owner))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["invite_id"] for i in items] == [second["invite_id"], invite["invite_id"]]
    assert all("code" not in i for i in items) and code not in listed.text

    revoke = channel.url(f"/invites/{invite['invite_id']}")
    assert (await client.delete(revoke, headers=auth(admin))).status_code == 204
    assert (await client.delete(revoke, headers=auth(admin))).status_code == 204
    after = (await client.get(channel.url("/invites"), headers=auth(admin))).json()["items"]
    states = {i["invite_id"]: i["revoked"] for i in after}
    assert states == {invite["invite_id"]: True, second["invite_id"]: False}
    unknown = await client.delete(channel.url(f"/invites/{uuid.uuid4()}"), headers=auth(admin))
    assert unknown.status_code == 404

    # Another channel's admin can neither see nor revoke these.
    other = await create_channel(client)
    stranger = auth(other.owner)
    assert (await client.get(channel.url("/invites"), headers=stranger)).status_code == 404
    assert (
        await client.delete(channel.url(f"/invites/{second['invite_id']}"), headers=stranger)
    ).status_code == 404
    cross = await client.delete(other.url(f"/invites/{second['invite_id']}"), headers=stranger)
    assert cross.status_code == 404


async def test_bad_invite_input_is_422_and_creates_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    channel = await create_channel(client)
    owner = auth(channel.owner)
    for body in (
        {"expires_in_s": 30 * DAY_S + 1},
        {"expires_in_s": 0},
        {"max_uses": 0},
        {"max_uses": -3},
        {"max_uses": "many"},
        {"code": "mine"},
    ):
        refused = await client.post(channel.url("/invites"), json=body, headers=owner)
        assert refused.status_code == 422, (body, refused.text)
    assert (
        await client.post(channel.url("/invites"), json={"expires_in_s": 30 * DAY_S}, headers=owner)
    ).status_code == 201
    count = await db.fetchval(
        "SELECT count(*) FROM channel_invites WHERE channel_id = $1", uuid.UUID(channel.channel_id)
    )
    assert count == 1


async def test_live_invites_are_bounded(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    channel = await create_channel(client)
    # 99 live invites and one revoked one, as if created over time.
    await db.execute(
        """
        INSERT INTO channel_invites (invite_id, channel_id, code_hash, expires_at, revoked_at)
        SELECT gen_random_uuid(), $1, sha256(convert_to(g::text || $2, 'UTF8')),
               now() + interval '1 day', CASE WHEN g = 0 THEN now() END
        FROM generate_series(0, 99) g
        """,
        uuid.UUID(channel.channel_id),
        uuid.uuid4().hex,
    )
    owner = auth(channel.owner)
    assert (await client.post(channel.url("/invites"), json={}, headers=owner)).status_code == 201
    full = await client.post(channel.url("/invites"), json={}, headers=owner)
    assert full.status_code == 409 and full.json()["type"].endswith("too-many-invites")
    # Revoking one makes room again.
    listed = (await client.get(channel.url("/invites?limit=100"), headers=owner)).json()
    live = next(i for i in listed["items"] if not i["revoked"])
    revoke = channel.url(f"/invites/{live['invite_id']}")
    assert (await client.delete(revoke, headers=owner)).status_code == 204
    assert (await client.post(channel.url("/invites"), json={}, headers=owner)).status_code == 201


async def test_only_the_newest_dead_invites_are_kept(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    channel = await create_channel(client)
    channel_id = uuid.UUID(channel.channel_id)
    # 150 expired and 30 revoked invites, as an admin could leave behind over months.
    await db.execute(
        """
        INSERT INTO channel_invites (invite_id, channel_id, code_hash, expires_at, revoked_at)
        SELECT gen_random_uuid(), $1, sha256(convert_to(g::text || $2, 'UTF8')),
               CASE WHEN g < 150 THEN now() - interval '1 hour' ELSE now() + interval '1 day'
               END,
               CASE WHEN g >= 150 THEN now() END
        FROM generate_series(0, 179) g
        """,
        channel_id,
        uuid.uuid4().hex,
    )
    created = await client.post(channel.url("/invites"), json={}, headers=auth(channel.owner))
    assert created.status_code == 201
    counts = await db.fetchrow(
        """
        SELECT count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > now()) AS live,
               count(*) FILTER (WHERE revoked_at IS NOT NULL OR expires_at <= now()) AS dead
        FROM channel_invites WHERE channel_id = $1
        """,
        channel_id,
    )
    assert (counts["live"], counts["dead"]) == (1, 100)


async def test_visibility_is_set_on_create_and_by_the_owner_only(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner = account("owner")
    body = channel_body(settings={"visibility": "invite"})
    created = await client.post("/v1/channels", json=body, headers=auth(owner))
    assert created.status_code == 201
    channel_id = created.json()["channel_id"]
    assert created.json()["settings"]["visibility"] == "invite"
    column = "SELECT visibility FROM channels WHERE channel_id = $1"
    assert await db.fetchval(column, uuid.UUID(channel_id)) == "invite"

    url = f"/v1/channels/{channel_id}"
    # A settings change that leaves visibility out keeps it: nothing opens by accident.
    kept = await client.patch(url, json={"settings": {"reactions": "none"}}, headers=auth(owner))
    assert kept.status_code == 200
    assert kept.json()["settings"] == {
        **kept.json()["settings"],
        "reactions": "none",
        "visibility": "invite",
    }
    assert await db.fetchval(column, uuid.UUID(channel_id)) == "invite"

    admin = account("admin")
    assert (await client.put(f"{url}/admins/{admin}", headers=auth(owner))).status_code == 201
    refused = await client.patch(
        url, json={"settings": {"visibility": "public"}}, headers=auth(admin)
    )
    assert refused.status_code == 403
    bad = await client.patch(url, json={"settings": {"visibility": "secret"}}, headers=auth(owner))
    assert bad.status_code == 422
    assert await db.fetchval(column, uuid.UUID(channel_id)) == "invite"

    opened = await client.patch(
        url, json={"settings": {"visibility": "unlisted"}}, headers=auth(owner)
    )
    assert opened.json()["settings"]["visibility"] == "unlisted"
    assert await db.fetchval(column, uuid.UUID(channel_id)) == "unlisted"
    default = await client.post("/v1/channels", json=channel_body(), headers=auth(owner))
    assert default.json()["settings"]["visibility"] == "public"


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
