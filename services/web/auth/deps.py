"""The session of a request, for pages and templates.

`load_session` is a dependency of the whole app: it puts the browser's live session (or
None) on `request.state.session`, refreshing an OIDC access token that is about to end;
when the refresh fails the session is deleted and the browser is logged out. A page
that needs a login takes `require_session` (or its `Authenticated` alias), which sends
a logged-out browser to `/login?next=…` (an htmx request gets `HX-Redirect`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from services.web.sessions import Session, SessionStore

SESSION_COOKIE = "herald_session"
# Refresh a provider's access token this long before it ends, so an API call made with it
# never lands just after its expiry.
REFRESH_MARGIN_S = 60.0


class LoginRequired(Exception):
    """The page needs a logged-in browser; `next_path` is where to come back to."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def load_session(request: Request) -> Session | None:
    if "session" in request.state._state:
        session: Session | None = request.state.session
        return session
    session = None
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and len(session_id) <= 128:
        store: SessionStore = request.app.state.sessions
        session = await store.get(session_id)
        if (
            session is not None
            and session.refresh_token is not None
            and session.access_expires_within(REFRESH_MARGIN_S)
        ):
            session = await request.app.state.oidc.refresh(store, session)
    request.state.session = session
    return session


async def require_session(
    request: Request, session: Annotated[Session | None, Depends(load_session)]
) -> Session:
    if session is None:
        raise LoginRequired(safe_next(request.url.path, request.url.query))
    return session


Authenticated = Annotated[Session, Depends(require_session)]
MaybeAuthenticated = Annotated[Session | None, Depends(load_session)]


def safe_next(path: str, query: str = "") -> str:
    """A same-site path to return to after login: anything else (another host, a scheme,
    `//host`, backslashes) becomes `/`."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path + (f"?{query}" if query else "")


def login_url(next_path: str) -> str:
    return "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"
