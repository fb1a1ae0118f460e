"""THE authorization spec: every endpoint of both HTTP services by every role → the status
it must answer. `test_authz_matrix` runs each cell; a coverage test checks the list
against the routes the running services publish in their OpenAPI, so a new endpoint
cannot ship without a row here.

Rules encoded (DESIGN.md "Public API", publisher `api/deps.py`):
- publisher: no token → 401; not an admin of the channel (plain account, follower, admin
  of another channel) → 404, exactly like a channel that does not exist; owner-only
  actions (settings, delete channel, add/remove admins) → 403 to an admin;
- feed: public reads (directory, card, history, media) → 200 to anyone; account actions
  → 401 without a token; follower-only actions (mute/alerts, read marker) → 404
  `not-following` to anyone who does not follow;
- ops endpoints answer everyone (they carry no per-user data; see the canary test);
- operator endpoints (`/v1/operator/…`) answer Herald operators only (a token whose
  `roles` hold `herald-operator`); everyone else, anonymous included, gets the 404 of a
  path that does not exist. Everywhere else an operator is a plain account.
- deletion reports: a channel's own (`…/deletion-report`) answer its owner only (403 to
  an admin, 404 to everyone else); the operator's answer operators only.
- moderation: verification, suspension, appeals and the operator's audit log answer
  operators only; a channel's own audit log and its appeal answer its owner (403 to an
  admin, 404 to everyone else); suspension cells use a fresh channel of the world's owner
  and admin, appeal cells a fresh suspended one, so the world's channel stays active.
- invites (`…/invites`): the channel's admins create, list and revoke them (404 to
  everyone else); the world's channel is public, so the feed's read paths stay open here
  (invite-only channels: tests/integration/feed/test_invite_channels.py).
- push subscriptions (`/v1/me/push-subscriptions`): any account manages its own only;
  another account's subscription id is a 404, like one that does not exist; the push
  key answers anyone.

Path placeholders are filled per cell by `resolve` — `{fresh_*}` ones create a new
resource first, so destructive cells never disturb the others.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.security.world import ROLES, Role, World, expect, new_account
from tests.support.tokens import auth, operator_auth

Service = Literal["publisher", "feed"]
Body = Callable[[World], Any]

# Shorthands, in ROLES order: anonymous, account, follower, other_admin, admin, owner,
# operator.
ADMIN_ONLY = (401, 404, 404, 404, 200, 200, 404)
ANY_ACCOUNT = (401, 200, 200, 200, 200, 200, 200)
ANYONE = (200, 200, 200, 200, 200, 200, 200)
FOLLOWER_ONLY = (401, 404, 200, 404, 404, 404, 404)


def _owner_only(status: int) -> tuple[int, ...]:
    return (401, 404, 404, 404, 403, status, 404)


def _admins(status: int) -> tuple[int, ...]:
    return (401, 404, 404, 404, status, status, 404)


def _operators(status: int) -> tuple[int, ...]:
    return (404, 404, 404, 404, 404, 404, status)


def _accounts(status: int) -> tuple[int, ...]:
    """401 without a token, `status` for every account whatever its roles."""
    return tuple(401 if role == "anonymous" else status for role in ROLES)


def _subscriber_only(status: int) -> tuple[int, ...]:
    """For a push subscription of the channel owner's account (`{fresh_subscription}`):
    `status` to that account, 404 to every other one."""
    return tuple(
        401 if role == "anonymous" else status if role == "owner" else 404 for role in ROLES
    )


def _push_subscription(_: World) -> Any:
    from tests.integration.feed.test_push_subscriptions import subscription

    return subscription()


@dataclass(frozen=True)
class Endpoint:
    name: str
    service: Service
    method: str
    route: str  # the OpenAPI path template
    path: str  # the concrete path, placeholders filled by `resolve`
    expected: tuple[int, ...]  # per ROLES
    body: Body | None = None
    upload: bool = False
    stream: bool = False

    def status_for(self, role: Role) -> int:
        return self.expected[ROLES.index(role)]


def _channel_body(_: World) -> Any:
    from tests.integration.publisher.conftest import channel_body

    return channel_body()


C = "/v1/channels/{channel_id}"
# fmt: off
ENDPOINTS: tuple[Endpoint, ...] = (
    # ------------------------------------------------------------------ publisher
    Endpoint("create channel", "publisher", "POST", "/v1/channels", "/v1/channels",
             (401, 201, 201, 201, 201, 201, 201), body=_channel_body),
    Endpoint("admin view", "publisher", "GET", C, "/v1/channels/{channel}", ADMIN_ONLY),
    Endpoint("edit channel", "publisher", "PATCH", C, "/v1/channels/{channel}", ADMIN_ONLY,
             body=lambda w: {"name": "Renamed"}),
    Endpoint("edit settings", "publisher", "PATCH", C, "/v1/channels/{channel}", _owner_only(200),
             body=lambda w: {"settings": {"reactions": "all"}}),
    Endpoint("delete channel", "publisher", "DELETE", C, "/v1/channels/{fresh_channel}",
             _owner_only(204)),
    Endpoint("add admin", "publisher", "PUT", C + "/admins/{account_id}",
             "/v1/channels/{channel}/admins/{new_account}", _owner_only(201)),
    Endpoint("remove admin", "publisher", "DELETE", C + "/admins/{account_id}",
             "/v1/channels/{channel}/admins/{fresh_admin}", _owner_only(204)),
    Endpoint("upload media", "publisher", "POST", C + "/media", "/v1/channels/{channel}/media",
             _admins(201), upload=True),
    Endpoint("publish", "publisher", "POST", C + "/posts", "/v1/channels/{channel}/posts",
             _admins(202), body=lambda w: {"type": "text", "text": "hello"}),
    Endpoint("post status", "publisher", "GET", C + "/posts/{post_id}",
             "/v1/channels/{channel}/posts/{photo_post}", ADMIN_ONLY),
    Endpoint("edit post", "publisher", "PATCH", C + "/posts/{post_id}",
             "/v1/channels/{channel}/posts/{photo_post}", _admins(202),
             body=lambda w: {"caption": "edited"}),
    Endpoint("delete post", "publisher", "DELETE", C + "/posts/{post_id}",
             "/v1/channels/{channel}/posts/{fresh_post}", _admins(202)),
    Endpoint("scheduled posts", "publisher", "GET", C + "/scheduled",
             "/v1/channels/{channel}/scheduled", ADMIN_ONLY),
    Endpoint("pin post", "publisher", "PUT", C + "/pins/{post_id}",
             "/v1/channels/{channel}/pins/{photo_post}", _admins(204)),
    Endpoint("unpin post", "publisher", "DELETE", C + "/pins/{post_id}",
             "/v1/channels/{channel}/pins/{photo_post}", _admins(204)),
    Endpoint("insights", "publisher", "GET", C + "/insights", "/v1/channels/{channel}/insights",
             ADMIN_ONLY),
    Endpoint("deletion report", "publisher", "GET", C + "/deletion-report",
             "/v1/channels/{channel}/deletion-report?post_id={deleted_post}", _owner_only(200)),
    Endpoint("operator deletion report", "publisher", "GET", "/v1/operator/deletion-report",
             "/v1/operator/deletion-report?channel_id={reported_channel}", _operators(200)),
    Endpoint("grant alerts", "publisher", "PUT", "/v1/operator/channels/{channel_id}/alerts",
             "/v1/operator/channels/{channel}/alerts", _operators(204)),
    Endpoint("withdraw alerts", "publisher", "DELETE",
             "/v1/operator/channels/{channel_id}/alerts",
             "/v1/operator/channels/{channel}/alerts", _operators(204)),
    Endpoint("verify", "publisher", "PUT", "/v1/operator/channels/{channel_id}/verification",
             "/v1/operator/channels/{channel}/verification", _operators(204)),
    Endpoint("unverify", "publisher", "DELETE",
             "/v1/operator/channels/{channel_id}/verification",
             "/v1/operator/channels/{channel}/verification", _operators(204)),
    Endpoint("suspend", "publisher", "PUT", "/v1/operator/channels/{channel_id}/suspension",
             "/v1/operator/channels/{fresh_channel}/suspension", _operators(204),
             body=lambda w: {"reason": "spam"}),
    Endpoint("restore", "publisher", "DELETE", "/v1/operator/channels/{channel_id}/suspension",
             "/v1/operator/channels/{fresh_suspended}/suspension", _operators(204)),
    Endpoint("appeal", "publisher", "POST", C + "/appeal", "/v1/channels/{fresh_suspended}/appeal",
             _owner_only(201), body=lambda w: {"text": "please reconsider"}),
    Endpoint("list appeals", "publisher", "GET", "/v1/operator/appeals", "/v1/operator/appeals",
             _operators(200)),
    Endpoint("decide appeal", "publisher", "POST", "/v1/operator/appeals/{appeal_id}",
             "/v1/operator/appeals/{fresh_appeal}", _operators(204),
             body=lambda w: {"decision": "uphold"}),
    Endpoint("operator audit", "publisher", "GET", "/v1/operator/audit",
             "/v1/operator/audit?channel_id={channel}", _operators(200)),
    Endpoint("channel audit", "publisher", "GET", C + "/audit", "/v1/channels/{channel}/audit",
             _owner_only(200)),
    Endpoint("create invite", "publisher", "POST", C + "/invites",
             "/v1/channels/{channel}/invites", _admins(201), body=lambda w: {"max_uses": 3}),
    Endpoint("list invites", "publisher", "GET", C + "/invites",
             "/v1/channels/{channel}/invites", ADMIN_ONLY),
    Endpoint("revoke invite", "publisher", "DELETE", C + "/invites/{invite_id}",
             "/v1/channels/{channel}/invites/{fresh_invite}", _admins(204)),
    Endpoint("operator reports", "publisher", "GET", "/v1/operator/reports",
             "/v1/operator/reports?status=open", _operators(200)),
    Endpoint("resolve reports", "publisher", "POST", "/v1/operator/reports/resolve",
             "/v1/operator/reports/resolve", _operators(200),
             body=lambda w: {"channel_id": w.other_channel_id, "resolution": "dismissed"}),
    Endpoint("publisher healthz", "publisher", "GET", "/healthz", "/healthz", ANYONE),
    Endpoint("publisher readyz", "publisher", "GET", "/readyz", "/readyz", ANYONE),
    # ------------------------------------------------------------------ feed
    Endpoint("directory", "feed", "GET", "/v1/directory", "/v1/directory", ANYONE),
    Endpoint("card by id", "feed", "GET", "/v1/channels/{id_or_handle}",
             "/v1/channels/{channel}", ANYONE),
    Endpoint("card by handle", "feed", "GET", "/v1/channels/{id_or_handle}",
             "/v1/channels/{handle}", ANYONE),
    Endpoint("history", "feed", "GET", C + "/posts", "/v1/channels/{channel}/posts", ANYONE),
    Endpoint("follow", "feed", "PUT", C + "/follow", "/v1/channels/{channel}/follow", ANY_ACCOUNT),
    Endpoint("unfollow", "feed", "DELETE", C + "/follow", "/v1/channels/{channel}/follow",
             (401, 204, 204, 204, 204, 204, 204)),
    Endpoint("mute", "feed", "PATCH", C + "/follow", "/v1/channels/{channel}/follow",
             FOLLOWER_ONLY, body=lambda w: {"muted": True}),
    Endpoint("read marker", "feed", "POST", C + "/read", "/v1/channels/{channel}/read",
             FOLLOWER_ONLY, body=lambda w: {"seq": 1}),
    Endpoint("my follows", "feed", "GET", "/v1/me/follows", "/v1/me/follows", ANY_ACCOUNT),
    Endpoint("updates", "feed", "GET", "/v1/updates", "/v1/updates", ANY_ACCOUNT),
    Endpoint("timeline", "feed", "GET", "/v1/timeline", "/v1/timeline", ANY_ACCOUNT),
    Endpoint("react", "feed", "PUT", "/v1/posts/{post_id}/reaction",
             "/v1/posts/{photo_post}/reaction", ANY_ACCOUNT, body=lambda w: {"emoji": "👍"}),
    Endpoint("unreact", "feed", "DELETE", "/v1/posts/{post_id}/reaction",
             "/v1/posts/{photo_post}/reaction", ANY_ACCOUNT),
    Endpoint("vote", "feed", "PUT", "/v1/posts/{post_id}/vote", "/v1/posts/{poll_post}/vote",
             ANY_ACCOUNT, body=lambda w: {"options": [0]}),
    Endpoint("retract vote", "feed", "DELETE", "/v1/posts/{post_id}/vote",
             "/v1/posts/{poll_post}/vote", ANY_ACCOUNT),
    Endpoint("views", "feed", "POST", "/v1/views", "/v1/views",
             (401, 202, 202, 202, 202, 202, 202),
             body=lambda w: {"post_ids": [w.photo_post_id]}),
    Endpoint("stream", "feed", "GET", "/v1/stream", "/v1/stream", ANY_ACCOUNT, stream=True),
    Endpoint("media", "feed", "GET", "/v1/media/{media_id}", "/v1/media/{media}", ANYONE),
    Endpoint("stream ticket", "feed", "POST", "/v1/stream/tickets", "/v1/stream/tickets",
             ANY_ACCOUNT),
    Endpoint("push key", "feed", "GET", "/v1/push/key", "/v1/push/key", ANYONE),
    Endpoint("subscribe push", "feed", "PUT", "/v1/me/push-subscriptions",
             "/v1/me/push-subscriptions", _accounts(201), body=_push_subscription),
    Endpoint("my push subscriptions", "feed", "GET", "/v1/me/push-subscriptions",
             "/v1/me/push-subscriptions", ANY_ACCOUNT),
    Endpoint("unsubscribe push", "feed", "DELETE",
             "/v1/me/push-subscriptions/{subscription_id}",
             "/v1/me/push-subscriptions/{fresh_subscription}", _subscriber_only(204)),
    Endpoint("report", "feed", "POST", "/v1/reports", "/v1/reports", _accounts(202),
             body=lambda w: {"channel_id": w.channel_id, "post_id": w.photo_post_id,
                             "reason": "spam"}),
    Endpoint("feed healthz", "feed", "GET", "/healthz", "/healthz", ANYONE),
    Endpoint("feed readyz", "feed", "GET", "/readyz", "/readyz", ANYONE),
)
# fmt: on

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


async def resolve(template: str, world: World) -> str:
    """Fill the placeholders of a concrete path; `fresh_*` create their resource now."""
    values: dict[str, str] = {}
    for name in _PLACEHOLDER.findall(template):
        if name == "channel":
            values[name] = world.channel_id
        elif name == "handle":
            values[name] = world.handle
        elif name == "photo_post":
            values[name] = world.photo_post_id
        elif name == "poll_post":
            values[name] = world.poll_post_id
        elif name == "media":
            values[name] = world.media_id
        elif name == "new_account":
            values[name] = new_account("new")
        elif name == "fresh_channel":
            values[name] = await world.fresh_channel()
        elif name == "fresh_post":
            values[name] = await world.fresh_post()
        elif name == "fresh_admin":
            values[name] = await world.fresh_admin()
        elif name == "fresh_suspended":
            values[name] = await fresh_suspended_channel(world)
        elif name == "fresh_appeal":
            values[name] = await _fresh_appeal(world)
        elif name == "fresh_invite":
            values[name] = await _fresh_invite(world)
        elif name == "fresh_subscription":
            values[name] = await _fresh_subscription(world)
        elif name == "deleted_post":
            values[name] = await _deleted_post(world)
        elif name == "reported_channel":
            await _deleted_post(world)
            values[name] = world.channel_id
        else:
            raise KeyError(name)
    return template.format(**values)


async def _deleted_post(world: World) -> str:
    """A post of the world's channel deleted for everyone, once fan-out recorded the delete
    in the deletion ledger (made once per world; the record stays)."""
    if "deleted_post" not in world.extra:
        post_id = await world.fresh_post()
        url = f"/v1/channels/{world.channel_id}"
        expect(await world.pub.delete(f"{url}/posts/{post_id}", headers=auth(world.owner)), 202)
        async with asyncio.timeout(60):
            while True:
                report = await world.pub.get(
                    f"{url}/deletion-report", params={"post_id": post_id}, headers=auth(world.owner)
                )
                if report.status_code == 200:
                    break
                await asyncio.sleep(0.1)
        world.extra["deleted_post"] = post_id
    return world.extra["deleted_post"]


async def fresh_suspended_channel(world: World) -> str:
    """A new channel of the world's owner and admin, suspended by an operator."""
    channel_id = await world.fresh_channel()
    suspended = await world.pub.put(
        f"/v1/operator/channels/{channel_id}/suspension",
        json={"reason": "spam"},
        headers=operator_auth(new_account("op")),
    )
    expect(suspended, 204)
    return channel_id


async def _fresh_appeal(world: World) -> str:
    """The open appeal of a new suspended channel, filed by its owner."""
    channel_id = await fresh_suspended_channel(world)
    filed = await world.pub.post(
        f"/v1/channels/{channel_id}/appeal", json={"text": "please"}, headers=auth(world.owner)
    )
    return str(expect(filed, 201)["appeal_id"])


async def _fresh_invite(world: World) -> str:
    """A new invite of the world's channel, made by its owner."""
    created = await world.pub.post(
        f"/v1/channels/{world.channel_id}/invites", json={}, headers=auth(world.owner)
    )
    return str(expect(created, 201)["invite_id"])


async def _fresh_subscription(world: World) -> str:
    """A new push subscription of the channel owner's account."""
    created = await world.fd.put(
        "/v1/me/push-subscriptions", json=_push_subscription(world), headers=auth(world.owner)
    )
    return str(expect(created, 201)["subscription_id"])
