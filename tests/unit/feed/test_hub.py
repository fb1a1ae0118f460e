"""The SSE hub, on fake transports: one write per stream per event to the streams of the
channel only, caps, slow clients cut off, replay hand-over without loss or duplicates,
heartbeats, follow changes and account tags; and event ids that order and round-trip."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from services.feed.live.hub import Hub, Item, StreamLimit
from services.feed.live.ids import EventId
from services.feed.live.render import HEARTBEAT
from shared.http.problems import Problem

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeTransport:
    """Records writes; `backlog` plays the bytes a client has not read yet."""

    def __init__(self, backlog: int = 0) -> None:
        self.writes: list[bytes] = []
        self.backlog = backlog
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "write after close"
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = self.aborted = True

    def close(self) -> None:
        self.closing = True


def _counters(n: int = 0) -> Item:
    return Item("counters", b"counters %d" % n)


def _post(n: int) -> Item:
    return Item("post", b"post %d" % n, EventId(T0 + timedelta(seconds=n), UUID(int=n)))


async def _live(hub: Hub, account: str, channels: list[UUID], backlog: int = 0) -> FakeTransport:
    stream = hub.open(account, channels)
    transport = FakeTransport(backlog)
    hub.attach(stream, transport, b"preamble")
    hub.replayed(stream, set())
    return transport


def _hub(buffer_max: int = 1000, per_account: int = 5, total_max: int = 100) -> Hub:
    return Hub(buffer_max=buffer_max, per_account=per_account, total_max=total_max)


async def test_publish_writes_once_to_each_stream_of_the_channel_only() -> None:
    hub = _hub()
    a, b = uuid4(), uuid4()
    one = await _live(hub, "x", [a])
    two = await _live(hub, "y", [a, b])
    three = await _live(hub, "z", [b])
    assert hub.publish(a, _counters(1)) == 2
    assert one.writes == two.writes[:2] == [b"preamble", b"counters 1"]
    assert three.writes == [b"preamble"]
    assert hub.publish(uuid4(), _counters(2)) == 0


async def test_close_is_idempotent() -> None:
    hub = _hub()
    a = uuid4()
    stream = hub.open("x", [a])
    hub.close(stream)
    hub.close(stream)
    assert hub.connections == 0 and not hub.listening(a)


async def test_shutdown_ends_every_body_and_closes_every_connection() -> None:
    hub = _hub()
    a = uuid4()
    transports = [await _live(hub, account, [a]) for account in ("x", "y")]
    pending = hub.open("z", [a])
    hub.close_all(b"end")
    assert all(t.writes[-1] == b"end" and t.closing and not t.aborted for t in transports)
    assert pending.closed and hub.connections == 0 and not hub.listening(a)


def test_caps_per_account_and_per_process() -> None:
    hub = _hub(per_account=1, total_max=2)
    hub.open("x", [])
    with pytest.raises(StreamLimit) as per_account:
        hub.open("x", [])
    assert per_account.value.status == 429
    hub.open("y", [])
    with pytest.raises(StreamLimit) as per_process:
        hub.open("z", [])
    assert per_process.value.status == 503


async def test_a_slow_client_is_cut_off_and_the_others_still_get_the_event() -> None:
    hub = _hub(buffer_max=100)
    channel = uuid4()
    slow = await _live(hub, "slow", [channel], backlog=101)
    fast = await _live(hub, "fast", [channel])
    assert hub.publish(channel, _counters(1)) == 1
    assert slow.aborted and slow.writes == [b"preamble"]
    assert fast.writes == [b"preamble", b"counters 1"]
    assert hub.connections == 1
    assert hub.publish(channel, _counters(2)) == 1


async def test_live_items_during_a_replay_are_held_then_sent_once() -> None:
    hub = _hub()
    channel = uuid4()
    stream = hub.open("x", [channel])
    # Before the response started and while the replay runs: held, not written.
    hub.publish(channel, _post(1))
    transport = FakeTransport()
    hub.attach(stream, transport, b"preamble")
    hub.publish(channel, _post(2))
    hub.publish(channel, _counters(3))
    assert transport.writes == [b"preamble"]
    # The replay sent post 1 (and wrote it itself); the held copy is skipped.
    assert hub.write(stream, _post(1).wire)
    hub.replayed(stream, {_post(1).event_id})  # type: ignore[arg-type]
    assert transport.writes == [b"preamble", b"post 1", b"post 2", b"counters 3"]
    # A late live copy of a replayed change is still skipped; new changes are not.
    hub.publish(channel, _post(1))
    hub.publish(channel, _post(4))
    assert transport.writes[-1] == b"post 4" and transport.writes.count(b"post 1") == 1


async def test_too_much_held_during_a_replay_cuts_the_stream_off() -> None:
    hub = _hub(buffer_max=10)
    channel = uuid4()
    stream = hub.open("x", [channel])
    hub.publish(channel, _counters(1))
    hub.publish(channel, _counters(2))
    assert stream.closed and hub.connections == 0


async def test_heartbeat_reaches_started_streams_and_drops_closed_ones() -> None:
    hub = _hub(buffer_max=100)
    channel = uuid4()
    live = await _live(hub, "a", [channel])
    gone = await _live(hub, "b", [channel])
    stuck = await _live(hub, "c", [channel], backlog=500)
    pending = hub.open("d", [channel])
    gone.closing = True
    assert hub.heartbeat() == 1
    assert live.writes[-1] == HEARTBEAT
    assert stuck.aborted
    assert hub.connections == 2 and not pending.closed


async def test_replay_dedupe_window_ends_on_a_heartbeat() -> None:
    hub = _hub()
    channel = uuid4()
    stream = hub.open("x", [channel])
    transport = FakeTransport()
    hub.attach(stream, transport, b"")
    hub.replayed(stream, {_post(1).event_id})  # type: ignore[arg-type]
    hub.heartbeat(now=time.monotonic() + 3600)
    assert stream.gate is None


async def test_follow_changes_apply_to_open_streams() -> None:
    hub = _hub()
    channel = uuid4()
    transport = await _live(hub, "x", [])
    hub.follow_changed("x", channel, following=True)
    assert hub.publish(channel, _counters()) == 1
    hub.follow_changed("x", channel, following=False)
    assert hub.publish(channel, _counters()) == 0
    assert transport.writes == [b"preamble", b"counters 0"]


def test_account_tags_name_accounts_with_open_streams_only() -> None:
    hub = Hub(buffer_max=100, per_account=5, total_max=10, account_tag=lambda a: f"tag-{a}")
    first = hub.open("x", [])
    second = hub.open("x", [])
    assert hub.account_for_tag("tag-x") == "x"
    assert hub.account_for_tag("tag-y") is None
    hub.close(first)
    assert hub.account_for_tag("tag-x") == "x"
    hub.close(second)
    assert hub.account_for_tag("tag-x") is None


def test_event_ids_order_like_changed_at_then_post_id() -> None:
    t = datetime(2026, 11, 25, 12, 0, 0, 5, tzinfo=UTC)
    ids = [
        EventId(t, UUID(int=2)),
        EventId(t, UUID(int=1)),
        EventId(t + timedelta(microseconds=1), UUID(int=0)),
        EventId.at(t - timedelta(days=3)),
    ]
    assert sorted(ids) == sorted(ids, key=str)
    for event_id in ids:
        assert EventId.parse(str(event_id)) == event_id
    for garbage in ("", "12", "abc-def", "1-" + "g" * 32, "9" * 18 + "-" + "0" * 32):
        with pytest.raises(Problem):
            EventId.parse(garbage)
