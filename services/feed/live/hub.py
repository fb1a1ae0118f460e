"""The per-process hub: channel_id → the local SSE streams following it, and the one
place that writes live events to them.

A live event is rendered once to its final bytes (`live.render.Item.wire`) and
`publish` writes those bytes straight to the transport of every local stream following
the channel, in one pass: no queue, task, generator or ASGI `send` per stream. Work is
O(events + own streams), never O(followers), and an idle stream costs a small object
and its connection. Why the transport and not ASGI `send`: `send` is a coroutine per
message that runs the whole middleware chain, so a broadcast to N streams would be N
awaits; writing to the transport is one synchronous call. The transport comes from the
feed's HTTP protocol (`live.transport`), which hands the connection over once the
response has started through ASGI (so headers, request ids and metrics stay the
framework's); from then on an open stream is its transport, a small protocol object
and the `Stream` record here: no task, queue, generator or request state.

Backpressure: before each write the stream's transport buffer is checked; over
`buffer_max` bytes the client is not reading, so it is cut off (connection aborted,
stream closed, counted) instead of buffered without bound. It reconnects with
`Last-Event-ID` and replays from Postgres, so a slow client loses nothing.

A stream is registered before its replay runs (so no live event can fall between the
replay and live delivery); until the replay is written its live items are held
(bounded like the transport buffer), then written unless the replay already sent the
same change; for a while after, live post changes that the replay sent are skipped, so
each change reaches the client once.

Heartbeats: one timer for the process writes a comment line to every stream each
`heartbeat_s` and drops streams whose connection has closed. The connection reports
its end through `close` (see `live.transport.StreamProtocol`).

All methods except `run` are synchronous and run on the event loop: no locking needed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from uuid import UUID

from services.feed.live.ids import EventId
from services.feed.live.render import HEARTBEAT, Item
from shared.metrics.feed import (
    SSE_CONNECTIONS,
    SSE_EVENTS_PUSHED,
    SSE_REJECTED,
    SSE_SLOW_CLIENTS_DROPPED,
)

__all__ = ["Hub", "Item", "Stream", "StreamLimit", "Transport"]

log = logging.getLogger(__name__)

K = TypeVar("K")

# How long after its replay a stream still skips live post changes the replay sent: the
# live event of a change committed just before the replay read it can reach this
# process well after the replay (the live hop adds a fan-out batch and a topic read).
REPLAY_DEDUPE_S = 30.0


class Transport(Protocol):
    """What the hub needs of a connection (an `asyncio.Transport` has it)."""

    def write(self, data: bytes) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def is_closing(self) -> bool: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...


class StreamLimit(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Gate:
    """A stream's state while its replay runs (`held` live items, `held_bytes` long) and
    shortly after (`replayed` change ids to skip, until `until`, a monotonic time)."""

    __slots__ = ("held", "held_bytes", "replayed", "until")

    def __init__(self) -> None:
        self.held: list[Item] | None = []
        self.held_bytes = 0
        self.replayed: set[EventId] = set()
        self.until = 0.0


@dataclass(eq=False, slots=True)
class Stream:
    """One open SSE stream. `transport` is None until the response has started."""

    account_id: str
    channels: set[UUID]
    transport: Transport | None = None
    gate: _Gate | None = field(default_factory=_Gate)
    closed: bool = False


@dataclass
class Hub:
    buffer_max: int
    per_account: int
    total_max: int
    account_tag: Callable[[str], str] | None = None
    _by_channel: dict[UUID, set[Stream]] = field(default_factory=dict)
    _by_account: dict[str, set[Stream]] = field(default_factory=dict)
    _tags: dict[str, str] = field(default_factory=dict)
    _tag_of: dict[str, str] = field(default_factory=dict)
    _count: int = 0

    @property
    def connections(self) -> int:
        return self._count

    # ---------------------------------------------------------------- registration

    def open(self, account_id: str, channels: Iterable[UUID]) -> Stream:
        """Register a stream (its live items are held until `attach`); raises
        StreamLimit (429 per account, 503 per process)."""
        mine = self._by_account.get(account_id)
        if mine is not None and len(mine) >= self.per_account:
            SSE_REJECTED.labels(reason="account_limit").inc()
            raise StreamLimit(429, f"at most {self.per_account} open streams per account")
        if self._count >= self.total_max:
            SSE_REJECTED.labels(reason="process_limit").inc()
            raise StreamLimit(503, "this server has no room for more streams; retry later")
        stream = Stream(account_id, set(channels))
        if mine is None:
            mine = self._by_account[account_id] = set()
            if self.account_tag is not None:
                tag = self.account_tag(account_id)
                self._tags[tag] = account_id
                self._tag_of[account_id] = tag
        mine.add(stream)
        for channel_id in stream.channels:
            self._by_channel.setdefault(channel_id, set()).add(stream)
        self._count += 1
        SSE_CONNECTIONS.inc()
        return stream

    def attach(self, stream: Stream, transport: Transport, first: bytes) -> None:
        """The response has started: write `first` (the preamble); from now on the
        stream's bytes go to `transport`. Live items stay held until `replayed`."""
        stream.transport = transport
        if not stream.closed:
            transport.write(first)

    def write(self, stream: Stream, wire: bytes) -> bool:
        """Write to one stream (replay, resync); False when it was cut off or closed."""
        transport = stream.transport
        if stream.closed or transport is None:
            return False
        try:
            if transport.get_write_buffer_size() > self.buffer_max:
                self._cut_off(stream)
                return False
            transport.write(wire)
        except RuntimeError:
            self.close(stream)
            return False
        return True

    def replayed(self, stream: Stream, sent: set[EventId]) -> None:
        """The replay is written: write the live items held meanwhile, minus the changes
        it sent, then go live (still skipping those changes for `REPLAY_DEDUPE_S`)."""
        gate = stream.gate
        if gate is None or stream.closed:
            return
        held, gate.held = gate.held or [], None
        for item in held:
            if item.event_id is None or item.event_id not in sent:
                if not self.write(stream, item.wire):
                    return
                SSE_EVENTS_PUSHED.labels(event=item.event, source="live").inc()
        if sent:
            gate.replayed = sent
            gate.until = time.monotonic() + REPLAY_DEDUPE_S
        else:
            stream.gate = None

    def close(self, stream: Stream) -> None:
        """Unregister (idempotent). The connection is the caller's business."""
        if stream.closed:
            return
        stream.closed = True
        stream.gate = None
        for channel_id in stream.channels:
            self._discard(self._by_channel, channel_id, stream)
        self._discard(self._by_account, stream.account_id, stream)
        if stream.account_id not in self._by_account:
            tag = self._tag_of.pop(stream.account_id, None)
            if tag is not None:
                self._tags.pop(tag, None)
        self._count -= 1
        SSE_CONNECTIONS.dec()

    def close_all(self, last: bytes) -> None:
        """Server shutdown: write `last` (the end of the body) to every stream, close
        their connections (after what is buffered is sent) and unregister them."""
        for streams in list(self._by_account.values()):
            for stream in list(streams):
                transport = stream.transport
                self.close(stream)
                if transport is not None and not transport.is_closing():
                    transport.write(last)
                    transport.close()

    def _cut_off(self, stream: Stream) -> None:
        SSE_SLOW_CLIENTS_DROPPED.inc()
        if stream.transport is not None:
            # abort, not close: close would wait to flush what the client is not reading.
            stream.transport.abort()
        self.close(stream)

    @staticmethod
    def _discard(index: dict[K, set[Stream]], key: K, stream: Stream) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(stream)
            if not members:
                del index[key]

    # ---------------------------------------------------------------- follows

    def listening(self, channel_id: UUID) -> bool:
        return channel_id in self._by_channel

    def follow_changed(self, account_id: str, channel_id: UUID, following: bool) -> None:
        """The account (un)followed a channel: its open local streams follow suit."""
        for stream in self._by_account.get(account_id, ()):
            if following and channel_id not in stream.channels:
                stream.channels.add(channel_id)
                self._by_channel.setdefault(channel_id, set()).add(stream)
            elif not following and channel_id in stream.channels:
                stream.channels.discard(channel_id)
                self._discard(self._by_channel, channel_id, stream)

    def channel_suspended(self, channel_id: UUID) -> int:
        """An operator suspended the channel: every local stream stops following it (its
        events are no longer written to them); returns how many streams followed it. A
        stream gets the channel back only when it reconnects after a restore (stream
        opening reads active channels only)."""
        streams = self._by_channel.pop(channel_id, set())
        for stream in streams:
            stream.channels.discard(channel_id)
        return len(streams)

    def account_for_tag(self, tag: str) -> str | None:
        """The account of `tag` (`account_tag(account_id)`) if it has a stream open here."""
        return self._tags.get(tag)

    # ---------------------------------------------------------------- delivery

    def publish(self, channel_id: UUID, item: Item) -> int:
        """Write `item` to every local stream following `channel_id`; returns how many
        got it (held for a stream whose replay runs counts as got)."""
        streams = self._by_channel.get(channel_id)
        if not streams:
            return 0
        wire, event_id, limit = item.wire, item.event_id, self.buffer_max
        sent = 0
        dropped: list[Stream] = []
        for stream in streams:
            gate = stream.gate
            if gate is not None:
                if gate.held is not None:
                    if gate.held_bytes + len(wire) > limit:
                        dropped.append(stream)
                    else:
                        gate.held.append(item)
                        gate.held_bytes += len(wire)
                        sent += 1
                    continue
                if event_id is not None and event_id in gate.replayed:
                    continue
            transport = stream.transport
            assert transport is not None
            try:
                if transport.get_write_buffer_size() > limit:
                    dropped.append(stream)
                    continue
                transport.write(wire)
            except RuntimeError:
                # Closed under us; its connection_lost callback is already scheduled.
                continue
            sent += 1
        for stream in dropped:
            self._cut_off(stream)
        if sent:
            SSE_EVENTS_PUSHED.labels(event=item.event, source="live").inc(sent)
        return sent

    def heartbeat(self, now: float | None = None) -> int:
        """Write a comment line to every started stream, drop the ones whose connection
        closed or which stopped reading, and end replay de-duplication windows that ran
        out; returns how many streams got the line."""
        now = time.monotonic() if now is None else now
        sent = 0
        gone: list[Stream] = []
        dropped: list[Stream] = []
        for streams in self._by_account.values():
            for stream in streams:
                transport = stream.transport
                gate = stream.gate
                if transport is None or (gate is not None and gate.held is not None):
                    continue
                if gate is not None and gate.until <= now:
                    stream.gate = None
                try:
                    if transport.is_closing():
                        gone.append(stream)
                    elif transport.get_write_buffer_size() > self.buffer_max:
                        dropped.append(stream)
                    else:
                        transport.write(HEARTBEAT)
                        sent += 1
                except RuntimeError:
                    gone.append(stream)
        for stream in gone:
            self.close(stream)
        for stream in dropped:
            self._cut_off(stream)
        return sent

    async def run(self, heartbeat_s: float) -> None:
        """Heartbeats until cancelled."""
        while True:
            await asyncio.sleep(heartbeat_s)
            try:
                self.heartbeat()
            except Exception:
                log.exception("heartbeat pass failed")
