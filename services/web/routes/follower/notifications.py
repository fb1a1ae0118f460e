"""Notification settings: `/settings/notifications` lists the account's push
subscriptions (origin and date only) and carries the feed's VAPID key for the page's
script, which subscribes this browser and posts the subscription to
`/settings/notifications/subscribe`; web registers it through the feed API.

The subscribe request is the browser's `PushSubscription.toJSON()` as it is; the feed
checks it (https, a public push service, ≤ 10 per account) and its refusal is shown.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.web.api_client import ApiError
from services.web.auth.deps import Authenticated
from services.web.pages import render
from services.web.routes.follower.deps import Api, back

router = APIRouter()

PAGE = "/settings/notifications"
# A PushSubscription's JSON is a few hundred bytes; anything far larger is not one.
SUBSCRIPTION_MAX_BYTES = 4096


@router.get(PAGE, response_class=HTMLResponse, summary="Notification settings")
async def settings_page(request: Request, api: Api, session: Authenticated) -> HTMLResponse:
    token = session.access_token
    subscriptions = await api.feed("GET", "/v1/me/push-subscriptions", token)
    try:
        key = (await api.feed("GET", "/v1/push/key", None))["public_key"]
    except ApiError:
        key = None  # push not configured: the page says so instead of offering it
    return render(
        request,
        "follower/notifications.html",
        {"subscriptions": subscriptions, "vapid_key": key, "tab": "notifications"},
    )


@router.post(f"{PAGE}/subscribe", summary="Register this browser's push subscription")
async def subscribe(request: Request, api: Api, session: Authenticated) -> Response:
    raw = await request.body()
    if len(raw) > SUBSCRIPTION_MAX_BYTES:
        return JSONResponse({"message": "That is not a push subscription."}, status_code=413)
    try:
        subscription: Any = await request.json()
    except ValueError:
        return JSONResponse({"message": "That is not a push subscription."}, status_code=422)
    try:
        created = await api.feed(
            "PUT", "/v1/me/push-subscriptions", session.access_token, json=subscription
        )
    except ApiError as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.page_status)
    return JSONResponse({"subscription_id": created["subscription_id"]}, status_code=201)


@router.post(f"{PAGE}/{{subscription_id}}/delete", summary="Remove a push subscription")
async def unsubscribe(subscription_id: UUID, api: Api, session: Authenticated) -> Response:
    await api.feed("DELETE", f"/v1/me/push-subscriptions/{subscription_id}", session.access_token)
    return back(None, PAGE)
