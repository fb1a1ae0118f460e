"""Public channel pages: GET /v1/channels/{id_or_handle} (the card) and
GET /v1/channels/{channel_id}/posts (history by seq, newest first).

Anyone may read them (anonymous callers are rate limited per IP), except an invite-only
channel, which answers 404 to anyone neither following it nor its admin. The card never lists
admins; posts never carry their author. An authenticated caller also gets their own
reaction and vote on each post.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.feed.api.deps import DEFAULT_LIMIT, AnonymousReadPool, Limit
from services.feed.models import ChannelPublic, PostPublic, PostsPage
from services.feed.queries import channels as channel_queries
from services.feed.queries import posts as post_queries
from shared.http.auth import MaybeAccount
from shared.http.problems import Problem

router = APIRouter(tags=["channels"])

_HANDLE = re.compile(r"^[a-z0-9_]{3,32}$")
SEQ_MAX = 2**62


def not_found() -> Problem:
    return Problem(404, "no such channel", type_="not-found")


@router.get("/v1/channels/{id_or_handle}", response_model=ChannelPublic, summary="A channel's card")
async def channel_card(
    id_or_handle: str, pool: AnonymousReadPool, caller: MaybeAccount
) -> ChannelPublic:
    key: UUID | str
    try:
        key = UUID(id_or_handle)
    except ValueError:
        key = id_or_handle.lower()
        if not _HANDLE.fullmatch(key):
            raise not_found() from None
    async with pool.acquire() as conn:
        row = await channel_queries.card(conn, key, caller.account_id if caller else None)
    if row is None:
        raise not_found()
    return ChannelPublic(**channel_queries.card_of(row))


@router.get(
    "/v1/channels/{channel_id}/posts",
    response_model=PostsPage,
    summary="A channel's posts by seq, newest first",
)
async def channel_posts(
    channel_id: UUID,
    pool: AnonymousReadPool,
    caller: MaybeAccount,
    before: Annotated[int | None, Query(ge=1, le=SEQ_MAX, description="seq < before")] = None,
    after: Annotated[int | None, Query(ge=0, le=SEQ_MAX, description="seq > after")] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PostsPage:
    async with pool.acquire() as conn:
        account_id = caller.account_id if caller else None
        if not await channel_queries.is_active(conn, channel_id, account_id):
            raise not_found()
        rows = await post_queries.channel_history(
            conn,
            channel_id,
            before=before,
            after=after,
            limit=limit,
            account_id=account_id,
        )
    items = [PostPublic(**post_queries.post_of(row)) for row in rows]
    next_before = rows[-1]["seq"] if len(rows) == limit else None
    return PostsPage(items=items, next_before=next_before)
