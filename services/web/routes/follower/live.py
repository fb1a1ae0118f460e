"""`POST /live/ticket`: where the page's live script opens its event stream.

The browser's EventSource cannot send the session's token, so web asks the feed for a
single-use stream ticket with it and hands the page the feed's stream URL with the
ticket; a reconnect asks again (a ticket is good once, for a minute). Stream events carry
ids only as far as the page is concerned: it fetches server-rendered fragments for them.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.web.auth.deps import Authenticated
from services.web.routes.follower.deps import Api

router = APIRouter()


@router.post("/live/ticket", summary="A stream URL for this page's live updates")
async def live_ticket(request: Request, api: Api, session: Authenticated) -> JSONResponse:
    issued = await api.feed("POST", "/v1/stream/tickets", session.access_token)
    # The feed as the browser reaches it, which may differ from web's own way there.
    feed_url = request.app.state.settings.browser_feed_url
    url = f"{feed_url}/v1/stream?ticket={quote(issued['ticket'], safe='')}"
    return JSONResponse({"url": url}, headers={"Cache-Control": "no-store"})
