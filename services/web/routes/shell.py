"""The app shell: the Web App Manifest, the service worker, the offline page, and a
fallback home page.

The service worker is served from `/sw.js` (not under `/static/`) so its scope can be
the whole site, and revalidated on every load so a new version takes over promptly.
The fallback `/` is included after every other router: the follower's home page, when
present, answers first.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, JSONResponse, Response

from services.web.auth.deps import MaybeAuthenticated
from services.web.pages import STATIC_DIR, render, static_url

router = APIRouter(include_in_schema=False)
fallback_router = APIRouter(include_in_schema=False)
NO_CACHE = "no-cache"
# Browsers refetch the manifest rarely; an hour keeps edits visible the same day.
MANIFEST_CACHE = "public, max-age=3600"
THEME_COLOR = "#1f4e8c"


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    body = {
        "name": "Herald",
        "short_name": "Herald",
        "description": "Broadcast channels: follow, read and publish.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static_url("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return JSONResponse(
        body, media_type="application/manifest+json", headers={"Cache-Control": MANIFEST_CACHE}
    )


@router.get("/sw.js")
async def service_worker() -> Response:
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": NO_CACHE, "Service-Worker-Allowed": "/"},
    )


@router.get("/offline")
async def offline(request: Request) -> Response:
    """What the service worker shows for a page it cannot fetch (cached at install)."""
    # Cached by the service worker: nothing of the account that happened to load it.
    response = render(request, "offline.html", {"session": None})
    response.headers["Cache-Control"] = NO_CACHE
    return response


@fallback_router.get("/")
async def home(request: Request, session: MaybeAuthenticated) -> Response:
    return render(request, "home.html")
