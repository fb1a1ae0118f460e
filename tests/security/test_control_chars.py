"""Control characters and lone surrogates in every text field, path segment, query value
and token `sub` of both APIs (issue #19 item 3).

Postgres cannot store U+0000 or a lone surrogate: a post holding one used to be answered
202 and then lost in fan-out. Now every such value is a 422 that changes nothing (a 401
for a token's `sub`), and what the publisher does acknowledge reaches `published`.
Bodies are sent as JSON text with `\\uXXXX` escapes, the way a hostile client would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import httpx
import pytest

from tests.integration.feed.builder import wait_post_visible
from tests.integration.feed.test_push_subscriptions import subscription
from tests.integration.publisher.conftest import channel_body
from tests.security.endpoints import fresh_suspended_channel
from tests.security.world import World, expect, new_account
from tests.support.tokens import auth, operator_auth, token_for

# One of each class the rule refuses: NUL, another C0 control, a C1 control, a surrogate.
HOSTILE = {"nul": "\x00", "escape": "\x1b", "c1": "\x85", "surrogate": "\ud800"}
# The same, percent-encoded as UTF-8 for a URL (a surrogate has no UTF-8 form: its
# CESU-style bytes are what a client could send).
HOSTILE_URL = {"nul": "%00", "escape": "%1B", "c1": "%C2%85", "surrogate": "%ED%A0%80"}

Who = Literal["account", "owner", "admin", "follower", "operator"]


async def send_json(
    http: httpx.AsyncClient, method: str, url: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    # json.dumps escapes non-ASCII, so a lone surrogate travels as the JSON escape "\ud800".
    return await http.request(
        method,
        url,
        content=json.dumps(body).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )


def assert_validation_problem(response: httpx.Response, bad: str) -> None:
    assert response.status_code == 422, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation")
    # The refusal never echoes the offending value.
    assert bad not in response.text


@dataclass(frozen=True)
class Field:
    """A text field of a request body: where it is sent, by whom, and the body holding
    `text` in it."""

    service: Literal["publisher", "feed"]
    method: str
    path: Callable[[World], Awaitable[str]]
    who: Who
    body: Callable[[World, str], Any]


def at(template: str) -> Callable[[World], Awaitable[str]]:
    async def path(world: World) -> str:
        return template.format(c=world.channel_id, photo=world.photo_post_id)

    return path


async def _fresh_text_post(world: World) -> str:
    return f"/v1/channels/{world.channel_id}/posts/{await world.fresh_post()}"


async def _fresh_suspension(world: World) -> str:
    return f"/v1/operator/channels/{await world.fresh_channel()}/suspension"


async def _fresh_appeal(world: World) -> str:
    return f"/v1/channels/{await fresh_suspended_channel(world)}/appeal"


def _poll(**overrides: Any) -> dict[str, Any]:
    return {"type": "poll", "poll": {"question": "Which?", "options": ["a", "b"], **overrides}}


# Every string field of the publisher's and the feed's request bodies.
# fmt: off
FIELDS: dict[str, Field] = {
    "channel handle": Field("publisher", "POST", at("/v1/channels"), "account",
                            lambda w, t: channel_body(handle=f"ch_{uuid.uuid4().hex[:8]}{t}")),
    "channel name": Field("publisher", "POST", at("/v1/channels"), "account",
                          lambda w, t: channel_body(name=f"News{t}")),
    "channel description": Field("publisher", "POST", at("/v1/channels"), "account",
                                 lambda w, t: channel_body(description=f"About{t}")),
    "channel country": Field("publisher", "POST", at("/v1/channels"), "account",
                             lambda w, t: channel_body(country=f"k{t}")),
    "channel language": Field("publisher", "POST", at("/v1/channels"), "account",
                              lambda w, t: channel_body(language=f"en{t}")),
    "allowed reaction": Field("publisher", "POST", at("/v1/channels"), "account",
                              lambda w, t: channel_body(settings={
                                  "reactions": "limited", "allowed_reactions": [f"👍{t}"]})),
    "renamed channel": Field("publisher", "PATCH", at("/v1/channels/{c}"), "owner",
                             lambda w, t: {"name": f"Renamed{t}"}),
    "edited description": Field("publisher", "PATCH", at("/v1/channels/{c}"), "owner",
                                lambda w, t: {"description": f"About{t}"}),
    "edited language": Field("publisher", "PATCH", at("/v1/channels/{c}"), "owner",
                             lambda w, t: {"language": f"pt{t}"}),
    "post text": Field("publisher", "POST", at("/v1/channels/{c}/posts"), "admin",
                       lambda w, t: {"type": "text", "text": f"hello{t}world"}),
    "post caption": Field("publisher", "POST", at("/v1/channels/{c}/posts"), "admin",
                          lambda w, t: {"type": "photo", "media_id": w.media_id,
                                        "caption": f"look{t}"}),
    "poll question": Field("publisher", "POST", at("/v1/channels/{c}/posts"), "admin",
                           lambda w, t: _poll(question=f"Which{t}?")),
    "poll option": Field("publisher", "POST", at("/v1/channels/{c}/posts"), "admin",
                         lambda w, t: _poll(options=["a", f"b{t}"])),
    "edited post text": Field("publisher", "PATCH", _fresh_text_post, "admin",
                              lambda w, t: {"text": f"edited{t}"}),
    "suspension reason": Field("publisher", "PUT", _fresh_suspension, "operator",
                               lambda w, t: {"reason": f"spam{t}"}),
    "appeal text": Field("publisher", "POST", _fresh_appeal, "owner",
                         lambda w, t: {"text": f"please{t}"}),
    "reaction": Field("feed", "PUT", at("/v1/posts/{photo}/reaction"), "follower",
                      lambda w, t: {"emoji": f"👍{t}"}),
    "report note": Field("feed", "POST", at("/v1/reports"), "account",
                         lambda w, t: {"channel_id": w.channel_id, "post_id": w.photo_post_id,
                                       "reason": "spam", "note": f"see{t}"}),
    "push endpoint": Field("feed", "PUT", at("/v1/me/push-subscriptions"), "account",
                           lambda w, t: subscription(f"https://push.example.com/ep{t}")),
}
# fmt: on


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("field", list(FIELDS))
async def test_hostile_text_in_every_body_field_is_a_422(
    field: str, kind: str, world: World
) -> None:
    spec = FIELDS[field]
    bad = HOSTILE[kind]
    http = world.pub if spec.service == "publisher" else world.fd
    path = await spec.path(world)
    headers = await world.caller(spec.who)
    response = await send_json(http, spec.method, path, spec.body(world, bad), headers)
    assert_validation_problem(response, bad)


async def test_a_refused_channel_edit_changes_nothing(world: World) -> None:
    owner = auth(world.owner)
    before = expect(await world.pub.get(f"/v1/channels/{world.channel_id}", headers=owner), 200)
    for bad in HOSTILE.values():
        edit = {"name": f"Renamed{bad}", "description": "fine"}
        refused = await send_json(
            world.pub, "PATCH", f"/v1/channels/{world.channel_id}", edit, owner
        )
        assert_validation_problem(refused, bad)
    after = expect(await world.pub.get(f"/v1/channels/{world.channel_id}", headers=owner), 200)
    assert (after["name"], after["description"]) == (before["name"], before["description"])


async def test_a_refused_channel_leaves_its_handle_free(world: World) -> None:
    handle = f"ch_{uuid.uuid4().hex[:10]}"
    owner = auth(new_account("own"))
    refused = await send_json(
        world.pub, "POST", "/v1/channels", channel_body(handle=handle, name="a\x00b"), owner
    )
    assert_validation_problem(refused, "\x00")
    created = await world.pub.post("/v1/channels", json=channel_body(handle=handle), headers=owner)
    expect(created, 201)


async def test_text_the_publisher_accepts_is_published(world: World) -> None:
    """Newlines, tabs and Unicode beyond the controls (line separator, BOM, a
    noncharacter, flags, combining marks) are text: a 202 for them ends in `published`."""
    text = "line one\n\tline two\u2028ü\u0308 \ufeff\uffff 🇰🇪 عربى"
    admin = auth(world.admin)
    accepted = await send_json(
        world.pub,
        "POST",
        f"/v1/channels/{world.channel_id}/posts",
        {"type": "text", "text": text},
        admin,
    )
    post_id = expect(accepted, 202)["post_id"]
    shown = await wait_post_visible(world.fd, UUID(world.channel_id), UUID(post_id))
    assert shown["body"]["text"] == text
    status = await world.pub.get(f"/v1/channels/{world.channel_id}/posts/{post_id}", headers=admin)
    assert expect(status, 200)["status"] == "published"


# fmt: off
PATHS: list[tuple[str, Literal["publisher", "feed"], str, str, Who | None]] = [
    ("add admin", "publisher", "PUT", "/v1/channels/{c}/admins/a{bad}b", "owner"),
    ("remove admin", "publisher", "DELETE", "/v1/channels/{c}/admins/a{bad}b", "owner"),
    ("channel card", "feed", "GET", "/v1/channels/news{bad}", None),
    ("directory q", "feed", "GET", "/v1/directory?q=news{bad}", None),
    ("directory country", "feed", "GET", "/v1/directory?country=k{bad}", None),
    ("directory cursor", "feed", "GET", "/v1/directory?cursor=abc{bad}", None),
    ("timeline cursor", "feed", "GET", "/v1/timeline?cursor=abc{bad}", "account"),
    ("stream resume id", "feed", "GET", "/v1/stream?last_event_id=1{bad}", "account"),
    ("stream ticket", "feed", "GET", "/v1/stream?ticket=t{bad}", None),
    ("post history", "feed", "GET", "/v1/channels/{c}/posts?before=1{bad}", None),
]
# fmt: on


@pytest.mark.parametrize("kind", list(HOSTILE_URL))
@pytest.mark.parametrize("case", [p[0] for p in PATHS])
async def test_hostile_path_segments_and_query_values_are_a_422(
    case: str, kind: str, world: World
) -> None:
    _, service, method, template, who = next(p for p in PATHS if p[0] == case)
    http = world.pub if service == "publisher" else world.fd
    headers = await world.caller(who) if who else {}
    url = template.format(c=world.channel_id, bad=HOSTILE_URL[kind])
    response = await http.request(method, url, headers=headers)
    assert_validation_problem(response, HOSTILE[kind])


async def test_hostile_query_on_an_operator_path_is_still_a_404_to_others(world: World) -> None:
    url = "/v1/operator/reports?cursor=a%00b"
    for headers in ({}, auth(new_account("acct")), auth(world.owner)):
        hidden = await world.pub.get(url, headers=headers)
        assert hidden.status_code == 404, hidden.text
    assert_validation_problem(
        await world.pub.get(url, headers=operator_auth(new_account("op"))), "\x00"
    )


def _sub_token(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(sub)}"}


# Where a token's account id would be used: each kind of character once per endpoint
# (rotating), and every kind on the timeline. Few requests in all, since every one is a
# failed authentication counted against this test's address.
SUB_ENDPOINTS = [
    ("feed", "GET", "/v1/me/follows"),
    ("feed", "GET", "/v1/updates"),
    ("feed", "GET", "/v1/timeline"),
    ("feed", "GET", "/v1/stream"),
    ("feed", "GET", "/v1/directory"),
    ("feed", "PUT", "/v1/channels/{c}/follow"),
    ("publisher", "POST", "/v1/channels"),
]
KINDS = list(HOSTILE)
SUB_CASES = [(e, KINDS[i % len(KINDS)]) for i, e in enumerate(SUB_ENDPOINTS)] + [
    (("feed", "GET", "/v1/timeline"), kind) for kind in KINDS
]


async def test_a_token_whose_sub_holds_a_control_character_is_a_401(world: World) -> None:
    for (service, method, path), kind in SUB_CASES:
        http = world.pub if service == "publisher" else world.fd
        body = channel_body() if method == "POST" else None
        url = path.format(c=world.channel_id)
        response = await http.request(
            method, url, json=body, headers=_sub_token(f"acct{HOSTILE[kind]}x")
        )
        assert response.status_code == 401, (url, kind, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_nothing_hostile_reached_the_channel_history(world: World) -> None:
    page = expect(
        await world.fd.get(f"/v1/channels/{world.channel_id}/posts", params={"limit": 100}), 200
    )
    for item in page["items"]:
        stored = json.dumps(item["body"], ensure_ascii=False)
        assert not any(bad in stored for bad in HOSTILE.values()), item["post_id"]
