"""Channel and post pages, public: `/c/{id_or_handle}` and `/c/{id_or_handle}/{seq}`,
server-rendered with Open Graph and Twitter card tags so a shared link previews well.

What a page shows is what the feed shows the caller: a logged-out visitor reads as
anonymous, so an invite-only channel (to a stranger), a suspended or deleted channel, and
an expired or deleted post all answer 404 here as they do there. `lang` is the channel's.
`/fragments/post/{channel_id}/{seq}` is one post, for the live script to swap in.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api_client import ApiClient, ApiError
from services.web.auth.deps import MaybeAuthenticated
from services.web.pages import render
from services.web.routes.follower.deps import (
    Api,
    card,
    my_follow,
    post_by_seq,
    posts_by_seq,
    token_of,
)
from services.web.routes.follower.view import PostView, post_of, preview_of
from services.web.sessions import Session

router = APIRouter()

POSTS_PAGE = 20
SEQ_MAX = 2**62


def _posts(channel: dict[str, Any], items: list[dict[str, Any]]) -> list[PostView]:
    pinned = frozenset(str(p["post_id"]) for p in channel.get("pinned") or [])
    return [
        post_of(
            item,
            reactions=channel.get("reactions") or "all",
            allowed_reactions=channel.get("allowed_reactions") or [],
            pinned=pinned,
        )
        for item in items
    ]


async def _channel_context(
    request: Request, api: ApiClient, session: Session | None, channel: dict[str, Any]
) -> dict[str, Any]:
    token = token_of(session)
    channel_id = channel["channel_id"]
    follow = await my_follow(api, channel_id, token) if token is not None else None
    pinned_seqs = [int(p["seq"]) for p in channel.get("pinned") or []]
    pinned = _posts(channel, await posts_by_seq(api, channel_id, pinned_seqs, token))
    return {
        "channel": channel,
        "follow": follow,
        "pinned_posts": pinned,
        "lang": channel.get("language") or "en",
        "public_url": request.app.state.settings.public_url,
    }


@router.get("/c/{key}", response_class=HTMLResponse, summary="A channel's page")
async def channel_page(
    request: Request,
    key: str,
    api: Api,
    session: MaybeAuthenticated,
    before: Annotated[int | None, Query(ge=1, le=SEQ_MAX)] = None,
) -> HTMLResponse:
    token = token_of(session)
    channel = await card(api, key, token)
    page = await api.feed(
        "GET",
        f"/v1/channels/{channel['channel_id']}/posts",
        token,
        params={"before": before, "limit": POSTS_PAGE},
    )
    context = await _channel_context(request, api, session, channel)
    posts = _posts(channel, page["items"])
    context.update(
        {
            "posts": posts,
            "next_before": page.get("next_before"),
            "og": _og_channel(channel, context["public_url"]),
        }
    )
    return render(request, "follower/channel.html", context)


@router.get("/c/{key}/{seq}", response_class=HTMLResponse, summary="One post's page")
async def post_page(
    request: Request,
    key: str,
    seq: Annotated[int, Path(ge=1, le=SEQ_MAX)],
    api: Api,
    session: MaybeAuthenticated,
) -> HTMLResponse:
    token = token_of(session)
    channel = await card(api, key, token)
    item = await post_by_seq(api, channel["channel_id"], seq, token)
    if item is None:
        raise ApiError(404, "This post does not exist, was deleted or has expired.")
    context = await _channel_context(request, api, session, channel)
    post = _posts(channel, [item])[0]
    context.update({"post": post, "og": _og_post(channel, post, context["public_url"])})
    return render(request, "follower/post.html", context)


@router.get("/fragments/post/{channel_id}/{seq}", include_in_schema=False)
async def post_fragment(
    request: Request,
    channel_id: UUID,
    seq: Annotated[int, Path(ge=1, le=SEQ_MAX)],
    api: Api,
    session: MaybeAuthenticated,
    with_channel: bool = False,
) -> Response:
    """One post rendered alone; 204 (nothing to swap in) once it is gone."""
    token = token_of(session)
    channel = await card(api, str(channel_id), token)
    item = await post_by_seq(api, channel["channel_id"], seq, token)
    if item is None:
        return Response(status_code=204)
    if with_channel:
        item = {**item, "channel": channel}
    post = _posts(channel, [item])[0]
    return render(request, "follower/_post.html", {"post": post, "lang": channel.get("language")})


def _og_channel(channel: dict[str, Any], base: str) -> dict[str, str]:
    tags = {
        "title": channel["name"],
        "description": preview_of(channel.get("description")) or f"@{channel['handle']} on Herald",
        "url": f"{base}/c/{channel['handle']}",
        "type": "website",
        "card": "summary",
    }
    if channel.get("avatar_media_id"):
        tags["image"] = f"{base}/media/{channel['avatar_media_id']}"
    return tags


def _og_post(channel: dict[str, Any], post: PostView, base: str) -> dict[str, str]:
    tags = {
        "title": channel["name"],
        "description": post.preview or f"A post of @{channel['handle']}",
        "url": f"{base}/c/{channel['channel_id']}/{post.seq}",
        "type": "article",
        "card": "summary",
    }
    if post.media is not None and post.media.kind == "photo":
        tags["image"] = f"{base}/media/{post.media.media_id}"
        tags["card"] = "summary_large_image"
    elif channel.get("avatar_media_id"):
        tags["image"] = f"{base}/media/{channel['avatar_media_id']}"
    return tags
