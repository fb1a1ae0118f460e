"""Counters from herald.interactions.v1: replays and back-and-forth changes leave counts
equal to a recount of the per-account rows; follows count into channel_stats."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.events.interactions import (
    FollowChanged,
    FollowChangedV1,
    PostViewed,
    PostViewedV1,
    ReactionChanged,
    ReactionChangedV1,
    VoteChanged,
    VoteChangedV1,
)
from shared.topics import INTERACTIONS, POSTS
from tests.integration.fanout.conftest import Fanout
from tests.integration.fanout.helpers import make_channel, published, send, wait_for


async def _counters(db: asyncpg.Pool, post_id: UUID) -> dict[tuple[str, str], int]:
    rows = await db.fetch(
        "SELECT kind, key, count FROM post_counters WHERE post_id = $1 AND count <> 0", post_id
    )
    return {(r["kind"], r["key"]): r["count"] for r in rows}


async def _recount(db: asyncpg.Pool, post_id: UUID) -> dict[tuple[str, str], int]:
    rows = await db.fetch(
        """SELECT 'reaction' AS kind, emoji AS key, count(*) AS n FROM reactions
           WHERE post_id = $1 AND emoji IS NOT NULL GROUP BY emoji
           UNION ALL
           SELECT 'vote', o::text, count(*) FROM poll_votes, unnest(options) AS o
           WHERE post_id = $1 GROUP BY o""",
        post_id,
    )
    return {(r["kind"], r["key"]): r["n"] for r in rows}


async def test_reactions_and_votes_replayed_equal_a_recount(
    db: asyncpg.Pool, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    channel_id = await make_channel(db, followers=1)
    post = published(channel_id)
    post_id = post.payload.post_id
    await send(producer, fanout5k.topic(POSTS.name), channel_id, post)
    await wait_for(
        lambda: db.fetchval("SELECT count(*) FROM posts WHERE post_id = $1", post_id),
        lambda n: n == 1,
    )
    topic = fanout5k.topic(INTERACTIONS.name)

    def reaction(account: str) -> ReactionChanged:
        return ReactionChanged(
            payload=ReactionChangedV1(channel_id=channel_id, post_id=post_id, account_id=account)
        )

    def vote(account: str) -> VoteChanged:
        return VoteChanged(
            payload=VoteChangedV1(channel_id=channel_id, post_id=post_id, account_id=account)
        )

    async def react(account: str, emoji: str | None) -> None:
        # What the feed service does: write the current choice, then say it changed.
        await db.execute(
            """INSERT INTO reactions (post_id, account_id, channel_id, emoji)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (post_id, account_id) DO UPDATE SET emoji = excluded.emoji""",
            post_id,
            account,
            channel_id,
            emoji,
        )
        await send(producer, topic, post_id, reaction(account))

    async def cast(account: str, options: list[int] | None) -> None:
        await db.execute(
            """INSERT INTO poll_votes (post_id, account_id, channel_id, options)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (post_id, account_id) DO UPDATE SET options = excluded.options""",
            post_id,
            account,
            channel_id,
            options,
        )
        await send(producer, topic, post_id, vote(account))

    await react("a1", "👍")
    await react("a2", "👍")
    await react("a1", "❤️")
    await react("a3", "🔥")
    await react("a3", None)
    await react("a1", "👍")
    await cast("a1", [0, 2])
    await cast("a2", [1])
    await cast("a1", [2])
    await cast("a2", None)
    views = [
        PostViewed(payload=PostViewedV1(channel_id=channel_id, post_id=post_id, account_id=a))
        for a in ("a1", "a2", "a3", "a1")
    ]
    # Everything again, twice: replays must change no count.
    replay = [reaction(a) for a in ("a1", "a2", "a3")] + [vote(a) for a in ("a1", "a2")]
    await send(producer, topic, post_id, *views, *replay, *views, *replay)

    expected = {("reaction", "👍"): 2, ("vote", "2"): 1}
    await wait_for(lambda: _counters(db, post_id), lambda c: c == expected, what="counters")
    views_n = await wait_for(
        lambda: db.fetchval(
            "SELECT round(hll_cardinality(sketch)) FROM post_views WHERE post_id = $1", post_id
        ),
        lambda n: n == 3,
        what="views",
    )
    assert views_n == 3
    assert await _recount(db, post_id) == expected
    # Cleared choices are gone once counted; current choices are marked counted.
    left = await db.fetch(
        "SELECT account_id, emoji = counted_emoji AS counted FROM reactions"
        " WHERE post_id = $1 ORDER BY account_id",
        post_id,
    )
    assert [(r["account_id"], r["counted"]) for r in left] == [("a1", True), ("a2", True)]
    assert await db.fetchval("SELECT count(*) FROM poll_votes WHERE post_id = $1", post_id) == 1


async def test_follows_and_unfollows_count_into_channel_stats(
    db: asyncpg.Pool, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    channel_id = await make_channel(db)
    topic = fanout5k.topic(INTERACTIONS.name)

    async def follow(account: str, active: bool) -> None:
        await db.execute(
            """INSERT INTO follows (account_id, channel_id, active) VALUES ($1, $2, $3)
               ON CONFLICT (account_id, channel_id) DO UPDATE SET active = excluded.active""",
            account,
            channel_id,
            active,
        )
        event = FollowChanged(payload=FollowChangedV1(channel_id=channel_id, account_id=account))
        await send(producer, topic, channel_id, event, event)

    for account in ("f1", "f2", "f3", "f4"):
        await follow(account, True)
    await follow("f2", False)
    await follow("f3", False)
    await follow("f3", True)

    async def stats() -> tuple[int | None, int | None]:
        followers = await db.fetchval(
            "SELECT followers FROM channel_stats WHERE channel_id = $1", channel_id
        )
        delta = await db.fetchval(
            "SELECT sum(delta) FROM channel_follower_days WHERE channel_id = $1", channel_id
        )
        return followers, delta

    assert await wait_for(stats, lambda s: s == (3, 3), what="follower counts") == (3, 3)
    rows = await db.fetch(
        "SELECT account_id FROM follows WHERE channel_id = $1 ORDER BY account_id", channel_id
    )
    # The unfollow was counted, so its row is gone; the others remain, counted.
    assert [r["account_id"] for r in rows] == ["f1", "f3", "f4"]
    change = await wait_for(
        lambda: db.fetchval(
            "SELECT followers_7d_change FROM channel_stats WHERE channel_id = $1", channel_id
        ),
        lambda n: n == 3,
        what="7-day follower change",
    )
    assert change == 3
