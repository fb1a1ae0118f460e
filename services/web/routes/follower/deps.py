"""What the follower's routes share: the API client, the caller's token, redirects back
to the page a form came from, and reading a channel's card and posts from the feed."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from services.web.api_client import ApiClient
from services.web.auth.deps import safe_next
from services.web.sessions import Session

# Pages of /v1/me/follows read to find one follow: the feed caps follows at 2000 per
# account, 100 a page, so this reads every follow an account can have.
FOLLOW_PAGES_MAX = 20


def get_api(request: Request) -> ApiClient:
    api: ApiClient = request.app.state.api
    return api


Api = Annotated[ApiClient, Depends(get_api)]


def token_of(session: Session | None) -> str | None:
    return session.access_token if session is not None else None


def back(next_path: str | None, fallback: str) -> RedirectResponse:
    """303 to the page the form was on (its same-site `next` field), else `fallback`."""
    target = safe_next(next_path) if next_path else fallback
    return RedirectResponse(target, status_code=303)


async def card(api: ApiClient, key: str, token: str | None) -> dict[str, Any]:
    """The channel's card by id or handle; ApiError 404 when the caller may not see it."""
    result: dict[str, Any] = await api.feed("GET", f"/v1/channels/{key}", token)
    return result


async def post_by_seq(
    api: ApiClient, channel_id: str, seq: int, token: str | None
) -> dict[str, Any] | None:
    """The visible post `seq` of the channel, or None (deleted, expired, never was)."""
    page = await api.feed(
        "GET",
        f"/v1/channels/{channel_id}/posts",
        token,
        params={"before": seq + 1, "limit": 1},
    )
    items: list[dict[str, Any]] = page["items"]
    if items and items[0]["seq"] == seq:
        return items[0]
    return None


async def posts_by_seq(
    api: ApiClient, channel_id: str, seqs: list[int], token: str | None
) -> list[dict[str, Any]]:
    """The visible ones of these posts, in the order given."""
    found = await asyncio.gather(*(post_by_seq(api, channel_id, s, token) for s in seqs))
    return [post for post in found if post is not None]


async def my_follow(api: ApiClient, channel_id: str, token: str) -> dict[str, Any] | None:
    """The caller's follow of the channel (`following`, `muted`, `alerts`), or None."""
    cursor: str | None = None
    for _ in range(FOLLOW_PAGES_MAX):
        page = await api.feed(
            "GET", "/v1/me/follows", token, params={"limit": 100, "cursor": cursor}
        )
        for item in page["items"]:
            if item["channel_id"] == channel_id and item["following"]:
                follow: dict[str, Any] = item
                return follow
        cursor = page.get("next_cursor")
        if cursor is None:
            return None
    return None
