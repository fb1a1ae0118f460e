"""The console's channel pages: the landing list, create, overview (with the suspension
and its appeal), settings (with the avatar upload) and admins (owner only).

Forms post here; on success the browser is sent (303) to the page showing the result, on
an API refusal the form comes back with what was typed and the API's message.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import HTMLResponse, Response

from services.web.api_client import ApiError
from services.web.routes.admin.console import (
    ConsoleDep,
    recent_channels,
    remember_channel,
    see_other,
)
from shared.channels import Category

router = APIRouter()

CATEGORIES = [c.value for c in Category]
REACTIONS = ["all", "limited", "none"]
VISIBILITIES = ["public", "unlisted", "invite"]


def _settings_from_form(
    reactions: str, allowed_reactions: str, retention_days: int, visibility: str, forwarding: bool
) -> dict[str, Any]:
    """The `settings` object from the form fields (emoji separated by spaces)."""
    return {
        "reactions": reactions,
        "allowed_reactions": allowed_reactions.split() if reactions == "limited" else [],
        "forwarding": forwarding,
        "retention_days": retention_days,
        "visibility": visibility,
    }


@router.get("", response_class=HTMLResponse, summary="The console: your recent channels")
async def landing(console: ConsoleDep) -> Response:
    channels: list[dict[str, Any]] = []
    for channel_id in recent_channels(console.request):
        try:
            channels.append(await console.channel(channel_id))
        except ApiError:
            # Gone, or no longer ours: just not listed.
            continue
    return console.page(
        "admin/landing.html", {"channels": channels, "operator": await console.is_operator()}
    )


@router.post("/open", summary="Open a channel by id or handle")
async def open_channel(
    console: ConsoleDep, channel: Annotated[str, Form(max_length=64)]
) -> Response:
    wanted = channel.strip().lstrip("@")
    try:
        try:
            # An id goes straight to the publisher: a suspended channel has no public card.
            channel_id = UUID(wanted)
        except ValueError:
            card = await console.feed("GET", f"/v1/channels/{quote(wanted, safe='')}")
            channel_id = UUID(str(card["channel_id"]))
        await console.channel(channel_id)
    except ApiError as exc:
        return console.page("admin/landing.html", {"channels": [], "wanted": channel}, error=exc)
    return see_other(f"/admin/c/{channel_id}")


@router.get("/new", response_class=HTMLResponse, summary="The create-a-channel form")
async def new_channel_form(console: ConsoleDep) -> Response:
    return console.page("admin/channel_new.html", _form_context({}))


def _form_context(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "values": values,
        "categories": CATEGORIES,
        "reactions_choices": REACTIONS,
        "visibilities": VISIBILITIES,
    }


@router.post("/new", summary="Create a channel")
async def create_channel(
    console: ConsoleDep,
    handle: Annotated[str, Form()],
    name: Annotated[str, Form()],
    category: Annotated[str, Form()],
    country: Annotated[str, Form()],
    language: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    reactions: Annotated[str, Form()] = "all",
    allowed_reactions: Annotated[str, Form()] = "",
    retention_days: Annotated[int, Form(ge=1, le=30)] = 30,
    visibility: Annotated[str, Form()] = "public",
    forwarding: Annotated[bool, Form()] = False,
) -> Response:
    body: dict[str, Any] = {
        "handle": handle.strip(),
        "name": name.strip(),
        "description": description.strip(),
        "category": category,
        "country": country.strip().upper(),
        "language": language.strip(),
        "settings": _settings_from_form(
            reactions, allowed_reactions, retention_days, visibility, forwarding
        ),
    }
    try:
        created = await console.publisher("POST", "/v1/channels", json=body)
    except ApiError as exc:
        values = {**body, **body["settings"], "allowed_reactions": allowed_reactions}
        return console.page("admin/channel_new.html", _form_context(values), error=exc)
    response = see_other(f"/admin/c/{created['channel_id']}?created=1")
    remember_channel(console.request, response, UUID(str(created["channel_id"])))
    return response


@router.get("/c/{channel_id}", response_class=HTMLResponse, summary="A channel's overview")
async def overview(console: ConsoleDep, channel_id: UUID, created: bool = False) -> Response:
    channel = await console.channel(channel_id)
    response = console.page(
        "admin/overview.html",
        {"channel": channel, "tab": "overview", "notice": "Channel created." if created else None},
    )
    remember_channel(console.request, response, channel_id)
    return response


@router.post("/c/{channel_id}/appeal", summary="Appeal the channel's suspension (owner)")
async def appeal(
    console: ConsoleDep, channel_id: UUID, text: Annotated[str, Form(max_length=4000)]
) -> Response:
    try:
        await console.publisher(
            "POST", f"/v1/channels/{channel_id}/appeal", json={"text": text.strip()}
        )
    except ApiError as exc:
        channel = await console.channel(channel_id)
        return console.page(
            "admin/overview.html", {"channel": channel, "tab": "overview"}, error=exc
        )
    return see_other(f"/admin/c/{channel_id}")


@router.get("/c/{channel_id}/settings", response_class=HTMLResponse, summary="Edit a channel")
async def settings_form(console: ConsoleDep, channel_id: UUID, saved: bool = False) -> Response:
    channel = await console.channel(channel_id)
    return console.page(
        "admin/settings.html",
        {
            "channel": channel,
            "tab": "settings",
            "notice": "Saved." if saved else None,
            **_form_context(_values(channel)),
        },
    )


def _values(channel: dict[str, Any]) -> dict[str, Any]:
    settings = channel["settings"]
    return {
        **channel,
        **settings,
        "allowed_reactions": " ".join(settings.get("allowed_reactions") or []),
    }


@router.post("/c/{channel_id}/settings", summary="Save a channel's edits")
async def save_settings(
    console: ConsoleDep,
    channel_id: UUID,
    name: Annotated[str, Form()],
    category: Annotated[str, Form()],
    country: Annotated[str, Form()],
    language: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    reactions: Annotated[str | None, Form()] = None,
    allowed_reactions: Annotated[str, Form()] = "",
    retention_days: Annotated[int | None, Form(ge=1, le=30)] = None,
    visibility: Annotated[str | None, Form()] = None,
    forwarding: Annotated[bool, Form()] = False,
) -> Response:
    body: dict[str, Any] = {
        "name": name.strip(),
        "description": description.strip(),
        "category": category,
        "country": country.strip().upper(),
        "language": language.strip(),
    }
    # Only the owner sees (and so posts) the settings fields.
    if reactions is not None and retention_days is not None and visibility is not None:
        body["settings"] = _settings_from_form(
            reactions, allowed_reactions, retention_days, visibility, forwarding
        )
    try:
        await console.publisher("PATCH", f"/v1/channels/{channel_id}", json=body)
    except ApiError as exc:
        channel = await console.channel(channel_id)
        values = {**_values(channel), **body, **body.get("settings", {})}
        values["allowed_reactions"] = allowed_reactions
        return console.page(
            "admin/settings.html",
            {"channel": channel, "tab": "settings", **_form_context(values)},
            error=exc,
        )
    return see_other(f"/admin/c/{channel_id}/settings?saved=1")


@router.post("/c/{channel_id}/avatar", summary="Upload a photo and make it the avatar")
async def upload_avatar(
    console: ConsoleDep, channel_id: UUID, file: Annotated[UploadFile, File()]
) -> Response:
    try:
        media = await console.publisher(
            "POST",
            f"/v1/channels/{channel_id}/media",
            files={"file": (file.filename or "avatar", file.file, file.content_type)},
        )
        await console.publisher(
            "PATCH", f"/v1/channels/{channel_id}", json={"avatar_media_id": media["media_id"]}
        )
    except ApiError as exc:
        channel = await console.channel(channel_id)
        return console.page(
            "admin/settings.html",
            {"channel": channel, "tab": "settings", **_form_context(_values(channel))},
            error=exc,
        )
    return see_other(f"/admin/c/{channel_id}/settings?saved=1")


@router.get("/c/{channel_id}/admins", response_class=HTMLResponse, summary="A channel's admins")
async def admins(console: ConsoleDep, channel_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    return console.page("admin/admins.html", {"channel": channel, "tab": "admins"})


async def _admins_after(
    console: ConsoleDep, channel_id: UUID, method: str, account_id: str
) -> Response:
    try:
        await console.publisher(
            method, f"/v1/channels/{channel_id}/admins/{quote(account_id, safe='')}"
        )
    except ApiError as exc:
        channel = await console.channel(channel_id)
        return console.page("admin/admins.html", {"channel": channel, "tab": "admins"}, error=exc)
    return see_other(f"/admin/c/{channel_id}/admins")


@router.post("/c/{channel_id}/admins", summary="Add an admin (owner)")
async def add_admin(
    console: ConsoleDep, channel_id: UUID, account_id: Annotated[str, Form(max_length=128)]
) -> Response:
    return await _admins_after(console, channel_id, "PUT", account_id.strip())


@router.post("/c/{channel_id}/admins/{account_id}/remove", summary="Remove an admin (owner)")
async def remove_admin(console: ConsoleDep, channel_id: UUID, account_id: str) -> Response:
    return await _admins_after(console, channel_id, "DELETE", account_id)
