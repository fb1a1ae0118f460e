"""Following from a channel page: follow, unfollow, mute and alerts (forms that post here
and come back to the page), and `/join/{code}?channel=…` for invite-only channels.

An invite link names the channel and the code (`/join/{code}?channel={channel_id}`): the
code alone does not say which channel it opens. The feed answers a bad, used, expired or
revoked code with the 404 of a channel that does not exist; the page says so.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.api_client import ApiError
from services.web.auth.deps import Authenticated
from services.web.pages import render
from services.web.routes.follower.deps import Api, back

router = APIRouter()

NextField = Annotated[str | None, Form(alias="next", max_length=512)]


@router.post("/c/{channel_id}/follow", summary="Follow")
async def follow(
    channel_id: UUID, api: Api, session: Authenticated, next_path: NextField = None
) -> Response:
    await api.feed("PUT", f"/v1/channels/{channel_id}/follow", session.access_token)
    return back(next_path, f"/c/{channel_id}")


@router.post("/c/{channel_id}/unfollow", summary="Unfollow")
async def unfollow(
    channel_id: UUID, api: Api, session: Authenticated, next_path: NextField = None
) -> Response:
    await api.feed("DELETE", f"/v1/channels/{channel_id}/follow", session.access_token)
    return back(next_path, f"/c/{channel_id}")


@router.post("/c/{channel_id}/preferences", summary="Mute or alerts")
async def preferences(
    channel_id: UUID,
    api: Api,
    session: Authenticated,
    muted: Annotated[bool | None, Form()] = None,
    alerts: Annotated[bool | None, Form()] = None,
    next_path: NextField = None,
) -> Response:
    body = {k: v for k, v in {"muted": muted, "alerts": alerts}.items() if v is not None}
    await api.feed("PATCH", f"/v1/channels/{channel_id}/follow", session.access_token, json=body)
    return back(next_path, f"/c/{channel_id}")


@router.get("/join/{code}", response_class=HTMLResponse, summary="Join an invite-only channel")
async def join_page(
    request: Request,
    code: Annotated[str, Path(max_length=64)],
    session: Authenticated,
    channel: Annotated[UUID | None, Query()] = None,
) -> HTMLResponse:
    return render(request, "follower/join.html", {"code": code, "channel_id": channel})


@router.post("/join/{code}", summary="Follow with an invite")
async def join(
    request: Request,
    code: Annotated[str, Path(max_length=64)],
    api: Api,
    session: Authenticated,
    channel: Annotated[UUID, Form()],
) -> Response:
    try:
        await api.feed(
            "PUT",
            f"/v1/channels/{channel}/follow",
            session.access_token,
            json={"invite_code": code},
        )
    except ApiError as exc:
        if exc.status != 404:
            raise
        return render(
            request,
            "follower/join.html",
            {
                "code": code,
                "channel_id": channel,
                "error": "This invite is not valid: it may have expired, been used up or "
                "been revoked. Ask the channel for a new one.",
            },
            status_code=404,
        )
    return RedirectResponse(f"/c/{channel}", status_code=303)
