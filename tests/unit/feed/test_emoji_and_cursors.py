"""Pure pieces of the feed: the opaque cursors. (The one-emoji rule is tested with its
other user, the publisher, in tests/unit/test_emoji.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from services.feed import cursors
from shared.http.problems import Problem


def test_cursor_round_trips_its_key() -> None:
    when = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    post = UUID("0193a1b2-1111-7000-8000-000000000001")
    token = cursors.encode("timeline", when, post)
    assert cursors.decode(token, "timeline", [datetime, UUID]) == [when, post]


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        cursors.encode("popular", 3, "x"),
        "A" * 300,
        cursors.encode("timeline", "2026-01-01T00:00:00", "0193a1b2-1111-7000-8000-000000000001"),
    ],
)
def test_garbage_cursor_is_a_400_problem(garbage: str) -> None:
    with pytest.raises(Problem) as caught:
        cursors.decode(garbage, "timeline", [datetime, UUID])
    assert caught.value.status == 400


def test_cursor_of_another_listing_is_refused() -> None:
    token = cursors.encode("new", datetime(2026, 1, 1, tzinfo=UTC), UUID(int=1))
    with pytest.raises(Problem):
        cursors.decode(token, "popular", [int, UUID])
