"""The operator console (`/operator/…`): open reports grouped by target (resolve),
appeals (restore or uphold), and per channel: verify, suspend/restore, alerts and the
audit log.

Whether the signed-in account is an operator is the publisher's call: it answers 404 to
anyone else on `/v1/operator/…`, and so do these pages.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from services.web.api_client import ApiError
from services.web.pages import render_error
from services.web.routes.admin.console import Console, ConsoleDep, see_other

router = APIRouter(prefix="/operator", tags=["operator"])

NOT_FOUND = "This page does not exist (or is no longer available)."

# The per-channel switches: form value → (method, API path suffix, notice).
ACTIONS: dict[str, tuple[str, str, str]] = {
    "verify": ("PUT", "verification", "Verified."),
    "unverify": ("DELETE", "verification", "Verified badge removed."),
    "restore": ("DELETE", "suspension", "Restored."),
    "grant-alerts": ("PUT", "alerts", "Alerts granted."),
    "withdraw-alerts": ("DELETE", "alerts", "Alerts withdrawn."),
}


def _refused(console: Console, exc: ApiError) -> Response:
    # Not an operator: the same 404 the API gives, so the console does not reveal itself.
    if exc.status == 404:
        return render_error(console.request, NOT_FOUND, 404)
    return console.page("operator/error.html", {}, error=exc)


@router.get("", response_class=HTMLResponse, summary="Open reports, grouped by target")
async def reports(
    console: ConsoleDep, cursor: str | None = None, done: str | None = None
) -> Response:
    try:
        page = await console.publisher(
            "GET", "/v1/operator/reports", params={"status": "open", "cursor": cursor}
        )
    except ApiError as exc:
        return _refused(console, exc)
    return console.page(
        "operator/reports.html",
        {
            "items": page.get("items", []),
            "next_cursor": page.get("next_cursor"),
            "tab": "reports",
            "notice": "Reports resolved." if done == "resolved" else None,
        },
    )


@router.post("/reports/resolve", summary="Close every open report on a target")
async def resolve(
    console: ConsoleDep,
    channel_id: Annotated[UUID, Form()],
    resolution: Annotated[str, Form(pattern="^(actioned|dismissed)$")],
    post_id: Annotated[str, Form()] = "",
) -> Response:
    body: dict[str, Any] = {"channel_id": str(channel_id), "resolution": resolution}
    if post_id:
        body["post_id"] = post_id
    try:
        await console.publisher("POST", "/v1/operator/reports/resolve", json=body)
    except ApiError as exc:
        return _refused(console, exc)
    return see_other("/operator?done=resolved")


@router.get("/appeals", response_class=HTMLResponse, summary="Open appeals")
async def appeals(console: ConsoleDep, done: str | None = None) -> Response:
    try:
        page = await console.publisher("GET", "/v1/operator/appeals")
    except ApiError as exc:
        return _refused(console, exc)
    return console.page(
        "operator/appeals.html",
        {
            "appeals": page.get("appeals", []),
            "tab": "appeals",
            "notice": "Decided." if done else None,
        },
    )


@router.post("/appeals/{appeal_id}", summary="Restore the channel or uphold its suspension")
async def decide(
    console: ConsoleDep,
    appeal_id: UUID,
    decision: Annotated[str, Form(pattern="^(restore|uphold)$")],
) -> Response:
    try:
        await console.publisher(
            "POST", f"/v1/operator/appeals/{appeal_id}", json={"decision": decision}
        )
    except ApiError as exc:
        return _refused(console, exc)
    return see_other("/operator/appeals?done=1")


async def _channel_page(
    console: Console,
    channel_id: UUID | None,
    *,
    notice: str | None = None,
    error: ApiError | None = None,
) -> Response:
    entries: list[dict[str, Any]] = []
    card: dict[str, Any] | None = None
    if channel_id is not None:
        try:
            log = await console.publisher(
                "GET", "/v1/operator/audit", params={"channel_id": str(channel_id)}
            )
        except ApiError as exc:
            return _refused(console, exc)
        entries = log.get("entries", [])
        try:
            card = await console.feed("GET", f"/v1/channels/{channel_id}")
        except ApiError:
            # Suspended or invite-only channels have no public card: the log still shows.
            card = None
    return console.page(
        "operator/channel.html",
        {
            "channel_id": channel_id,
            "card": card,
            "entries": entries,
            "tab": "channels",
            "notice": notice,
        },
        error=error,
    )


@router.get("/channels", response_class=HTMLResponse, summary="A channel: status and audit")
async def channel(
    console: ConsoleDep, channel_id: UUID | None = None, done: str | None = None
) -> Response:
    notice = next((n for key, (_, _, n) in ACTIONS.items() if key == done), None)
    if done == "suspend":
        notice = "Suspended."
    return await _channel_page(console, channel_id, notice=notice)


@router.post("/channels/{channel_id}", summary="Verify, suspend, restore or set alerts")
async def act(
    console: ConsoleDep,
    channel_id: UUID,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        if action == "suspend":
            await console.publisher(
                "PUT",
                f"/v1/operator/channels/{channel_id}/suspension",
                json={"reason": reason.strip()},
            )
        elif action in ACTIONS:
            method, suffix, _ = ACTIONS[action]
            await console.publisher(method, f"/v1/operator/channels/{channel_id}/{suffix}")
        else:
            return await _channel_page(console, channel_id, error=None, notice=None)
    except ApiError as exc:
        if exc.status == 404 and not await console.is_operator():
            return _refused(console, exc)
        return await _channel_page(console, channel_id, error=exc)
    return see_other(f"/operator/channels?channel_id={channel_id}&done={action}")
