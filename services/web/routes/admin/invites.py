"""Invites: create one (its code is shown on that one page and never again — Herald keeps
only its hash), list them without codes, revoke."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from services.web.api_client import ApiError
from services.web.routes.admin.console import Console, ConsoleDep, see_other

router = APIRouter()

NOT_A_NUMBER = "Maximum uses must be a whole number (or empty for no limit)."

# The choices the form offers for an invite's lifetime, in seconds.
LIFETIMES = {"1 hour": 3600, "1 day": 86_400, "1 week": 604_800, "30 days": 2_592_000}


async def _page(
    console: Console,
    channel_id: UUID,
    *,
    created: dict[str, Any] | None = None,
    error: ApiError | str | None = None,
    notice: str | None = None,
) -> Response:
    channel = await console.channel(channel_id)
    invites = await console.publisher("GET", f"/v1/channels/{channel_id}/invites")
    return console.page(
        "admin/invites.html",
        {
            "channel": channel,
            "tab": "invites",
            "invites": invites.get("items", []),
            "created": created,
            "lifetimes": LIFETIMES,
            "notice": notice,
        },
        error=error,
        status_code=201 if created else 200,
    )


@router.get("/c/{channel_id}/invites", response_class=HTMLResponse, summary="Invites")
async def invites(console: ConsoleDep, channel_id: UUID, revoked: bool = False) -> Response:
    return await _page(console, channel_id, notice="Invite revoked." if revoked else None)


@router.post("/c/{channel_id}/invites", response_class=HTMLResponse, summary="Create an invite")
async def create_invite(
    console: ConsoleDep,
    channel_id: UUID,
    expires_in_s: Annotated[int, Form(ge=60)] = 604_800,
    max_uses: Annotated[str, Form()] = "",
) -> Response:
    body: dict[str, Any] = {"expires_in_s": expires_in_s}
    if max_uses.strip():
        if not max_uses.strip().isdigit():
            return await _page(console, channel_id, error=NOT_A_NUMBER)
        body["max_uses"] = int(max_uses)
    try:
        created = await console.publisher("POST", f"/v1/channels/{channel_id}/invites", json=body)
    except ApiError as exc:
        return await _page(console, channel_id, error=exc)
    # Rendered here rather than after a redirect: the code must not travel in a URL.
    return await _page(console, channel_id, created=created)


@router.post("/c/{channel_id}/invites/{invite_id}/revoke", summary="Revoke an invite")
async def revoke_invite(console: ConsoleDep, channel_id: UUID, invite_id: UUID) -> Response:
    try:
        await console.publisher("DELETE", f"/v1/channels/{channel_id}/invites/{invite_id}")
    except ApiError as exc:
        return await _page(console, channel_id, error=exc)
    return see_other(f"/admin/c/{channel_id}/invites?revoked=1")
