"""A small, real Herald world for the security suite, built only through the public APIs:
channels, admins and media via the publisher, posts through Kafka and the real fan-out,
follows via the feed. Roles are resolved to accounts per call, so a test may consume one
(unfollow, remove an admin, delete a channel) without touching the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import httpx

from tests.integration.feed.builder import wait_post_visible
from tests.integration.publisher.conftest import channel_body, image_bytes
from tests.support.tokens import auth, operator_auth

Role = Literal["anonymous", "account", "follower", "other_admin", "admin", "owner", "operator"]
ROLES: tuple[Role, ...] = (
    "anonymous",
    "account",
    "follower",
    "other_admin",
    "admin",
    "owner",
    "operator",
)


def new_account(prefix: str = "sec") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if response.content else None


@dataclass
class World:
    pub: httpx.AsyncClient
    fd: httpx.AsyncClient
    owner: str
    admin: str
    other_admin: str
    channel_id: str
    other_channel_id: str
    media_id: str = ""
    photo_post_id: str = ""
    poll_post_id: str = ""
    handle: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    async def caller(self, role: Role, channel_id: str | None = None) -> dict[str, str]:
        """Headers of an account in `role`; `follower` is a new account following now."""
        if role == "anonymous":
            return {}
        if role == "account":
            return auth(new_account("acct"))
        if role == "operator":
            # A Herald operator (token role), with no part in any channel.
            return operator_auth(new_account("op"))
        if role == "follower":
            headers = auth(new_account("fol"))
            target = channel_id or self.channel_id
            expect(await self.fd.put(f"/v1/channels/{target}/follow", headers=headers), 200)
            return headers
        return auth(
            {"other_admin": self.other_admin, "admin": self.admin, "owner": self.owner}[role]
        )

    async def fresh_channel(self) -> str:
        """A new channel of the same owner with the same admin."""
        return await create_channel(self.pub, self.owner, [self.admin])

    async def fresh_post(self, channel_id: str | None = None) -> str:
        target = channel_id or self.channel_id
        body = {"type": "text", "text": "fresh"}
        accepted = await self.pub.post(
            f"/v1/channels/{target}/posts", json=body, headers=auth(self.owner)
        )
        return str(expect(accepted, 202)["post_id"])

    async def fresh_admin(self, channel_id: str | None = None) -> str:
        target = channel_id or self.channel_id
        who = new_account("adm")
        added = await self.pub.put(f"/v1/channels/{target}/admins/{who}", headers=auth(self.owner))
        expect(added, 201)
        return who


async def create_channel(
    pub: httpx.AsyncClient, owner: str, admins: Sequence[str] = (), **overrides: Any
) -> str:
    created = await pub.post("/v1/channels", json=channel_body(**overrides), headers=auth(owner))
    channel_id = str(expect(created, 201)["channel_id"])
    for admin in admins:
        added = await pub.put(f"/v1/channels/{channel_id}/admins/{admin}", headers=auth(owner))
        expect(added, 201)
    return channel_id


async def publish(pub: httpx.AsyncClient, channel_id: str, who: str, body: dict[str, Any]) -> str:
    accepted = await pub.post(f"/v1/channels/{channel_id}/posts", json=body, headers=auth(who))
    return str(expect(accepted, 202)["post_id"])


async def build_world(pub: httpx.AsyncClient, fd: httpx.AsyncClient, tag: str = "sec") -> World:
    owner, admin, other_admin = (new_account(f"{tag}-{r}") for r in ("owner", "admin", "other"))
    channel_id = await create_channel(pub, owner, [admin], name=f"Security {tag}")
    other_channel_id = await create_channel(pub, other_admin)
    world = World(pub, fd, owner, admin, other_admin, channel_id, other_channel_id)
    world.handle = (await pub.get(f"/v1/channels/{channel_id}", headers=auth(owner))).json()[
        "handle"
    ]
    uploaded = await pub.post(
        f"/v1/channels/{channel_id}/media",
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
        headers=auth(admin),
    )
    world.media_id = str(expect(uploaded, 201)["media_id"])
    world.photo_post_id = await publish(
        pub, channel_id, admin, {"type": "photo", "media_id": world.media_id, "caption": "look"}
    )
    world.poll_post_id = await publish(
        pub,
        channel_id,
        owner,
        {"type": "poll", "poll": {"question": "Which?", "options": ["a", "b", "c"]}},
    )
    for post_id in (world.photo_post_id, world.poll_post_id):
        await wait_post_visible(fd, UUID(channel_id), UUID(post_id))
    return world
