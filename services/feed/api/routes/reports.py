"""`POST /v1/reports`: any account reports a channel or one of its posts to Herald's
operators.

`{channel_id, post_id?, reason, note?}` → 202 `{report_id}`. Unknown fields or reason, a
note over 1,000 characters → 422; a channel or post the caller cannot read (unknown,
deleted, expired, suspended, invite-only and not followed) → 404; a second report by the
same account on the same target while the first is open → 409 `already-reported`; more
than `HERALD_FEED_REPORTS_PER_MINUTE` per account → 429 with `Retry-After`.

The reporter is never stored, logged or counted by name: the row holds only
`reporter_tag`, an HMAC of (account, target) under `HERALD_FEED_REPORT_KEY`, which lets
the database refuse a duplicate and means nothing without the key; it is deleted with the
report when an operator resolves the target. The channel's admins are not told.
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

from fastapi import APIRouter, Request

from services.feed.api.deps import Pool, Settings
from services.feed.models import ReportAccepted, ReportCreate
from services.feed.queries import reports as queries
from shared.http.auth import Account
from shared.http.problems import Problem
from shared.http.ratelimit import RateLimiter

router = APIRouter(tags=["reports"])

SECONDS_PER_MINUTE = 60.0
# Domain separation inside the HMAC: a tag of a report can never equal any other HMAC
# made under the same key.
TAG_DOMAIN = b"herald-report-v1"


def reporter_tag(key: str, account_id: str, channel_id: UUID, post_id: UUID | None) -> str:
    """HMAC-SHA256 of (account, channel, post) under the report key, as 64 hex digits.

    Stable for one account and target (so the unique index refuses a second open report),
    different for every target (so tags cannot be linked across targets), and neither
    reversible nor recomputable from a guessed account id without the key. The account id
    is length-prefixed and the ids are fixed-size, so no two inputs share a message.
    """
    account = account_id.encode()
    post = post_id.bytes if post_id is not None else b""
    message = TAG_DOMAIN + len(account).to_bytes(4, "big") + account + channel_id.bytes + post
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _report_limiter(request: Request, per_minute: int) -> RateLimiter:
    """The process's bucket for reports, made on first use: tighter than the general
    per-account rate, which a caller reaches this route under as well."""
    limiter: RateLimiter | None = getattr(request.app.state, "report_limiter", None)
    if limiter is None:
        limiter = RateLimiter(per_minute / SECONDS_PER_MINUTE, per_minute)
        request.app.state.report_limiter = limiter
    return limiter


@router.post(
    "/v1/reports",
    status_code=202,
    response_model=ReportAccepted,
    summary="Report a channel or a post to Herald's operators",
    responses={
        404: {"description": "no such channel or post visible to the caller"},
        409: {"description": "the caller already has an open report on this target"},
        429: {"description": "too many reports; see Retry-After"},
    },
)
async def file_report(
    body: ReportCreate, caller: Account, pool: Pool, settings: Settings, request: Request
) -> ReportAccepted:
    _report_limiter(request, settings.reports_per_minute).check(f"report:{caller.account_id}")
    tag = reporter_tag(settings.report_key, caller.account_id, body.channel_id, body.post_id)
    async with pool.acquire() as conn:
        try:
            report_id = await queries.file_report(
                conn,
                account_id=caller.account_id,
                channel_id=body.channel_id,
                post_id=body.post_id,
                reason=body.reason.value,
                note=body.note,
                reporter_tag=tag,
            )
        except queries.TargetNotFound:
            what = "channel" if body.post_id is None else "post"
            raise Problem(404, f"no such {what}", type_="not-found") from None
        except queries.AlreadyReported:
            raise Problem(
                409,
                "you already reported this and it is still open",
                type_="already-reported",
            ) from None
    return ReportAccepted(report_id=report_id)
