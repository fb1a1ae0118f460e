"""`GET /v1/channels/{id}/insights`: followers, their 7-day change and, per recent post,
unique views, reactions per emoji and poll votes per option. Aggregates only (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.publisher.api.deps import AdminAccess, Pool
from services.publisher.models import PAGE_MAX, ChannelInsights, PostInsights
from services.publisher.store import insights as store

router = APIRouter(prefix="/v1/channels", tags=["insights"])

# Seqs are Postgres bigints; bounding the cursor below int64 makes a crafted `before`
# (say 2**63) a 422 rather than an overflow at the query.
SEQ_MAX = 2**62


@router.get("/{channel_id}/insights", summary="Channel and per-post counts")
async def channel_insights(
    access: AdminAccess,
    pool: Pool,
    before: Annotated[
        int | None, Query(ge=1, le=SEQ_MAX, description="next_cursor of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
) -> ChannelInsights:
    followers, change = await store.follower_numbers(pool, access.channel_id)
    rows = await store.post_numbers(pool, access.channel_id, before, limit)
    posts = []
    for row in rows:
        poll = None
        if row["poll_options"]:
            votes = row["votes"]
            poll = [int(votes.get(str(i), 0)) for i in range(row["poll_options"])]
        posts.append(
            PostInsights(
                post_id=row["post_id"],
                seq=row["seq"],
                type=row["type"],
                created_at=row["created_at"],
                views=row["views"],
                reactions={k: int(v) for k, v in row["reactions"].items()},
                poll=poll,
            )
        )
    return ChannelInsights(
        followers=followers,
        followers_change_7d=change,
        posts=posts,
        next_cursor=posts[-1].seq if len(posts) == limit else None,
    )
