"""Composing and managing posts: compose every type (with an upload that shows its
progress), the post's status page (accepted → published, refreshed by htmx until it
settles), the posts list (edit, delete, pin), and the scheduled list (edit, cancel).

Double submits: the compose form carries an `Idempotency-Key` minted when the form is
rendered and sent with the publish; the publisher answers a repeat with the same post,
so a double click (or a resubmitted form) posts once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.web.api_client import ApiError
from services.web.routes.admin.console import Console, ConsoleDep, see_other

router = APIRouter()

POST_TYPES = ["text", "photo", "video", "sticker", "voice", "poll"]
MEDIA_TYPES = {"photo", "video", "sticker", "voice"}
# The publisher's limit; the form offers this many option fields.
POLL_OPTIONS_MAX = 12
# Statuses after which the status page stops asking.
SETTLED = {"published", "deleted", "scheduled"}
# Posts shown on the posts page (the newest).
POSTS_PAGE = 30


def _compose_context(channel: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": channel,
        "tab": "compose",
        "post_types": POST_TYPES,
        "poll_slots": POLL_OPTIONS_MAX,
        "values": values,
        # A new key per rendered form: a resubmission of this form is the same post.
        "idempotency_key": str(uuid.uuid4()),
    }


@router.get("/c/{channel_id}/compose", response_class=HTMLResponse, summary="Compose a post")
async def compose_form(console: ConsoleDep, channel_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    return console.page("admin/compose.html", _compose_context(channel, {"type": "text"}))


def publish_at_utc(local: str, tz_offset_min: int | None) -> str | None:
    """The `datetime-local` field as an aware ISO time: the browser's offset (minutes
    behind UTC, as JavaScript's getTimezoneOffset) when it sent one, else UTC.
    Empty → None (publish now). Raises ValueError for a malformed time."""
    if not local.strip():
        return None
    naive = datetime.fromisoformat(local.strip())
    if naive.tzinfo is not None:
        return naive.isoformat()
    aware = naive.replace(tzinfo=UTC) + timedelta(minutes=tz_offset_min or 0)
    return aware.isoformat()


def post_body(
    *,
    type_: str,
    text: str,
    caption: str,
    media_id: str,
    question: str,
    options: list[str],
    multiple: bool,
    silent: bool,
    alert: bool,
    publish_at: str | None,
) -> dict[str, Any]:
    """The publish request for the compose form's fields: only the fields the type has
    (the publisher rejects the others), blank poll options dropped."""
    body: dict[str, Any] = {"type": type_}
    if type_ == "text":
        body["text"] = text
    elif type_ == "poll":
        body["poll"] = {
            "question": question.strip(),
            "options": [o.strip() for o in options if o.strip()],
            "multiple": multiple,
        }
    else:
        body["media_id"] = media_id or None
        if caption.strip():
            body["caption"] = caption
    if silent:
        body["silent"] = True
    if alert:
        body["priority"] = "alert"
    if publish_at is not None:
        body["publish_at"] = publish_at
    return body


@router.post("/c/{channel_id}/compose", summary="Publish or schedule the composed post")
async def compose(
    console: ConsoleDep,
    channel_id: UUID,
    idempotency_key: Annotated[str, Form(max_length=64)],
    type: Annotated[str, Form()] = "text",
    text: Annotated[str, Form()] = "",
    caption: Annotated[str, Form()] = "",
    media_id: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    question: Annotated[str, Form()] = "",
    option: Annotated[list[str] | None, Form()] = None,
    multiple: Annotated[bool, Form()] = False,
    silent: Annotated[bool, Form()] = False,
    alert: Annotated[bool, Form()] = False,
    publish_at: Annotated[str, Form()] = "",
    tz_offset: Annotated[int | None, Form(ge=-24 * 60, le=24 * 60)] = None,
) -> Response:
    values = {
        "type": type,
        "media_id": media_id,
        "text": text,
        "caption": caption,
        "question": question,
        "options": option or [],
        "multiple": multiple,
        "silent": silent,
        "alert": alert,
        "publish_at": publish_at,
    }
    channel = await console.channel(channel_id)
    try:
        when = publish_at_utc(publish_at, tz_offset)
    except ValueError:
        return console.page(
            "admin/compose.html",
            _compose_context(channel, values),
            status_code=422,
            error="The publish time is not a date and time.",
        )
    try:
        if type in MEDIA_TYPES and not media_id and file is not None and file.filename:
            # Without script the file comes with the form: upload it first.
            media = await _upload(console, channel_id, file)
            media_id = str(media["media_id"])
        body = post_body(
            type_=type,
            text=text,
            caption=caption,
            media_id=media_id,
            question=question,
            options=option or [],
            multiple=multiple,
            silent=silent,
            alert=alert,
            publish_at=when,
        )
        accepted = await console.publisher(
            "POST",
            f"/v1/channels/{channel_id}/posts",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        )
    except ApiError as exc:
        return console.page("admin/compose.html", _compose_context(channel, values), error=exc)
    return see_other(f"/admin/c/{channel_id}/posts/{accepted['post_id']}")


async def _upload(console: Console, channel_id: UUID, file: UploadFile) -> dict[str, Any]:
    media: dict[str, Any] = await console.publisher(
        "POST",
        f"/v1/channels/{channel_id}/media",
        files={"file": (file.filename or "upload", file.file, file.content_type)},
    )
    return media


@router.post("/c/{channel_id}/media", summary="Upload a media file (the compose form's script)")
async def upload_media(
    console: ConsoleDep, channel_id: UUID, file: Annotated[UploadFile, File()]
) -> Response:
    """JSON for the compose form's script: `{media_id, kind, mime, bytes}` or, refused,
    `{detail}` with the API's status."""
    try:
        media = await _upload(console, channel_id, file)
    except ApiError as exc:
        return JSONResponse({"detail": exc.message}, status_code=exc.page_status)
    return JSONResponse({k: media.get(k) for k in ("media_id", "kind", "mime", "bytes")})


