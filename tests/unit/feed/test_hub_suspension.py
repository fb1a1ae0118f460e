"""A suspended channel leaves the hub: no local stream receives its events any more, the
streams keep their other channels, and a stream opened later with it (after a restore)
receives it again."""

from __future__ import annotations

from uuid import uuid4

from services.feed.live.hub import Hub, Item
from tests.unit.feed.test_hub import _live, _post


def _hub() -> Hub:
    return Hub(buffer_max=1 << 20, per_account=5, total_max=100)


async def test_a_suspended_channel_reaches_no_stream_and_the_others_still_do() -> None:
    hub = _hub()
    suspended, other = uuid4(), uuid4()
    first = await _live(hub, "a", [suspended, other])
    second = await _live(hub, "b", [suspended])
    assert hub.publish(suspended, _post(1)) == 2

    assert hub.channel_suspended(suspended) == 2
    assert not hub.listening(suspended)
    assert hub.publish(suspended, _post(2)) == 0
    assert hub.publish(other, _post(3)) == 1
    assert first.writes[-1] == _post(3).wire
    assert second.writes[-1] == _post(1).wire
    # Suspending again (a repeated event) changes nothing.
    assert hub.channel_suspended(suspended) == 0

    # Restored: a stream opened (or reconnected) with the channel receives it again.
    later = await _live(hub, "b", [suspended])
    item: Item = _post(4)
    assert hub.publish(suspended, item) == 1
    assert later.writes[-1] == item.wire
