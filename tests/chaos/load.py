"""A steady, bounded load over HTTP, and the record of what clients were told.

Admins publish (with an Idempotency-Key) to every live channel; accounts react, vote,
report views, read history and mark it read, read their timeline; one account keeps
unfollowing and re-following. Like a real client, a request whose outcome is unknown
(connection refused or cut, timeout, 5xx, 429) is retried unchanged until it gets a
definite answer, so every acknowledgement the driver records came from the server.
A definite 4xx (e.g. 404 for a post fan-out has not persisted yet) changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.support.tokens import auth

EMOJI = ("👍", "❤️", "😂", "🎉")
# Past this a client gives up on a request (bounds a trial when a service stays broken).
RETRY_BUDGET_S = 30.0
# Marks an account's reaction/vote whose last request never got a definite answer.
UNKNOWN: Any = object()


def uuid7_time(post_id: str) -> datetime:
    return datetime.fromtimestamp((uuid.UUID(post_id).int >> 80) / 1000, UTC)


@dataclass
class Post:
    key: str
    channel_id: str
    post_id: str
    poll: bool
    created_at: datetime


@dataclass
class Told:
    """Everything the servers acknowledged to the driver's clients."""

    posts: dict[str, Post] = field(default_factory=dict)
    by_channel: dict[str, list[Post]] = field(default_factory=dict)
    reactions: dict[tuple[str, str], Any] = field(default_factory=dict)
    votes: dict[tuple[str, str], Any] = field(default_factory=dict)
    # (account, channel_id) → the `followed_at` of the last acknowledged follow, None after
    # an acknowledged unfollow, UNKNOWN while the last request got no definite answer.
    follows: dict[tuple[str, str], Any] = field(default_factory=dict)
    expired_served: set[str] = field(default_factory=set)
    retries: int = 0
    requests: int = 0
    gave_up: int = 0
    # Why requests were retried: status code or transport error name → count.
    retried_for: dict[str, int] = field(default_factory=dict)
    # Attempts without a definite answer, per service called ("publisher", "feed").
    failed: dict[str, int] = field(default_factory=dict)

    def acked(self, post: Post) -> None:
        self.posts[post.post_id] = post
        self.by_channel.setdefault(post.channel_id, []).append(post)

    def followed(self, account: str, channel_id: str, response: httpx.Response | None) -> None:
        """Record the answer to a PUT/DELETE of a follow (a definite 4xx changed nothing)."""
        key = (account, channel_id)
        if response is None:
            self.follows[key] = UNKNOWN
        elif response.status_code == 200:
            self.follows[key] = datetime.fromisoformat(response.json()["followed_at"])
        elif response.status_code == 204:
            self.follows[key] = None

    def failures(self) -> int:
        return sum(self.failed.values())


@dataclass
class World:
    """Accounts and channels the load runs over (set up by `tests.chaos.setup`)."""

    owners: dict[str, str]  # channel_id → owner account
    follows: dict[str, list[str]]  # account → channels followed at set-up
    churner: str  # the account that keeps unfollowing and re-following
    churn_channels: list[str]
    # The churner's current follow of each churn channel, kept across trials.
    churn_following: dict[str, bool] = field(default_factory=dict)


