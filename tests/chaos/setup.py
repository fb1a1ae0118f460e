"""The chaos world: accounts, channels (two fanned out at write time, one merged at read
time, one whose posts have all expired) and follows, made through the real APIs.

The expired channel's posts are rows as fan-out would have written them a day ago
(channel retention 1 day), with feed rows for its followers who followed before them:
nothing of it may ever be served.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson

from tests.chaos.cluster import WRITE_MAX_FOLLOWERS
from tests.chaos.load import Told, World
from tests.support.tokens import auth

ACCOUNTS = 10
EXPIRED_POSTS = 5


def channel_body(tag: str, retention_days: int = 30) -> dict[str, Any]:
    return {
        "handle": f"chaos_{tag}_{uuid.uuid4().hex[:8]}",
        "name": f"Chaos {tag}",
        "category": "news",
        "country": "fr",
        "language": "fr",
        "settings": {"reactions": "all", "retention_days": retention_days},
    }


async def create_channel(publisher: httpx.AsyncClient, tag: str, retention_days: int = 30) -> str:
    owner = f"owner-{tag}-{uuid.uuid4().hex[:6]}"
    response = await publisher.post(
        "/v1/channels", json=channel_body(tag, retention_days), headers=auth(owner)
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["channel_id"]
    return f"{channel_id}|{owner}"


async def follow(feed: httpx.AsyncClient, account: str, channel_id: str, told: Told) -> None:
    response = await feed.put(f"/v1/channels/{channel_id}/follow", headers=auth(account))
    assert response.status_code == 200, response.text
    told.followed(account, channel_id, response)


async def seed_expired(
    db: asyncpg.Connection, channel_id: str, followers: list[str], told: Told
) -> list[str]:
    """Posts of a day ago in a 1-day-retention channel, fanned out to its followers (whose
    follows are moved back before them, in the table and in `told`)."""
    cid = uuid.UUID(channel_id)
    created = datetime.now(UTC) - timedelta(hours=26)
    await db.execute(
        "SELECT herald_ensure_day_partitions($1, $2::date, $3::date)",
        "posts",
        created.date(),
        created.date(),
    )
    await db.execute(
        "SELECT herald_ensure_day_partitions($1, $2::date, $3::date)",
        "feed_items",
        created.date(),
        created.date(),
    )
    await db.execute(
        "UPDATE follows SET followed_at = $3 WHERE channel_id = $1 AND account_id = ANY($2)",
        cid,
        followers,
        created - timedelta(days=1),
    )
    told.follows.update({(a, channel_id): created - timedelta(days=1) for a in followers})
    post_ids = []
    for seq in range(1, EXPIRED_POSTS + 1):
        post_id = uuid.uuid4()
        at = created + timedelta(seconds=seq)
        await db.execute(
            """INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body,
                                  expires_at, fanned_out)
               VALUES ($1, $2, $3::timestamptz, $4, 'seed', $5::jsonb,
                       $3::timestamptz + interval '1 day', true)""",
            cid,
            post_id,
            at,
            seq,
            orjson.dumps({"type": "text", "text": f"expired {seq}"}).decode(),
        )
        await db.execute(
            """INSERT INTO feed_items (account_id, created_at, channel_id, post_id, seq)
               SELECT a, $2, $1, $3, $4 FROM unnest($5::text[]) a""",
            cid,
            at,
            post_id,
            seq,
            followers,
        )
        post_ids.append(str(post_id))
    await db.execute(
        "UPDATE channels SET last_seq = $2, last_post_at = $3 WHERE channel_id = $1",
        cid,
        EXPIRED_POSTS,
        created,
    )
    return post_ids


async def build_world(
    publisher_url: str, feed_url: str, database_url: str, told: Told
) -> tuple[World, str, list[str]]:
    """The world, the expired channel's id and its (never to be served) post ids; the
    follows made here are recorded in `told` as their answers said."""
    run = uuid.uuid4().hex[:6]
    accounts = [f"chaos-{run}-{i}" for i in range(ACCOUNTS)]
    churner = accounts[-1]
    async with (
        httpx.AsyncClient(base_url=publisher_url, timeout=20) as publisher,
        httpx.AsyncClient(base_url=feed_url, timeout=20) as feed,
    ):
        made = {tag: await create_channel(publisher, tag) for tag in ("small_a", "small_b", "big")}
        made["expired"] = await create_channel(publisher, "expired", retention_days=1)
        ids = {tag: value.split("|")[0] for tag, value in made.items()}
        owners = {value.split("|")[0]: value.split("|")[1] for value in made.values()}
        follows: dict[str, list[str]] = {a: [] for a in accounts}
        members = {
            "small_a": [*accounts[0:3], churner],
            "small_b": accounts[3:7],
            "big": accounts,
            "expired": accounts[0:5],
        }
        assert len(members["big"]) > WRITE_MAX_FOLLOWERS >= len(members["small_a"])
        for tag, who in members.items():
            for account in who:
                await follow(feed, account, ids[tag], told)
                follows[account].append(ids[tag])
    db = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    try:
        expired = await seed_expired(db, ids["expired"], members["expired"], told)
    finally:
        await db.close()
    del owners[ids["expired"]]  # nobody posts there: its content is all past expiry
    churn = [ids["small_a"], ids["big"]]
    world = World(
        owners=owners,
        follows=follows,
        churner=churner,
        churn_channels=churn,
        churn_following=dict.fromkeys(churn, True),
    )
    return world, ids["expired"], expired
