"""GET /v1/updates: the caller's followed channels by last activity, with unread counts
and a preview of the newest visible post. One SQL statement (see `queries.follows`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter

from services.feed import cursors
from services.feed.api.deps import DEFAULT_LIMIT, Cursor, Limit, Pool
from services.feed.models import ChannelSummary, PostPreview, UpdateEntry, UpdatesPage
from services.feed.queries import follows as queries
from shared.http.auth import Account

router = APIRouter(tags=["updates"])

PREVIEW_CHARS = 140


def preview_of(body: dict[str, Any]) -> str | None:
    text = body.get("text") or body.get("caption")
    poll = body.get("poll")
    if not text and isinstance(poll, dict):
        text = poll.get("question")
    if not isinstance(text, str):
        return None
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def update_of(row: asyncpg.Record) -> UpdateEntry:
    last_post = None
    if row["last_post_id"] is not None:
        body = row["last_post_body"]
        last_post = PostPreview(
            post_id=row["last_post_id"],
            seq=row["last_post_seq"],
            type=str(body.get("type", "text")),
            preview=preview_of(body),
            created_at=row["last_post_created_at"],
        )
    return UpdateEntry(
        channel_id=row["channel_id"],
        channel=ChannelSummary.of_row(row),
        unread_count=row["unread_count"],
        last_read_seq=row["last_read_seq"],
        last_seq=row["last_seq"],
        last_post_at=row["last_post_at"],
        muted=row["muted"],
        last_post=last_post,
    )


@router.get("/v1/updates", response_model=UpdatesPage, summary="Followed channels by activity")
async def updates(
    caller: Account, pool: Pool, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> UpdatesPage:
    after = None
    if cursor is not None:
        ts, channel_id = cursors.decode(cursor, "updates", [datetime, UUID])
        after = (ts, channel_id)
    async with pool.acquire() as conn:
        rows = await queries.updates(conn, caller.account_id, after=after, limit=limit)
    next_cursor = None
    if len(rows) == limit:
        next_cursor = cursors.encode("updates", rows[-1]["sort_at"], rows[-1]["channel_id"])
    return UpdatesPage(items=[update_of(row) for row in rows], next_cursor=next_cursor)