@router.get(
    "/c/{channel_id}/posts/{post_id}", response_class=HTMLResponse, summary="A post's status"
)
async def post_page(console: ConsoleDep, channel_id: UUID, post_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    status = await console.publisher("GET", f"/v1/channels/{channel_id}/posts/{post_id}")
    return console.page(
        "admin/post.html",
        {"channel": channel, "tab": "posts", "post": status, "settled": SETTLED},
    )


@router.get(
    "/c/{channel_id}/posts/{post_id}/status",
    response_class=HTMLResponse,
    summary="The status fragment the post page refreshes",
)
async def post_status_fragment(console: ConsoleDep, channel_id: UUID, post_id: UUID) -> Response:
    try:
        status = await console.publisher("GET", f"/v1/channels/{channel_id}/posts/{post_id}")
    except ApiError as exc:
        return console.page(
            "admin/_status.html", {"post": None, "channel_id": channel_id}, error=exc
        )
    return console.page(
        "admin/_status.html", {"post": status, "channel_id": channel_id, "settled": SETTLED}
    )


async def _history(console: Console, channel_id: UUID) -> dict[str, dict[str, Any]]:
    """The newest posts as readers see them, by post id (empty when the feed says no:
    a suspended channel has no public history)."""
    try:
        page = await console.feed(
            "GET", f"/v1/channels/{channel_id}/posts", params={"limit": POSTS_PAGE}
        )
    except ApiError:
        return {}
    return {str(item["post_id"]): item for item in page.get("items", [])}


async def _pins(console: Console, channel_id: UUID) -> set[str]:
    try:
        card = await console.feed("GET", f"/v1/channels/{channel_id}")
    except ApiError:
        return set()
    return {str(p["post_id"]) for p in card.get("pinned", [])}


@router.get("/c/{channel_id}/posts", response_class=HTMLResponse, summary="The channel's posts")
async def posts_page(console: ConsoleDep, channel_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    insights = await console.publisher(
        "GET", f"/v1/channels/{channel_id}/insights", params={"limit": POSTS_PAGE}
    )
    history = await _history(console, channel_id)
    pins = await _pins(console, channel_id)
    posts = [
        {
            **p,
            "body": history.get(str(p["post_id"]), {}).get("body"),
            "pinned": str(p["post_id"]) in pins,
        }
        for p in insights.get("posts", [])
    ]
    notice = console.request.query_params.get("done")
    return console.page(
        "admin/posts.html",
        {"channel": channel, "tab": "posts", "posts": posts, "notice": _NOTICES.get(notice or "")},
    )


_NOTICES = {
    "edited": "Edit sent: readers see it in a moment.",
    "deleted": "Deleted for everyone.",
    "pinned": "Pinned.",
    "unpinned": "Unpinned.",
    "cancelled": "Scheduled post cancelled.",
}


async def _after(
    console: Console, channel_id: UUID, method: str, path: str, back: str, done: str, **kw: Any
) -> Response:
    try:
        await console.publisher(method, path, **kw)
    except ApiError as exc:
        channel = await console.channel(channel_id)
        return console.page("admin/error.html", {"channel": channel, "back": back}, error=exc)
    return see_other(f"{back}?done={done}")


@router.post("/c/{channel_id}/posts/{post_id}/edit", summary="Edit a post's text or caption")
async def edit_post(
    console: ConsoleDep,
    channel_id: UUID,
    post_id: UUID,
    field: Annotated[str, Form(pattern="^(text|caption)$")],
    value: Annotated[str, Form()],
    back: Annotated[str, Form(pattern="^(posts|scheduled)$")] = "posts",
) -> Response:
    return await _after(
        console,
        channel_id,
        "PATCH",
        f"/v1/channels/{channel_id}/posts/{post_id}",
        f"/admin/c/{channel_id}/{back}",
        "edited",
        json={field: value},
    )


@router.post("/c/{channel_id}/posts/{post_id}/delete", summary="Delete (or cancel) a post")
async def delete_post(
    console: ConsoleDep,
    channel_id: UUID,
    post_id: UUID,
    back: Annotated[str, Form(pattern="^(posts|scheduled)$")] = "posts",
) -> Response:
    return await _after(
        console,
        channel_id,
        "DELETE",
        f"/v1/channels/{channel_id}/posts/{post_id}",
        f"/admin/c/{channel_id}/{back}",
        "cancelled" if back == "scheduled" else "deleted",
    )


@router.post("/c/{channel_id}/posts/{post_id}/pin", summary="Pin or unpin a post")
async def pin_post(
    console: ConsoleDep,
    channel_id: UUID,
    post_id: UUID,
    pin: Annotated[bool, Form()] = False,
) -> Response:
    return await _after(
        console,
        channel_id,
        "PUT" if pin else "DELETE",
        f"/v1/channels/{channel_id}/pins/{post_id}",
        f"/admin/c/{channel_id}/posts",
        "pinned" if pin else "unpinned",
    )


@router.get("/c/{channel_id}/scheduled", response_class=HTMLResponse, summary="Scheduled posts")
async def scheduled_page(console: ConsoleDep, channel_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    page = await console.publisher("GET", f"/v1/channels/{channel_id}/scheduled")
    notice = console.request.query_params.get("done")
    return console.page(
        "admin/scheduled.html",
        {
            "channel": channel,
            "tab": "scheduled",
            "items": page.get("items", []),
            "notice": _NOTICES.get(notice or ""),
        },
    )
