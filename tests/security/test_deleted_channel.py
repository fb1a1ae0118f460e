"""A deleted channel is gone for its followers at once: its follow can no longer be muted
or marked read (404, like every other request about it), and the follow left behind until
retention purges it does not hold a place under the follow limit."""

from __future__ import annotations

import asyncpg
import httpx

from tests.security.seed import FOLLOW_LIMIT, seed_channels, seed_follows
from tests.security.world import World, expect, new_account
from tests.support.tokens import auth


async def test_a_deleted_channels_follow_is_404_and_frees_its_place(
    world: World, db: asyncpg.Pool
) -> None:
    fd: httpx.AsyncClient = world.fd
    me = new_account("gone")
    doomed = await world.fresh_channel()
    await seed_follows(db, me, await seed_channels(db, FOLLOW_LIMIT - 1))
    expect(await fd.put(f"/v1/channels/{doomed}/follow", headers=auth(me)), 200)
    # Followed and working before the deletion...
    c = f"/v1/channels/{doomed}"
    expect(await fd.patch(f"{c}/follow", json={"muted": True}, headers=auth(me)), 200)
    expect(await fd.post(f"{c}/read", json={"seq": 0}, headers=auth(me)), 200)
    # ... and the account is at its limit.
    [spare] = await seed_channels(db, 1)
    expect(await fd.put(f"/v1/channels/{spare}/follow", headers=auth(me)), 409)

    expect(await world.pub.delete(c, headers=auth(world.owner)), 204)

    assert (await fd.get(c)).status_code == 404
    muted = await fd.patch(f"{c}/follow", json={"muted": False}, headers=auth(me))
    assert muted.status_code == 404, muted.text
    read = await fd.post(f"{c}/read", json={"seq": 0}, headers=auth(me))
    assert read.status_code == 404, read.text
    refollow = await fd.put(f"{c}/follow", headers=auth(me))
    assert refollow.status_code == 404, refollow.text
    # The deleted channel's follow no longer counts: there is room for another.
    expect(await fd.put(f"/v1/channels/{spare}/follow", headers=auth(me)), 200)
