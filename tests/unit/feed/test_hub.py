"""The SSE hub: fan-in per channel to local streams only, caps, slow-client dropping,
follow changes of open streams; and event ids that order and round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from services.feed.live.hub import Hub, Item, StreamLimit
from services.feed.live.ids import EventId
from shared.http.problems import Problem


def _item(n: int = 0) -> Item:
    return Item("counters", b'{"n": %d}' % n)


def test_publish_reaches_only_streams_following_the_channel() -> None:
    hub = Hub(queue_max=4, per_account=2, total_max=10)
    a, b = uuid4(), uuid4()
    one = hub.open("x", [a])
    two = hub.open("y", [b])
    assert hub.publish(a, _item()) == 1
    assert one.queue.qsize() == 1 and two.queue.qsize() == 0
    hub.close(one)
    hub.close(one)  # idempotent
    assert hub.connections == 1 and not hub.listening(a)


def test_caps_per_account_and_per_process() -> None:
    hub = Hub(queue_max=4, per_account=1, total_max=2)
    hub.open("x", [])
    with pytest.raises(StreamLimit) as per_account:
        hub.open("x", [])
    assert per_account.value.status == 429
    hub.open("y", [])
    with pytest.raises(StreamLimit) as per_process:
        hub.open("z", [])
    assert per_process.value.status == 503


def test_a_slow_stream_is_dropped_not_buffered() -> None:
    hub = Hub(queue_max=2, per_account=5, total_max=10)
    channel = uuid4()
    slow = hub.open("slow", [channel])
    fast = hub.open("fast", [channel])
    for n in range(2):
        hub.publish(channel, _item(n))
    fast.queue.get_nowait()
    fast.queue.get_nowait()
    assert hub.publish(channel, _item(3)) == 1
    assert slow.dropped and slow.closed
    assert hub.connections == 1


def test_follow_changes_apply_to_open_streams() -> None:
    hub = Hub(queue_max=2, per_account=5, total_max=10)
    channel = uuid4()
    conn = hub.open("x", [])
    hub.follow_changed("x", channel, following=True)
    assert hub.publish(channel, _item()) == 1
    hub.follow_changed("x", channel, following=False)
    assert hub.publish(channel, _item()) == 0
    assert conn.queue.qsize() == 1


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
