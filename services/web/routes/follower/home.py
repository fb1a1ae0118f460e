"""Home (`/`): the Updates tab when logged in, the directory otherwise; the directory
itself; the merged timeline; and the updates list as a fragment the live script refetches.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.web.auth.deps import Authenticated, MaybeAuthenticated
from services.web.pages import render
from services.web.routes.follower.deps import Api
from services.web.routes.follower.view import COUNTED_ONLY, post_of
from shared.channels import Category

router = APIRouter()

CATEGORIES = [c.value for c in Category]
SORTS = {"relevance": "Best match", "popular": "Popular", "new": "New", "active": "Most active"}
UPDATES_PAGE = 50
TIMELINE_PAGE = 20
DIRECTORY_PAGE = 20


@router.get("/", response_class=HTMLResponse, summary="Updates, or the directory")
async def home(request: Request, api: Api, session: MaybeAuthenticated) -> HTMLResponse:
    if session is None:
        return await _directory(request, api, None, None, None, None, None, None)
    updates = await api.feed(
        "GET", "/v1/updates", session.access_token, params={"limit": UPDATES_PAGE}
    )
    return render(request, "follower/updates.html", {"updates": updates["items"], "tab": "updates"})


@router.get("/fragments/updates", response_class=HTMLResponse, include_in_schema=False)
async def updates_fragment(request: Request, api: Api, session: Authenticated) -> HTMLResponse:
    updates = await api.feed(
        "GET", "/v1/updates", session.access_token, params={"limit": UPDATES_PAGE}
    )
    return render(request, "follower/_updates_list.html", {"updates": updates["items"]})


@router.get("/timeline", response_class=HTMLResponse, summary="Merged timeline")
async def timeline(
    request: Request,
    api: Api,
    session: Authenticated,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> HTMLResponse:
    page = await api.feed(
        "GET",
        "/v1/timeline",
        session.access_token,
        params={"limit": TIMELINE_PAGE, "cursor": cursor},
    )
    # The timeline does not carry each channel's reaction setting: counts are shown, and
    # reacting happens on the channel's page.
    posts = [post_of(item, reactions=COUNTED_ONLY, allowed_reactions=[]) for item in page["items"]]
    return render(
        request,
        "follower/timeline.html",
        {"posts": posts, "next_cursor": page.get("next_cursor"), "tab": "timeline"},
    )


@router.get("/directory", response_class=HTMLResponse, summary="Find channels")
async def directory(
    request: Request,
    api: Api,
    session: MaybeAuthenticated,
    q: Annotated[str | None, Query(max_length=200)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    sort: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> HTMLResponse:
    return await _directory(
        request, api, session.access_token if session else None, q, country, category, sort, cursor
    )


async def _directory(
    request: Request,
    api: Api,
    token: str | None,
    q: str | None,
    country: str | None,
    category: str | None,
    sort: str | None,
    cursor: str | None,
) -> HTMLResponse:
    filters: dict[str, Any] = {
        "q": (q or "").strip() or None,
        "country": (country or "").strip().upper() or None,
        "category": category if category in CATEGORIES else None,
        "sort": sort if sort in SORTS else None,
    }
    page = await api.feed(
        "GET",
        "/v1/directory",
        token,
        params={**filters, "cursor": cursor, "limit": DIRECTORY_PAGE},
    )
    context = {
        "channels": page["items"],
        "next_cursor": page.get("next_cursor"),
        "filters": filters,
        "categories": CATEGORIES,
        "sorts": SORTS,
        "tab": "directory",
    }
    # htmx asks for the whole page and picks `#results` out of it (hx-select).
    return render(request, "follower/directory.html", context)
