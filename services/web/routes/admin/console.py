"""What every admin page shares: the publisher/feed calls of the signed-in account, the
channel being administered, and one way to show a page or an API's refusal.

Contracts:
- `Console.publisher`/`Console.feed` return the answer's JSON (None for an empty body) or
  raise `ApiError` carrying the problem's readable `detail` (a 429 says when to retry);
  pages catch it and show the message next to the form, never a stack trace.
- `recent_channels`/`remember_channel`: the console lists the channels this browser
  administered lately from a cookie of channel ids (the publisher has no "my channels"
  listing); each id is checked against the publisher on every visit, so the cookie grants
  nothing.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web.api_client import ApiClient, ApiError
from services.web.auth.deps import Authenticated
from services.web.pages import render

# A browser-local list; enough to come back to a handful of channels.
RECENT_COOKIE = "herald_admin_recent"
RECENT_MAX = 8
RECENT_MAX_AGE_S = 180 * 24 * 3600


class Console:
    """The admin pages' view of one request: its API client and its account."""

    def __init__(self, request: Request, api: ApiClient, account_id: str, token: str) -> None:
        self.request = request
        self.api = api
        self.account_id = account_id
        self._token = token

    async def publisher(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.api.publisher(method, path, self._token, **kwargs)

    async def feed(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.api.feed(method, path, self._token, **kwargs)

    async def channel(self, channel_id: UUID) -> dict[str, Any]:
        """The admin view of the channel (`your_role`, `admins`, `suspension`…)."""
        channel: dict[str, Any] = await self.publisher("GET", f"/v1/channels/{channel_id}")
        return channel

    async def is_operator(self) -> bool:
        """Whether the publisher lets this account into `/v1/operator/…` (others: 404)."""
        try:
            await self.publisher("GET", "/v1/operator/appeals", params={"limit": 1})
        except ApiError:
            return False
        return True

    def page(
        self,
        template: str,
        context: dict[str, Any],
        *,
        status_code: int = 200,
        error: ApiError | str | None = None,
    ) -> HTMLResponse:
        """Render an admin/operator template; `error` is shown as the page's alert."""
        message = error.message if isinstance(error, ApiError) else error
        if isinstance(error, ApiError) and status_code < 400:
            status_code = error.page_status
        settings = self.request.app.state.settings
        common = {
            "account_id": self.account_id,
            "error": message,
            # Avatars come from the feed's media endpoint (the CSP allows its origin).
            "media_url": settings.browser_feed_url,
            "public_url": settings.public_url,
        }
        return render(self.request, template, {**common, **context}, status_code)


def _console(request: Request, session: Authenticated) -> Console:
    return Console(request, request.app.state.api, session.account_id, session.access_token)


# Every console page needs a login (a logged-out browser is sent to /login?next=…).
ConsoleDep = Annotated[Console, Depends(_console)]


def see_other(url: str) -> RedirectResponse:
    """After a successful form post: go to the page showing its result (303: a GET)."""
    return RedirectResponse(url, status_code=303)


def recent_channels(request: Request) -> list[UUID]:
    """Channel ids from the recent-channels cookie, newest first; junk is skipped."""
    ids: list[UUID] = []
    for part in request.cookies.get(RECENT_COOKIE, "").split("."):
        try:
            channel_id = UUID(part)
        except ValueError:
            continue
        if channel_id not in ids:
            ids.append(channel_id)
    return ids[:RECENT_MAX]


def remember_channel(request: Request, response: Response, channel_id: UUID) -> None:
    """Put `channel_id` first in the recent-channels cookie."""
    ids = [channel_id] + [c for c in recent_channels(request) if c != channel_id]
    response.set_cookie(
        RECENT_COOKIE,
        ".".join(str(c) for c in ids[:RECENT_MAX]),
        max_age=RECENT_MAX_AGE_S,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
