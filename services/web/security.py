"""Browser-facing protections: security headers on every response and CSRF on every form.

CSRF is a double submit: a random token in the `herald_csrf` cookie (HttpOnly, SameSite
Lax) must come back with every POST/PUT/PATCH/DELETE, as the form field `csrf_token` or
the `X-CSRF-Token` header (htmx sends it from `<body hx-headers>`). Another site can make
a browser send the cookie but can read neither it nor the page that holds the token.
`require_csrf` is a dependency of the whole app, so every route any page adds is covered.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "herald_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Exception):
    """An unsafe request without the page's CSRF token: answered 403."""


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (made on first use; the response sets its cookie)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 128:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


async def require_csrf(request: Request) -> None:
    """Raise CsrfRefused for an unsafe method whose token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        # The route's own form parsing reuses this parse (Starlette caches it).
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfRefused


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def content_security_policy(*api_urls: str) -> str:
    """No inline script or style anywhere; scripts from this origin only. Pages may load
    media from, and open streams to, the APIs' origins."""
    apis = " ".join(sorted({_origin(url) for url in api_urls}))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {apis}",
            f"media-src 'self' blob: {apis}",
            f"connect-src 'self' {apis}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "manifest-src 'self'",
            "worker-src 'self'",
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and the CSRF cookie when a page made
    a token for a browser that had none. Pure ASGI: streams pass through untouched."""

    def __init__(self, app: ASGIApp, *, csp: str, secure_cookies: bool) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": csp,
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            "referrer-policy": "strict-origin-when-cross-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
            "cross-origin-opener-policy": "same-origin",
        }
        self.secure = "; Secure" if secure_cookies else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                new_csrf = scope.get("state", {}).get("new_csrf")
                if new_csrf:
                    headers.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Lax{self.secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)
