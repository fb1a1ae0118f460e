"""Deletion reports: what Herald destroyed of a channel's content, from the deletion ledger.

- `GET /v1/channels/{channel_id}/deletion-report?day=YYYY-MM-DD` or `?post_id=` (the
  channel's owner; an admin gets 403, anyone else 404): exactly one of the two, else 422.
  `post_id`: what deleting that post for everyone destroyed (written by fan-out in the
  delete's transaction). `day`: what expired on that UTC day (written by retention as it
  deletes rows, media and day partitions; a day's keys go once the day is over).
- `GET /v1/operator/deletion-report?channel_id=` (operators; anyone else 404): every
  recorded deletion of the channel added up, `at` the latest.

Each answers `{rows_dropped, partitions_dropped, media_removed, keys_destroyed, at}`, or
404 `not-recorded` when nothing is recorded (yet: a delete still in flight, a day not over,
or a record older than the ledger's 180 days). Counts and times only: no content, no
account ids.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.publisher.api.deps import OwnerAccess, Pool
from services.publisher.store import deletion_report as store
from shared.http.auth import require_operator
from shared.http.problems import Problem


class DeletionReport(BaseModel):
    rows_dropped: int = Field(
        description="Content rows removed: posts (a post deleted for everyone becomes a "
        "bodiless tombstone, counted here) and their feed rows."
    )
    partitions_dropped: int = Field(
        description="Day partitions dropped (posts, feed_items, content_keys) that held "
        "rows of the channel for this day."
    )
    media_removed: int = Field(description="Media rows removed.")
    keys_destroyed: int = Field(
        description="Content keys destroyed: the records they sealed on the posts topic and "
        "the dead-letter topic can no longer be decrypted by anyone."
    )
    at: datetime = Field(description="When the latest of these deletions was recorded.")


channel_router = APIRouter(prefix="/v1/channels", tags=["deletion"])
# The dependency on the router runs before query parameters are validated: a non-operator
# gets 404 even for a malformed channel id, never a 422 that shows the route exists.
operator_router = APIRouter(
    prefix="/v1/operator", tags=["operator"], dependencies=[Depends(require_operator)]
)


def _report(row: asyncpg.Record | None) -> DeletionReport:
    if row is None:
        raise Problem(404, "no deletion is recorded for this", type_="not-recorded")
    return DeletionReport(**dict(row))


@channel_router.get(
    "/{channel_id}/deletion-report",
    summary="What was destroyed of a post deleted for everyone, or of a day that expired",
)
async def channel_deletion_report(
    access: OwnerAccess,
    pool: Pool,
    day: Annotated[
        date | None, Query(description="A UTC day (YYYY-MM-DD): what expired on it")
    ] = None,
    post_id: Annotated[
        UUID | None, Query(description="A post deleted for everyone: what its delete destroyed")
    ] = None,
) -> DeletionReport:
    if (day is None) == (post_id is None):
        raise Problem(422, "give exactly one of day and post_id", type_="validation")
    if post_id is not None:
        return _report(await store.for_post(pool, access.channel_id, post_id))
    assert day is not None
    return _report(await store.for_day(pool, access.channel_id, day))


@operator_router.get(
    "/deletion-report",
    summary="Everything destroyed of a channel, added up (operators only)",
    description="Sums of every recorded deletion of the channel (deletes for everyone and "
    "expired days, whatever the channel's status), with `at` the latest; 404 when none "
    "is recorded. One aggregate rather than a list: per post or per day, owners ask "
    "`/v1/channels/{id}/deletion-report`.",
)
async def operator_deletion_report(pool: Pool, channel_id: UUID) -> DeletionReport:
    return _report(await store.for_channel(pool, channel_id))


# The app includes `router`: both routes, each keeping its own prefix and dependencies.
router = APIRouter()
router.include_router(channel_router)
router.include_router(operator_router)
