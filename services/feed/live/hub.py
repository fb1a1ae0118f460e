"""The per-process hub: channel_id → the local SSE connections following it.

A live event is rendered once and put on the bounded queue of each local connection
following its channel: work is O(events + own connections), never O(followers). A
connection whose queue is full is dropped (marked, removed; its stream ends) instead of
buffering without bound; the client reconnects with `Last-Event-ID` and replays from
Postgres, so a slow client loses nothing and costs nothing.

Follow signals from other feed processes name an account only by its tag (an HMAC, see
`shared.events.live.account_tag`): the hub keeps tag → account for the accounts with open
streams here, so `account_for_tag` is one dict lookup.

All methods are synchronous and run on the event loop, so no locking is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from services.feed.live.ids import EventId
from shared.metrics.feed import SSE_CONNECTIONS, SSE_REJECTED, SSE_SLOW_CLIENTS_DROPPED


@dataclass(slots=True, frozen=True)
class Item:
    """One rendered event: `data` is the JSON line; `event_id` is set for post changes."""

    event: str
    data: bytes
    event_id: EventId | None = None


@dataclass(eq=False, slots=True)
class Connection:
    account_id: str
    channels: set[UUID]
    queue: asyncio.Queue[Item]
    dropped: bool = False
    closed: bool = False


K = TypeVar("K")


class StreamLimit(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Hub:
    queue_max: int
    per_account: int
    total_max: int
    # account_id → its tag in follow signals; None: the hub answers no tag lookups.
    account_tag: Callable[[str], str] | None = None
    _by_channel: dict[UUID, set[Connection]] = field(default_factory=dict)
    _by_account: dict[str, set[Connection]] = field(default_factory=dict)
    _by_tag: dict[str, str] = field(default_factory=dict)
    _count: int = 0

    @property
    def connections(self) -> int:
        return self._count

    def open(self, account_id: str, channels: list[UUID]) -> Connection:
        """Register a stream; raises StreamLimit (429 per account, 503 per process)."""
        mine = self._by_account.get(account_id, set())
        if len(mine) >= self.per_account:
            SSE_REJECTED.labels(reason="account_limit").inc()
            raise StreamLimit(429, f"at most {self.per_account} open streams per account")
        if self._count >= self.total_max:
            SSE_REJECTED.labels(reason="process_limit").inc()
            raise StreamLimit(503, "this server has no room for more streams; retry later")
        conn = Connection(account_id, set(channels), asyncio.Queue(self.queue_max))
        if not mine and self.account_tag is not None:
            self._by_tag[self.account_tag(account_id)] = account_id
        self._by_account.setdefault(account_id, set()).add(conn)
        for channel_id in conn.channels:
            self._by_channel.setdefault(channel_id, set()).add(conn)
        self._count += 1
        SSE_CONNECTIONS.inc()
        return conn

    def close(self, conn: Connection) -> None:
        """Unregister (idempotent)."""
        if conn.closed:
            return
        conn.closed = True
        for channel_id in conn.channels:
            self._discard(self._by_channel, channel_id, conn)
        self._discard(self._by_account, conn.account_id, conn)
        if conn.account_id not in self._by_account and self.account_tag is not None:
            self._by_tag.pop(self.account_tag(conn.account_id), None)
        self._count -= 1
        SSE_CONNECTIONS.dec()

    @staticmethod
    def _discard(index: dict[K, set[Connection]], key: K, conn: Connection) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(conn)
            if not members:
                del index[key]

    def listening(self, channel_id: UUID) -> bool:
        return channel_id in self._by_channel

    def account_for_tag(self, tag: str) -> str | None:
        """The account with open streams here whose tag this is; None when it has none."""
        return self._by_tag.get(tag)

    def follow_changed(self, account_id: str, channel_id: UUID, following: bool) -> None:
        """The account (un)followed a channel here: its open local streams follow suit."""
        for conn in self._by_account.get(account_id, ()):
            if following and channel_id not in conn.channels:
                conn.channels.add(channel_id)
                self._by_channel.setdefault(channel_id, set()).add(conn)
            elif not following and channel_id in conn.channels:
                conn.channels.discard(channel_id)
                self._discard(self._by_channel, channel_id, conn)

    def publish(self, channel_id: UUID, item: Item) -> int:
        """Queue `item` for every local stream following `channel_id`; returns how many."""
        delivered = 0
        for conn in list(self._by_channel.get(channel_id, ())):
            try:
                conn.queue.put_nowait(item)
                delivered += 1
            except asyncio.QueueFull:
                conn.dropped = True
                SSE_SLOW_CLIENTS_DROPPED.inc()
                self.close(conn)
        return delivered
