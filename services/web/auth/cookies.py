"""Setting and clearing the session cookie: `HttpOnly`, `SameSite=Lax`, `Secure` outside
development, as long as the session."""

from __future__ import annotations

from starlette.responses import Response

from services.web.auth.deps import SESSION_COOKIE
from services.web.config import WebSettings


def set_session_cookie(response: Response, settings: WebSettings, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_ttl_s,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: WebSettings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=settings.secure_cookies, samesite="lax"
    )
