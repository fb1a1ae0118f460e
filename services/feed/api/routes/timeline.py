"""GET /v1/timeline: the caller's merged timeline, newest first.

Hybrid fan-out underneath (see `queries.posts.TIMELINE`): rows fan-out wrote for small
channels and a read-time merge of large channels' posts give the same page whatever the
channel's size. Keyset cursor on (created_at, post_id), stable under new posts.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter

from services.feed import cursors
from services.feed.api.deps import DEFAULT_LIMIT, Cursor, Limit, Pool
from services.feed.models import ChannelSummary, TimelineItem, TimelinePage
from services.feed.queries import posts as queries
from shared.http.auth import Account

router = APIRouter(tags=["timeline"])


@router.get("/v1/timeline", response_model=TimelinePage, summary="Merged timeline")
async def timeline(
    caller: Account, pool: Pool, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> TimelinePage:
    after = None
    if cursor is not None:
        ts, post_id = cursors.decode(cursor, "timeline", [datetime, UUID])
        after = (ts, post_id)
    async with pool.acquire() as conn:
        rows = await queries.timeline(conn, caller.account_id, after=after, limit=limit)
    items = [
        TimelineItem(
            **queries.post_of(row),
            channel=ChannelSummary.of_row(row),
        )
        for row in rows
    ]
    next_cursor = None
    if len(rows) == limit:
        next_cursor = cursors.encode("timeline", rows[-1]["created_at"], rows[-1]["post_id"])
    return TimelinePage(items=items, next_cursor=next_cursor)
