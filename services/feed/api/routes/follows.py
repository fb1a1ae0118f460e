"""The caller's follows: PUT/DELETE/PATCH /v1/channels/{id}/follow,
POST /v1/channels/{id}/read and GET /v1/me/follows.

PUT and DELETE are idempotent and each emits `follow.changed` (key channel_id) for
fan-out's follower counts, also when nothing changed, so a retry after a broker outage
re-announces the saved state. Open local SSE streams of the caller follow the change at
once; those on other feed processes follow it through a `live.follow_changed` signal on
herald.live.v1, which names the caller only by an HMAC tag (emitted on every PUT and
DELETE, so a retried request re-announces it too). Only the caller's own rows are read or
written. PATCH and POST …/read change only a follow of an active channel: for a deleted
or suspended one they answer the same 404 as for a channel not followed.

An invite-only channel (`settings.visibility = "invite"`) takes a new follower only with
`{"invite_code": …}` naming a good invite of it, whose use the same transaction counts; a
current follower or an admin needs none. No code, or a bad, used-up, expired or revoked
one → the 404 of a channel that does not exist, and the attempt costs the caller
`FAILED_INVITE_COST` tokens of their rate limit, so codes cannot be guessed at the
request rate (hopeless anyway at 192 bits).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Request, Response
from pydantic import Field

from services.feed import cursors
from services.feed.api.deps import DEFAULT_LIMIT, Cursor, Emit, Limit, LiveHub, Pool, Settings
from services.feed.config import FeedSettings
from services.feed.models import (
    ChannelSummary,
    FollowEntry,
    FollowPublic,
    FollowsPage,
    FollowUpdate,
    ReadMarker,
)
from services.feed.models import (
    Request as RequestBody,
)
from services.feed.queries import follows as queries
from shared.events.interactions import FollowChanged, FollowChangedV1
from shared.events.live import FollowSignalV1, LiveFollowChanged, account_tag
from shared.http.auth import Account
from shared.http.problems import Problem
from shared.http.ratelimit import RateLimiter
from shared.invites import CODE_MAX_CHARS, code_hash

router = APIRouter(tags=["follows"])


class FollowRequest(RequestBody):
    invite_code: str | None = Field(
        default=None,
        max_length=256,
        description="An invite of the channel: needed to start following an invite-only "
        "channel, ignored otherwise.",
    )


# Rate-limit tokens a refused invite code costs (a request costs 1): with the default
# burst of 60 at 20/s, about 4 wrong codes a second, sustained.
FAILED_INVITE_COST = 5.0


def follow_of(row: asyncpg.Record) -> FollowPublic:
    return FollowPublic(
        channel_id=row["channel_id"],
        following=row["active"],
        muted=row["muted"],
        alerts=row["alerts"],
        last_read_seq=row["last_read_seq"],
        followed_at=row["followed_at"],
    )


def _changed(channel_id: UUID, account_id: str) -> list[tuple[UUID, Any]]:
    event = FollowChanged(payload=FollowChangedV1(channel_id=channel_id, account_id=account_id))
    return [(channel_id, event)]


def _signal(
    settings: FeedSettings, channel_id: UUID, account_id: str, following: bool
) -> list[tuple[UUID, Any]]:
    tag = account_tag(settings.live_signal_key, account_id)
    payload = FollowSignalV1(channel_id=channel_id, account_tag=tag, following=following)
    return [(channel_id, LiveFollowChanged(payload=payload))]


@router.put("/v1/channels/{channel_id}/follow", response_model=FollowPublic, summary="Follow")
async def follow(
    channel_id: UUID,
    caller: Account,
    pool: Pool,
    emit: Emit,
    hub: LiveHub,
    settings: Settings,
    request: Request,
    body: FollowRequest | None = None,
) -> FollowPublic:
    code = body.invite_code if body is not None else None
    # An over-long code is no code: refused without hashing it.
    invite_hash = code_hash(code) if code is not None and len(code) <= CODE_MAX_CHARS else None
    async with pool.acquire() as conn:
        try:
            row = await queries.follow(
                conn,
                caller.account_id,
                channel_id,
                settings.max_follows_per_account,
                invite_hash,
            )
        except queries.InviteRefused:
            limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
            if limiter is not None:
                limiter.take(f"a:{caller.account_id}", FAILED_INVITE_COST)
            raise Problem(404, "no such channel", type_="not-found") from None
        except queries.FollowLimitReached:
            raise Problem(
                409,
                f"an account follows at most {settings.max_follows_per_account} channels",
                type_="follow-limit",
            ) from None
    if row is None:
        raise Problem(404, "no such channel", type_="not-found")
    hub.follow_changed(caller.account_id, channel_id, following=True)
    await emit.emit(
        "follow",
        _changed(channel_id, caller.account_id),
        live=_signal(settings, channel_id, caller.account_id, following=True),
    )
    return follow_of(row)


@router.delete("/v1/channels/{channel_id}/follow", status_code=204, summary="Unfollow")
async def unfollow(
    channel_id: UUID, caller: Account, pool: Pool, emit: Emit, hub: LiveHub, settings: Settings
) -> Response:
    async with pool.acquire() as conn:
        existed = await queries.unfollow(conn, caller.account_id, channel_id)
    hub.follow_changed(caller.account_id, channel_id, following=False)
    await emit.emit(
        "follow",
        _changed(channel_id, caller.account_id) if existed else [],
        live=_signal(settings, channel_id, caller.account_id, following=False),
    )
    return Response(status_code=204)


@router.patch(
    "/v1/channels/{channel_id}/follow", response_model=FollowPublic, summary="Mute or alerts"
)
async def update_follow(
    channel_id: UUID, body: FollowUpdate, caller: Account, pool: Pool
) -> FollowPublic:
    async with pool.acquire() as conn:
        row = await queries.update_preferences(
            conn, caller.account_id, channel_id, body.muted, body.alerts
        )
    if row is None:
        raise Problem(404, "you do not follow this channel", type_="not-following")
    return follow_of(row)


@router.post("/v1/channels/{channel_id}/read", response_model=FollowPublic, summary="Read marker")
async def mark_read(
    channel_id: UUID, body: ReadMarker, caller: Account, pool: Pool
) -> FollowPublic:
    async with pool.acquire() as conn:
        row = await queries.mark_read(conn, caller.account_id, channel_id, body.seq)
    if row is None:
        raise Problem(404, "you do not follow this channel", type_="not-following")
    return follow_of(row)


@router.get("/v1/me/follows", response_model=FollowsPage, summary="Your follows")
async def my_follows(
    caller: Account, pool: Pool, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> FollowsPage:
    after = None
    if cursor is not None:
        ts, channel_id = cursors.decode(cursor, "follows", [datetime, UUID])
        after = (ts, channel_id)
    async with pool.acquire() as conn:
        rows = await queries.my_follows(conn, caller.account_id, after=after, limit=limit)
    items = [
        FollowEntry(**follow_of(row).model_dump(), channel=ChannelSummary.of_row(row))
        for row in rows
    ]
    next_cursor = None
    if len(rows) == limit:
        next_cursor = cursors.encode("follows", rows[-1]["followed_at"], rows[-1]["channel_id"])
    return FollowsPage(items=items, next_cursor=next_cursor)
