"""Crafted cursors: well-formed base64 JSON whose key the query could not bind (too big
for a bigint or a real, a time outside what UTC can hold) is the 400 `invalid-cursor`
problem at decode time, never an overflow at the database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from services.feed import cursors
from shared.http.problems import Problem

CHANNEL = "0193a1b2-1111-7000-8000-000000000001"


def crafted(kind: str, key: Any) -> str:
    """A cursor as an attacker would write it (any JSON number, any string)."""
    raw = json.dumps([kind, key, CHANNEL]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("key", [2**63, 2**64 - 1, -(2**63) - 1, 1e300, 1.5, True, "7"])
def test_integer_sort_keys_out_of_bigint_are_refused(key: Any) -> None:
    with pytest.raises(Problem) as caught:
        cursors.decode(crafted("popular", key), "popular", [int, UUID])
    assert (caught.value.status, caught.value.type_) == (400, "invalid-cursor")


@pytest.mark.parametrize("key", [1e300, -1e300, 1e39])
def test_float_sort_keys_out_of_real_are_refused(key: float) -> None:
    with pytest.raises(Problem) as caught:
        cursors.decode(crafted("relevance", key), "relevance", [float, UUID])
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T05:00:00+23:59",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T20:00:00-23:59",
    ],
)
def test_times_that_leave_the_calendar_in_utc_are_refused(when: str) -> None:
    for kind in ("new", "timeline", "follows", "updates"):
        with pytest.raises(Problem) as caught:
            cursors.decode(crafted(kind, when), kind, [datetime, UUID])
        assert caught.value.status == 400


def test_extreme_but_valid_keys_decode_in_utc() -> None:
    key, _ = cursors.decode(crafted("new", "0001-01-01T00:00:00+00:00"), "new", [datetime, UUID])
    assert key == datetime(1, 1, 1, tzinfo=UTC)
    key, _ = cursors.decode(crafted("new", "2026-06-01T12:00:00+02:00"), "new", [datetime, UUID])
    assert key == datetime(2026, 6, 1, 10, tzinfo=UTC) and key.tzinfo is UTC
    biggest, _ = cursors.decode(crafted("popular", 2**63 - 1), "popular", [int, UUID])
    assert biggest == 2**63 - 1
