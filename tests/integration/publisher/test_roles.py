"""Who may do what: every publisher endpoint against anonymous callers, plain accounts,
admins of another channel, admins and the owner. Outsiders get 404 — never a hint that
the channel exists — and owner-only actions answer 403 to admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.publisher.conftest import (
    Channel,
    account,
    channel_body,
    create_channel,
    image_bytes,
)
from tests.support.tokens import auth

ROLES = ("anonymous", "account", "other_admin", "admin", "owner")


@dataclass
class World:
    channel: Channel
    admin: str
    second_admin: str
    other_admin: str
    post_id: str

    def caller(self, role: str) -> dict[str, str]:
        who = {
            "anonymous": None,
            "account": account(),
            "other_admin": self.other_admin,
            "admin": self.admin,
            "owner": self.channel.owner,
        }[role]
        return auth(who) if who else {}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # formatted with the World
    expected: tuple[int, int, int, int, int]  # per ROLES
    json: Any = None
    upload: bool = False


OUTSIDERS = (401, 404, 404)
CASES = {
    "create channel": Case("POST", "/v1/channels", (401, 201, 201, 201, 201), json="new"),
    "read channel": Case("GET", "{c}", (*OUTSIDERS, 200, 200)),
    "edit channel": Case("PATCH", "{c}", (*OUTSIDERS, 200, 200), json={"name": "Renamed"}),
    "edit settings": Case(
        "PATCH", "{c}", (*OUTSIDERS, 403, 200), json={"settings": {"reactions": "none"}}
    ),
    "delete channel": Case("DELETE", "{c}", (*OUTSIDERS, 403, 204)),
    "add admin": Case("PUT", "{c}/admins/{new}", (*OUTSIDERS, 403, 201)),
    "remove admin": Case("DELETE", "{c}/admins/{second}", (*OUTSIDERS, 403, 204)),
    "upload media": Case("POST", "{c}/media", (*OUTSIDERS, 201, 201), upload=True),
    "publish": Case(
        "POST", "{c}/posts", (*OUTSIDERS, 202, 202), json={"type": "text", "text": "hi"}
    ),
    "post status": Case("GET", "{c}/posts/{post}", (*OUTSIDERS, 200, 200)),
    "edit post": Case("PATCH", "{c}/posts/{post}", (*OUTSIDERS, 202, 202), json={"text": "hey"}),
    "delete post": Case("DELETE", "{c}/posts/{post}", (*OUTSIDERS, 202, 202)),
    "insights": Case("GET", "{c}/insights", (*OUTSIDERS, 200, 200)),
}


async def _world(http: httpx.AsyncClient) -> World:
    channel = await create_channel(http)
    other = await create_channel(http)
    admin, second = account("admin"), account("admin2")
    for who in (admin, second):
        added = await http.put(channel.url(f"/admins/{who}"), headers=auth(channel.owner))
        assert added.status_code == 201
    post = await http.post(
        channel.url("/posts"), json={"type": "text", "text": "x"}, headers=auth(channel.owner)
    )
    assert post.status_code == 202
    return World(channel, admin, second, other.owner, post.json()["post_id"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
async def test_role_matrix(client: httpx.AsyncClient, name: str, role: str) -> None:
    case = CASES[name]
    world = await _world(client)
    path = case.path.format(
        c=world.channel.url(), new=account("new"), second=world.second_admin, post=world.post_id
    )
    kwargs: dict[str, Any] = {"headers": world.caller(role)}
    if case.json == "new":
        kwargs["json"] = channel_body()
    elif case.json is not None:
        kwargs["json"] = case.json
    if case.upload:
        kwargs["files"] = {"file": ("a.png", image_bytes("PNG"), "image/png")}
    response = await client.request(case.method, path, **kwargs)
    expected = case.expected[ROLES.index(role)]
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    if expected == 404:
        # Indistinguishable from a channel that does not exist.
        missing = path.replace(world.channel.channel_id, str(uuid.uuid4()))
        ghost = await client.request(case.method, missing, **kwargs)
        assert ghost.status_code == 404
        assert ghost.json()["detail"] == response.json()["detail"]
