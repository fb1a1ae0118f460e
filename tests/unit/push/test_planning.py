"""Planning a post's shards (services.push.audience, services.push.planner): pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.push.audience import shard_count
from services.push.planner import is_post_visible
from shared.events.push import MAX_SHARDS

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "events" / "examples" / "live"


@pytest.mark.parametrize(
    ("audience", "shards"),
    [(0, 0), (1, 1), (500, 1), (501, 2), (1000, 2), (1001, 4), (100_000, 256)],
)
def test_shards_are_a_power_of_two_near_the_target(audience: int, shards: int) -> None:
    assert shard_count(audience, 500) == shards


def test_shards_are_capped() -> None:
    assert shard_count(10**9, 500) == MAX_SHARDS


def test_only_post_visible_events_are_planned() -> None:
    for path in EXAMPLES.glob("*.json"):
        assert is_post_visible(path.read_bytes()) == path.name.startswith("live.post_visible.v")
    assert not is_post_visible(b'{"type": "live.channel_suspended", "version": 1}')
    assert not is_post_visible(None)
    # Garbage is left to the registry, which calls it poison (DLQ).
    assert is_post_visible(b"{not json")
