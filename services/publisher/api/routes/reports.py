"""`/v1/operator/reports…`: Herald's operators see what accounts reported and close it.

Only operators reach these routes (`shared.http.auth.Operator`); anyone else, the
reported channel's admins included, gets the 404 of a path that does not exist. No
endpoint anywhere shows reports to a channel's admins.

- `GET /v1/operator/reports?status=open&cursor=&limit=`: open reports grouped by target
  (a channel, or one post of it), the longest waiting first: `count`, `reasons`
  (`{reason: n}`), `first_at`, `last_at`, the newest notes and, for a post, `evidence`:
  its body as it was at the first report (kept when its admin deleted it, gone when the
  target is resolved or the post would have expired). Keyset-paged (`next_cursor`).
- `POST /v1/operator/reports/resolve` `{channel_id, post_id?, resolution}`: closes every
  open report on the target at once (hidden from the list from now on; the rows, their
  reporter tags and the evidence are deleted within a retention interval) and records the
  decision with the count only. 200 `{…, count}`; `count` 0 when nothing was open
  (nothing is recorded, so a retried resolve is harmless).

Nothing answers, logs or counts who reported: the feed stores reporters only as an HMAC,
which these routes never read.

A resolution is not written to the audit log: the channel's owner reads that log, and
the channel's admins are not told that it was reported. What an operator does about a
report (suspending the channel, say) is audited by that action itself.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.publisher.api.deps import Pool
from services.publisher.store import reports as store
from shared.http.auth import require_operator
from shared.http.problems import Problem

PAGE_MAX = 100
PAGE_DEFAULT = 50
CURSOR_MAX = 256

# The dependency on the router runs before parameters are validated: a non-operator gets
# 404 even for a malformed body or query, never a 422 that shows the route exists.
router = APIRouter(
    prefix="/v1/operator/reports", tags=["operator"], dependencies=[Depends(require_operator)]
)


class Evidence(BaseModel):
    body: dict[str, Any] = Field(
        description="the post's body when first reported: type, text, caption, media, poll"
    )
    copied_at: datetime
    expires_at: datetime = Field(description="when the post would have expired; gone then")


class ReportTarget(BaseModel):
    channel_id: UUID
    post_id: UUID | None = Field(default=None, description="absent: the channel is reported")
    count: int = Field(description="open reports on this target")
    reasons: dict[str, int] = Field(description="open reports per reason")
    first_at: datetime
    last_at: datetime
    notes: list[str] = Field(
        description=f"the newest notes reporters wrote (at most {store.NOTES_MAX})"
    )
    evidence: Evidence | None = None


class ReportTargetsPage(BaseModel):
    items: list[ReportTarget]
    next_cursor: str | None = None


class ReportResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: UUID
    post_id: UUID | None = None
    resolution: Literal["actioned", "dismissed"]


class ReportResolution(BaseModel):
    channel_id: UUID
    post_id: UUID | None = None
    resolution: Literal["actioned", "dismissed"]
    count: int = Field(description="reports closed; 0 when none was open")
    resolved_at: datetime | None = Field(default=None, description="absent when count is 0")


def _encode_cursor(row: asyncpg.Record) -> str:
    key = [row["first_at"].isoformat(), str(row["channel_id"]), str(row["post_id"] or store.NIL)]
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        first_at, channel_id, post_id = orjson.loads(raw)
        at = datetime.fromisoformat(first_at)
        if at.tzinfo is None:
            raise ValueError("naive time")
        # In UTC, as the driver binds it: year 1 at +14:00 overflows here, not at the query.
        return at.astimezone(UTC), UUID(channel_id), UUID(post_id)
    except (binascii.Error, ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise Problem(422, "the cursor is not one this API gave", type_="validation") from None


def _target(row: asyncpg.Record) -> ReportTarget:
    evidence = None
    if row["evidence_body"] is not None:
        evidence = Evidence(
            body=row["evidence_body"],
            copied_at=row["evidence_copied_at"],
            expires_at=row["evidence_expires_at"],
        )
    return ReportTarget(
        channel_id=row["channel_id"],
        post_id=row["post_id"],
        count=row["count"],
        reasons=dict(row["reasons"]),
        first_at=row["first_at"],
        last_at=row["last_at"],
        notes=list(row["notes"]),
        evidence=evidence,
    )


@router.get("", response_model=ReportTargetsPage, summary="Open reports by target (operators only)")
async def list_reports(
    pool: Pool,
    status: Annotated[Literal["open"], Query(description="only open reports are kept")] = "open",
    cursor: Annotated[
        str | None, Query(max_length=CURSOR_MAX, description="opaque, from next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> ReportTargetsPage:
    # An empty cursor is the first page (clients that always send the parameter).
    after = _decode_cursor(cursor) if cursor else None
    rows = await store.list_open(pool, after, limit)
    return ReportTargetsPage(
        items=[_target(row) for row in rows],
        next_cursor=_encode_cursor(rows[-1]) if len(rows) == limit else None,
    )


@router.post(
    "/resolve",
    response_model=ReportResolution,
    summary="Close every open report on a channel or post (operators only)",
)
async def resolve_reports(body: ReportResolve, pool: Pool) -> ReportResolution:
    resolved = await store.resolve(pool, body.channel_id, body.post_id, body.resolution)
    return ReportResolution(
        channel_id=body.channel_id,
        post_id=body.post_id,
        resolution=body.resolution,
        count=resolved.count,
        resolved_at=resolved.resolved_at,
    )
