"""Reporting a channel or one of its posts to Herald's operators: a form with the
reasons the feed accepts and an optional note; the feed's answer (a second open report
on the same target, too many reports) is shown as it says it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from services.web.api_client import ApiError
from services.web.auth.deps import Authenticated
from services.web.pages import render
from services.web.routes.follower.deps import Api, card

router = APIRouter()

REASONS = {
    "spam": "Spam",
    "scam": "Scam or fraud",
    "impersonation": "Impersonation",
    "violence": "Violence",
    "hate": "Hate",
    "sexual": "Sexual content",
    "misinformation": "Misinformation",
    "other": "Something else",
}


@router.get("/c/{channel_id}/report", response_class=HTMLResponse, summary="Report form")
async def report_form(
    request: Request,
    channel_id: UUID,
    api: Api,
    session: Authenticated,
    post: Annotated[UUID | None, Query()] = None,
) -> HTMLResponse:
    channel = await card(api, str(channel_id), session.access_token)
    return render(
        request,
        "follower/report.html",
        {"channel": channel, "post_id": post, "reasons": REASONS},
    )


@router.post("/c/{channel_id}/report", response_class=HTMLResponse, summary="Report")
async def report(
    request: Request,
    channel_id: UUID,
    api: Api,
    session: Authenticated,
    reason: Annotated[str, Form(max_length=32)],
    post_id: Annotated[UUID | None, Form()] = None,
    note: Annotated[str | None, Form(max_length=1000)] = None,
) -> HTMLResponse:
    channel = await card(api, str(channel_id), session.access_token)
    context = {
        "channel": channel,
        "post_id": post_id,
        "reasons": REASONS,
        "reason": reason,
        "note": note,
    }
    body = {"channel_id": str(channel_id), "reason": reason}
    if post_id is not None:
        body["post_id"] = str(post_id)
    if note and note.strip():
        body["note"] = note.strip()
    try:
        await api.feed("POST", "/v1/reports", session.access_token, json=body)
    except ApiError as exc:
        if exc.status is None or exc.status >= 500 or exc.status == 401:
            raise
        return render(
            request, "follower/report.html", {**context, "error": exc.message}, exc.page_status
        )
    return render(request, "follower/report.html", {**context, "done": True})
