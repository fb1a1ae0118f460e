"""Rendering pages: the Jinja2 environment and `render`, which every route uses.

Autoescaping is on for every template, so text from the APIs (names, post bodies) is
always shown as text. Each page gets `session` (or None), `csrf_token` for its forms,
`static_url` (asset URLs carry a content hash, so they can be cached for a year) and
`htmx` (true for an htmx request, which wants a fragment rather than a whole page).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from services.web.security import csrf_token

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=WEB_DIR / "templates")


@cache
def _asset_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """`/static/<name>?v=<hash of its content>`: a changed file gets a new URL."""
    return f"/static/{name}?v={_asset_version(name)}"


templates.env.globals["static_url"] = static_url


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """The template rendered for this request, with the common context added."""
    full: dict[str, Any] = {
        "session": getattr(request.state, "session", None),
        "csrf_token": csrf_token(request),
        "htmx": is_htmx(request),
        "lang": "en",
    }
    full.update(context or {})
    return templates.TemplateResponse(request, template, full, status_code=status_code)


def render_error(request: Request, message: str, status_code: int, title: str = "") -> HTMLResponse:
    """A readable error: a whole page, or for htmx a fragment to swap into `#messages`."""
    name = "fragments/error.html" if is_htmx(request) else "error.html"
    response = render(
        request, name, {"message": message, "title": title or "Something went wrong"}, status_code
    )
    if is_htmx(request):
        # htmx swaps 2xx answers only by default: point the error at the message area.
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    return response
