"""GET /v1/directory: discovery of active channels by search, country and category.

Sorts: `relevance` (ts_rank; the default when `q` is given), `popular` (followers; the
default otherwise), `new` (created_at), `active` (posts in the last 7 days). Every sort is
a keyset on (sort key, channel_id), both descending; the cursor is opaque.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.feed import cursors
from services.feed.api.deps import DEFAULT_LIMIT, AnonymousReadPool, Cursor, Limit
from services.feed.models import DirectoryEntry, DirectoryPage, DirectorySort
from services.feed.queries import channels as queries
from shared.channels import Category
from shared.http.auth import MaybeAccount

router = APIRouter(tags=["directory"])


@router.get("/v1/directory", response_model=DirectoryPage, summary="Find channels")
async def directory(
    pool: AnonymousReadPool,
    _caller: MaybeAccount,
    q: Annotated[str | None, Query(max_length=200)] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    category: Category | None = None,
    sort: DirectorySort | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> DirectoryPage:
    tsquery = queries.prefix_tsquery(q) if q else None
    if sort is None:
        sort = DirectorySort.RELEVANCE if tsquery else DirectorySort.POPULAR
    if sort is DirectorySort.RELEVANCE and tsquery is None:
        sort = DirectorySort.POPULAR
    spec = queries.SORTS[sort]
    after = None
    if cursor is not None:
        key, channel_id = cursors.decode(cursor, sort.value, [spec.python_type, UUID])
        after = (key, channel_id)
    async with pool.acquire() as conn:
        rows = await queries.directory(
            conn,
            tsquery=tsquery,
            country=country.upper() if country else None,
            category=category.value if category else None,
            sort=sort,
            after=after,
            limit=limit,
        )
    items = [DirectoryEntry(**queries.card_of(row)) for row in rows]
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = cursors.encode(sort.value, last["sort_key"], last["channel_id"])
    return DirectoryPage(items=items, next_cursor=next_cursor)
