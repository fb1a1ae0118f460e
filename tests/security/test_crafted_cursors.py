"""Crafted cursors and unbounded integers (issue #19 item 4), against the running services.

A cursor is opaque base64 JSON, so a client can write any key into it: integers past a
bigint, floats past a real, times that leave the calendar once moved to UTC. Each is a
400 `invalid-cursor` problem (never a 500 from the database driver), extreme keys that
do fit are served, and integer query parameters are bounded (422).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.security.world import World, expect, new_account
from tests.support.tokens import auth

CHANNEL = "0193a1b2-1111-7000-8000-000000000001"


def crafted(kind: str, key: Any) -> str:
    """A cursor as a client could write it (json: any number, unlike our encoder)."""
    raw = json.dumps([kind, key, CHANNEL]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HUGE_NUMBERS = [2**63, 2**64 - 1, -(2**63) - 1, 1e300, -1e300]
# Year 1 and 9999 with offsets that push them out of range in UTC.
OUT_OF_CALENDAR = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T10:00:00+23:59",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T12:00:00-23:59",
]
# At the calendar's ends but representable: a listing from there is simply served.
CALENDAR_ENDS = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00"]

# (path, cursor kind) of every listing whose cursor holds a time.
TIMED = [
    ("/v1/directory", "new"),
    ("/v1/me/follows", "follows"),
    ("/v1/updates", "updates"),
    ("/v1/timeline", "timeline"),
]


def cursor_params(kind: str, cursor: str) -> dict[str, str]:
    # The directory's cursor kind is its sort, which must be asked for again.
    return {"sort": kind, "cursor": cursor} if kind == "new" else {"cursor": cursor}


def assert_invalid_cursor(response: httpx.Response) -> None:
    assert response.status_code == 400, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/invalid-cursor")


# Integer sorts (followers, posts in 7 days) bind a bigint; relevance binds a real.
HUGE_KEYS = [(sort, key) for sort in ("popular", "active") for key in HUGE_NUMBERS] + [
    ("relevance", key) for key in (1e300, -1e300, 1e39)
]


@pytest.mark.parametrize(("sort", "key"), HUGE_KEYS)
async def test_directory_cursor_with_a_huge_number_is_a_400(
    sort: str, key: float, world: World
) -> None:
    params = {"sort": sort, "cursor": crafted(sort, key)}
    if sort == "relevance":
        params["q"] = "security"
    assert_invalid_cursor(await world.fd.get("/v1/directory", params=params))


@pytest.mark.parametrize("when", OUT_OF_CALENDAR)
@pytest.mark.parametrize(("path", "kind"), TIMED)
async def test_time_cursor_outside_the_calendar_in_utc_is_a_400(
    path: str, kind: str, when: str, world: World
) -> None:
    me = auth(new_account("cur"))
    params = cursor_params(kind, crafted(kind, when))
    response = await world.fd.get(path, params=params, headers=me)
    assert_invalid_cursor(response)


@pytest.mark.parametrize("when", CALENDAR_ENDS)
@pytest.mark.parametrize(("path", "kind"), TIMED)
async def test_time_cursor_at_the_calendar_ends_is_served(
    path: str, kind: str, when: str, world: World
) -> None:
    follower = await world.caller("follower")
    params = cursor_params(kind, crafted(kind, when))
    response = await world.fd.get(path, params=params, headers=follower)
    page = expect(response, 200)
    if when.startswith("0001"):
        # Nothing is older than year 1.
        assert page["items"] == []


async def test_directory_cursor_with_the_biggest_bigint_is_served(world: World) -> None:
    cursor = crafted("popular", 2**63 - 1)
    response = await world.fd.get("/v1/directory", params={"sort": "popular", "cursor": cursor})
    # Every channel has fewer followers than that: the page starts at the top.
    assert expect(response, 200)["items"], "the world's public channels are listed"


@pytest.mark.parametrize("before", [2**63, 2**64 - 1, 10**30])
async def test_insights_before_past_a_bigint_is_a_422(before: int, world: World) -> None:
    response = await world.pub.get(
        f"/v1/channels/{world.channel_id}/insights",
        params={"before": str(before)},
        headers=auth(world.owner),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_insights_before_at_the_bound_is_served(world: World) -> None:
    response = await world.pub.get(
        f"/v1/channels/{world.channel_id}/insights",
        params={"before": str(2**62)},
        headers=auth(world.owner),
    )
    assert expect(response, 200)["followers"] >= 0


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("feed", "/v1/channels/{c}/posts?before=9223372036854775808"),
        ("feed", "/v1/channels/{c}/posts?after=9223372036854775808"),
        ("feed", "/v1/directory?limit=9223372036854775808"),
        ("feed", "/v1/timeline?limit=18446744073709551615"),
        ("publisher", "/v1/channels/{c}/scheduled?limit=9223372036854775808"),
        ("publisher", "/v1/channels/{c}/insights?limit=9223372036854775808"),
    ],
)
async def test_integer_query_parameters_are_bounded(service: str, path: str, world: World) -> None:
    http = world.pub if service == "publisher" else world.fd
    response = await http.get(path.format(c=world.channel_id), headers=auth(world.owner))
    assert response.status_code == 422, (path, response.text)


async def test_vote_option_past_a_bigint_is_a_422(world: World) -> None:
    voter = await world.caller("follower")
    response = await world.fd.put(
        f"/v1/posts/{world.poll_post_id}/vote", json={"options": [2**63]}, headers=voter
    )
    assert response.status_code == 422, response.text
