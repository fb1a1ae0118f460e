"""The history checker: compares what clients were told with what the feed serves.

- every acknowledged post is in its channel's history exactly once; seqs are 1..N;
  a post in history that repeats an acknowledged request (same Idempotency-Key in its
  text/question) under another post_id is a duplicate;
- follows are judged by what clients were told, never by what the feed serves about
  them: the last acknowledged follow/unfollow per (account, channel), with the
  `followed_at` its answer carried. Every acknowledged post is exactly once in the
  timeline of each account told it followed the channel since before the post was created,
  and in no other's (posts within `FOLLOW_RACE_S` of the follow time may go either way);
  the `follows` rows hold that state (pairs whose last request got no answer are skipped);
- served reaction and vote counts equal a recount of the per-account rows; those rows
  hold each account's last acknowledged choice; the public follower count equals the
  active follows;
- nothing past `expires_at` is served, in particular none of the seeded expired posts.

Findings are sets of stable keys, so repeated checks report each problem once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.chaos.load import UNKNOWN, Told, World, check_expiry
from tests.support.tokens import auth

FOLLOW_RACE_S = 2.0
PAGE = 100


@dataclass
class Findings:
    lost: set[str] = field(default_factory=set)
    duplicated: set[str] = field(default_factory=set)
    wrong_counts: set[str] = field(default_factory=set)
    seq_errors: set[str] = field(default_factory=set)
    unexpected: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    unacked_landed: set[str] = field(default_factory=set)
    # Served vs recounted values (and the rows' counted state) of wrong counters.
    details: list[str] = field(default_factory=list)

    def problems(self) -> int:
        return sum(
            len(s)
            for s in (
                self.lost,
                self.duplicated,
                self.wrong_counts,
                self.seq_errors,
                self.unexpected,
                self.expired,
            )
        )


async def pages(feed: httpx.AsyncClient, url: str, who: str, cursor_field: str) -> list[Any]:
    """Every item of a paged list (history pages by `before`, others by `cursor`)."""
    items: list[Any] = []
    params: dict[str, Any] = {"limit": PAGE}
    while True:
        r = await feed.get(url, params=params, headers=auth(who))
        assert r.status_code == 200, f"{url}: {r.status_code} {r.text}"
        page = r.json()
        items.extend(page["items"])
        nxt = page.get(cursor_field)
        if nxt is None:
            return items
        params = {"limit": PAGE, "before" if cursor_field == "next_before" else "cursor": nxt}


def request_key(item: dict[str, Any]) -> str | None:
    body = item["body"]
    if body.get("type") == "poll":
        return str(body["poll"]["question"])
    text = str(body.get("text") or "")
    return text.removeprefix("chaos ") if text.startswith("chaos ") else None


class Checker:
    def __init__(
        self,
        feed_url: str,
        database_url: str,
        told: Told,
        world: World,
        expired_channel: str,
        expired_posts: list[str],
    ) -> None:
        self.feed_url = feed_url
        self.database_url = database_url
        self.told = told
        self.world = world
        self.channels = [*world.owners, expired_channel]
        self.expired_posts = set(expired_posts)

    async def check(self) -> Findings:
        found = Findings()
        async with httpx.AsyncClient(base_url=self.feed_url, timeout=20) as feed:
            served: dict[str, dict[str, Any]] = {}
            for channel_id in self.channels:
                items = await pages(
                    feed, f"/v1/channels/{channel_id}/posts", "chaos-checker", "next_before"
                )
                self._history(channel_id, items, found)
                served.update((i["post_id"], i) for i in items)
            for account in self.world.follows:
                await self._timeline(feed, account, found)
            db = await asyncpg.connect(self.database_url)
            try:
                await self._counts(db, served, found)
                await self._follows_match_told(db, found)
                await self._followers(db, feed, found)
            finally:
                await db.close()
        found.expired = set(self.told.expired_served) | (self.expired_posts & set(served))
        return found

    def _history(self, channel_id: str, items: list[dict[str, Any]], found: Findings) -> None:
        check_expiry(self.told, items)
        seqs = sorted(i["seq"] for i in items)
        if seqs != list(range(1, len(seqs) + 1)) and channel_id in self.world.owners:
            found.seq_errors.add(channel_id)
        seen = Counter(i["post_id"] for i in items)
        found.duplicated |= {p for p, n in seen.items() if n > 1}
        acked_keys = {p.key: p.post_id for p in self.told.by_channel.get(channel_id, [])}
        for item in items:
            post_id = item["post_id"]
            if post_id in self.told.posts or post_id in self.expired_posts:
                continue
            key = request_key(item)
            if key is not None and key in acked_keys:
                found.duplicated.add(post_id)  # the same request landed twice
            else:
                found.unacked_landed.add(post_id)
        for post in self.told.by_channel.get(channel_id, []):
            if post.post_id not in seen:
                found.lost.add(post.post_id)

    def _told_follows(self, account: str) -> tuple[dict[str, datetime], set[str]]:
        """Channels `account` was told it follows (→ since when), and those in doubt."""
        since: dict[str, datetime] = {}
        unknown: set[str] = set()
        for (who, channel_id), state in self.told.follows.items():
            if who != account:
                continue
            if state is UNKNOWN:
                unknown.add(channel_id)
            elif state is not None:
                since[channel_id] = state
        return since, unknown

    async def _timeline(self, feed: httpx.AsyncClient, account: str, found: Findings) -> None:
        since, unknown = self._told_follows(account)
        items = await pages(feed, "/v1/timeline", account, "next_cursor")
        check_expiry(self.told, items)
        seen = Counter(i["post_id"] for i in items)
        found.duplicated |= {f"{account}:{p}" for p, n in seen.items() if n > 1}
        race = timedelta(seconds=FOLLOW_RACE_S)
        for item in items:
            if item["channel_id"] in unknown:
                continue
            followed_at = since.get(item["channel_id"])
            created = datetime.fromisoformat(item["created_at"])
            if followed_at is None or created < followed_at - race:
                found.unexpected.add(f"{account}:{item['post_id']}")
        for channel_id, followed_at in since.items():
            for post in self.told.by_channel.get(channel_id, []):
                if post.created_at >= followed_at + race and post.post_id not in seen:
                    found.lost.add(f"{account}:{post.post_id}")

    async def _counts(
        self, db: asyncpg.Connection, served: dict[str, dict[str, Any]], found: Findings
    ) -> None:
        ids = list(self.told.posts)
        recount: dict[str, dict[str, dict[str, int]]] = {
            p: {"reactions": {}, "votes": {}} for p in ids
        }
        for row in await db.fetch(
            """SELECT post_id::text AS p, emoji AS k, count(*) AS n FROM reactions
               WHERE post_id = ANY($1::uuid[]) AND emoji IS NOT NULL GROUP BY 1, 2""",
            ids,
        ):
            recount[row["p"]]["reactions"][row["k"]] = row["n"]
        for row in await db.fetch(
            """SELECT post_id::text AS p, o::text AS k, count(*) AS n
               FROM poll_votes, unnest(options) AS o
               WHERE post_id = ANY($1::uuid[]) AND options IS NOT NULL GROUP BY 1, 2""",
            ids,
        ):
            recount[row["p"]]["votes"][row["k"]] = row["n"]
        for post_id, item in served.items():
            if post_id not in recount:
                continue
            counters = item["counters"]
            for kind in ("reactions", "votes"):
                shown = {k: v for k, v in counters[kind].items() if v}
                if shown != recount[post_id][kind]:
                    found.wrong_counts.add(f"{kind}:{post_id}")
                    found.details.append(
                        f"{kind} {post_id}: served {shown}, recount {recount[post_id][kind]}, "
                        f"rows {await self._counted_rows(db, kind, post_id)}"
                    )
        await self._rows_match_told(db, found)

    async def _counted_rows(self, db: asyncpg.Connection, kind: str, post_id: str) -> str:
        """Choice → counted choice of each account's row (no account ids printed)."""
        table, now, counted = (
            ("reactions", "emoji", "counted_emoji")
            if kind == "reactions"
            else ("poll_votes", "options", "counted_options")
        )
        rows = await db.fetch(
            f"SELECT {now} AS now, {counted} AS counted FROM {table} WHERE post_id = $1::uuid",
            post_id,
        )
        return ", ".join(f"{r['now']}←{r['counted']}" for r in rows)

    async def _rows_match_told(self, db: asyncpg.Connection, found: Findings) -> None:
        rows = {
            (r["a"], r["p"]): r
            for r in await db.fetch(
                """SELECT account_id AS a, post_id::text AS p, r.emoji, v.options
                   FROM reactions r FULL JOIN poll_votes v USING (post_id, account_id)
                   WHERE r.channel_id = ANY($1::uuid[]) OR v.channel_id = ANY($1::uuid[])""",
                list(self.world.owners),
            )
        }
        for (account, post_id), emoji in self.told.reactions.items():
            row = rows.get((account, post_id))
            if emoji is not UNKNOWN and (row["emoji"] if row else None) != emoji:
                found.wrong_counts.add(f"reaction-row:{account}:{post_id}")
        for (account, post_id), options in self.told.votes.items():
            row = rows.get((account, post_id))
            stored = list(row["options"]) if row and row["options"] is not None else None
            if options is not UNKNOWN and stored != options:
                found.wrong_counts.add(f"vote-row:{account}:{post_id}")

    async def _follows_match_told(self, db: asyncpg.Connection, found: Findings) -> None:
        """An acknowledged follow or unfollow the table does not hold is a lost write."""
        rows = {
            (r["a"], r["c"]): r
            for r in await db.fetch(
                """SELECT account_id AS a, channel_id::text AS c, active, followed_at
                   FROM follows WHERE channel_id = ANY($1::uuid[])""",
                self.channels,
            )
        }
        for (account, channel_id), state in self.told.follows.items():
            if state is UNKNOWN:
                continue
            row = rows.get((account, channel_id))
            if state is None:
                held = row is None or not row["active"]
            else:
                held = row is not None and row["active"] and row["followed_at"] == state
            if not held:
                found.lost.add(f"follow:{account}:{channel_id}")
                stored = (row["active"], row["followed_at"]) if row else None
                found.details.append(f"follow {channel_id}: told {state}, stored {stored}")

    async def _followers(
        self, db: asyncpg.Connection, feed: httpx.AsyncClient, found: Findings
    ) -> None:
        for channel_id in self.channels:
            active = await db.fetchval(
                "SELECT count(*) FROM follows WHERE channel_id = $1::uuid AND active", channel_id
            )
            card = await feed.get(f"/v1/channels/{channel_id}", headers=auth("chaos-checker"))
            if card.json()["followers"] != active:
                found.wrong_counts.add(f"followers:{channel_id}")