class Client:
    """HTTP calls retried until a definite answer (or the retry budget is spent)."""

    def __init__(self, publisher: str, feed: str, told: Told) -> None:
        self.publisher = httpx.AsyncClient(base_url=publisher, timeout=10)
        self.feed = httpx.AsyncClient(base_url=feed, timeout=10)
        self.told = told

    async def call(
        self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        deadline = time.monotonic() + RETRY_BUDGET_S
        delay = 0.1
        while True:
            self.told.requests += 1
            try:
                response = await http.request(method, url, **kwargs)
                if response.status_code < 500 and response.status_code not in (408, 429):
                    return response
                why = str(response.status_code)
            except httpx.HTTPError as exc:
                why = type(exc).__name__
            self.told.retried_for[why] = self.told.retried_for.get(why, 0) + 1
            target = "publisher" if http is self.publisher else "feed"
            self.told.failed[target] = self.told.failed.get(target, 0) + 1
            if time.monotonic() > deadline:
                self.told.gave_up += 1
                return None
            self.told.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def close(self) -> None:
        await self.publisher.aclose()
        await self.feed.aclose()


def check_expiry(told: Told, items: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    for item in items:
        if datetime.fromisoformat(item["expires_at"]) <= now:
            told.expired_served.add(item["post_id"])


class PublishTiming:
    """When publish requests start and how long an answered one takes: a publisher kill
    aims inside a request, where the broker may hold the post but the client no answer."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.latency_s = 0.05
        # (began, answered) of each acknowledged publish, monotonic: when publishing worked.
        self.acks: list[tuple[float, float]] = []

    def took(self, seconds: float) -> None:
        self.latency_s = 0.8 * self.latency_s + 0.2 * min(seconds, 1.0)

    def acked(self, began: float) -> None:
        self.acks.append((began, time.monotonic()))

    def works_again(self, since: float) -> float | None:
        """Seconds from `since` until a publish begun after it was acknowledged (None:
        none was): how long a fault kept publishing from working."""
        answered = [done for began, done in self.acks if began >= since]
        return min(answered) - since if answered else None


class Load:
    """Runs the load until `stop()`; every task finishes its request in hand first."""

    def __init__(self, client: Client, world: World, seed: int) -> None:
        self.client = client
        self.world = world
        self.told = client.told
        self.seed = seed
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.publishes = PublishTiming()

    def start(self) -> None:
        self.stopping.clear()
        for i, channel_id in enumerate(self.world.owners):
            rng = random.Random(self.seed * 1000 + i)
            self.tasks.append(asyncio.create_task(self._admin(channel_id, rng)))
        for i, account in enumerate(self.world.follows):
            rng = random.Random(self.seed * 1000 + 100 + i)
            self.tasks.append(asyncio.create_task(self._account(account, rng)))

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)
        self.tasks.clear()

    async def _pause(self, rng: random.Random, low: float, high: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), rng.uniform(low, high))

    async def _admin(self, channel_id: str, rng: random.Random) -> None:
        owner = self.world.owners[channel_id]
        n = 0
        while not self.stopping.is_set():
            n += 1
            key = uuid.uuid4().hex
            poll = n % 4 == 0
            body: dict[str, Any] = (
                {"type": "poll", "poll": {"question": key, "options": ["a", "b", "c"]}}
                if poll
                else {"type": "text", "text": f"chaos {key}"}
            )
            self.publishes.started.set()
            began = time.monotonic()
            response = await self.client.call(
                self.client.publisher,
                "POST",
                f"/v1/channels/{channel_id}/posts",
                json=body,
                headers={**auth(owner), "Idempotency-Key": key},
            )
            self.publishes.took(time.monotonic() - began)
            if response is not None and response.status_code == 202:
                post_id = response.json()["post_id"]
                self.told.acked(Post(key, channel_id, post_id, poll, uuid7_time(post_id)))
                self.publishes.acked(began)
            await self._pause(rng, 0.15, 0.5)

    def _recent_post(self, rng: random.Random, polls: bool = False) -> Post | None:
        channels = [c for c in self.world.owners if self.told.by_channel.get(c)]
        if not channels:
            return None
        posts = self.told.by_channel[rng.choice(channels)][-12:]
        posts = [p for p in posts if p.poll] if polls else posts
        return rng.choice(posts) if posts else None

    async def _account(self, account: str, rng: random.Random) -> None:
        headers = auth(account)
        following = self.world.churn_following
        while not self.stopping.is_set():
            roll = rng.random()
            if account == self.world.churner and roll < 0.15:
                channel_id = rng.choice(self.world.churn_channels)
                method = "DELETE" if following[channel_id] else "PUT"
                url = f"/v1/channels/{channel_id}/follow"
                r = await self.client.call(self.client.feed, method, url, headers=headers)
                self.told.followed(account, channel_id, r)
                if r is not None and r.status_code in (200, 204):
                    following[channel_id] = method == "PUT"
            elif roll < 0.5:
                await self._react(account, headers, rng)
            elif roll < 0.65:
                await self._vote(account, headers, rng)
            elif roll < 0.75:
                await self._read(account, headers, rng)
            elif roll < 0.85:
                post = self._recent_post(rng)
                if post is not None:
                    body = {"post_ids": [post.post_id]}
                    await self.client.call(
                        self.client.feed, "POST", "/v1/views", json=body, headers=headers
                    )
            else:
                r = await self.client.call(
                    self.client.feed, "GET", "/v1/timeline", params={"limit": 20}, headers=headers
                )
                if r is not None and r.status_code == 200:
                    check_expiry(self.told, r.json()["items"])
            await self._pause(rng, 0.15, 0.45)

    async def _react(self, account: str, headers: dict[str, str], rng: random.Random) -> None:
        post = self._recent_post(rng)
        if post is None:
            return
        emoji = rng.choice(EMOJI) if rng.random() < 0.8 else None
        url = f"/v1/posts/{post.post_id}/reaction"
        if emoji is None:
            r = await self.client.call(self.client.feed, "DELETE", url, headers=headers)
        else:
            body = {"emoji": emoji}
            r = await self.client.call(self.client.feed, "PUT", url, json=body, headers=headers)
        if r is None:
            self.told.reactions[(account, post.post_id)] = UNKNOWN
        elif r.status_code == 200:
            self.told.reactions[(account, post.post_id)] = r.json()["my_reaction"]

    async def _vote(self, account: str, headers: dict[str, str], rng: random.Random) -> None:
        post = self._recent_post(rng, polls=True)
        if post is None:
            return
        url = f"/v1/posts/{post.post_id}/vote"
        if rng.random() < 0.85:
            body = {"options": [rng.randrange(3)]}
            r = await self.client.call(self.client.feed, "PUT", url, json=body, headers=headers)
        else:
            r = await self.client.call(self.client.feed, "DELETE", url, headers=headers)
        if r is None:
            self.told.votes[(account, post.post_id)] = UNKNOWN
        elif r.status_code == 200:
            self.told.votes[(account, post.post_id)] = r.json()["my_vote"]

    async def _read(self, account: str, headers: dict[str, str], rng: random.Random) -> None:
        channels = self.world.follows[account]
        channel_id = rng.choice(channels)
        r = await self.client.call(
            self.client.feed,
            "GET",
            f"/v1/channels/{channel_id}/posts",
            params={"limit": 5},
            headers=headers,
        )
        if r is None or r.status_code != 200 or not r.json()["items"]:
            return
        items = r.json()["items"]
        check_expiry(self.told, items)
        await self.client.call(
            self.client.feed,
            "POST",
            f"/v1/channels/{channel_id}/read",
            json={"seq": items[0]["seq"]},
            headers=headers,
        )
