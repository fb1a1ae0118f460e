"""`herald channels …`: create, list (the public directory), show, edit, the owner's audit
log and appeal."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from cli import render
from cli.api import USAGE, Api
from cli.common import Channel, Json, Limit, fail, resolve_channel, run

app = typer.Typer(help="Create, list, show and edit channels.", no_args_is_help=True)

CHANNEL_FIELDS = (
    "channel_id",
    "handle",
    "name",
    "description",
    "category",
    "country",
    "language",
    "status",
    "verified",
    "alerts_enabled",
    "retention_days",
    "settings",
    "your_role",
    "suspension",
    "created_at",
    "updated_at",
)


def _show_channel(channel: dict[str, Any]) -> None:
    render.fields(channel, CHANNEL_FIELDS)


@app.command("create")
def channels_create(
    handle: Annotated[str, typer.Option(help="[a-z0-9_]{3,32}, unique.")],
    name: Annotated[str, typer.Option()],
    category: Annotated[str, typer.Option(help="news, sports, health, … (DESIGN.md).")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2, e.g. DE.")],
    language: Annotated[str, typer.Option(help="BCP 47, e.g. de.")],
    description: Annotated[str, typer.Option()] = "",
    visibility: Annotated[Literal["public", "unlisted", "invite"] | None, typer.Option()] = None,
    retention_days: Annotated[int | None, typer.Option(min=1, max=30)] = None,
    as_json: Json = False,
) -> None:
    """Create a channel; you become its owner."""
    body: dict[str, Any] = {
        "handle": handle,
        "name": name,
        "description": description,
        "category": category,
        "country": country,
        "language": language,
    }
    settings: dict[str, Any] = {}
    if visibility is not None:
        settings["visibility"] = visibility
    if retention_days is not None:
        settings["retention_days"] = retention_days
    if settings:
        body["settings"] = settings
    run(as_json, lambda api: api.publisher("POST", "/v1/channels", json=body), _show_channel)


@app.command("list")
def channels_list(
    q: Annotated[str | None, typer.Option(help="Search text.")] = None,
    country: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    sort: Annotated[Literal["relevance", "popular", "new", "active"] | None, typer.Option()] = None,
    limit: Limit = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the page before.")] = None,
    as_json: Json = False,
) -> None:
    """Channels in the public directory (the publisher has no "my channels" list)."""
    params = {
        "q": q,
        "country": country,
        "category": category,
        "sort": sort,
        "limit": limit,
        "cursor": cursor,
    }

    def show(page: dict[str, Any]) -> None:
        render.table(
            page["items"],
            ("channel_id", "handle", "name", "followers", "verified"),
            "no channels",
        )
        if page.get("next_cursor"):
            render.done(f"more: --cursor {page['next_cursor']}")

    run(as_json, lambda api: api.feed("GET", "/v1/directory", params=params), show)


@app.command("show")
def channels_show(channel: Channel, as_json: Json = False) -> None:
    """The admin view of a channel (you must be one of its admins)."""
    run(
        as_json,
        lambda api: api.publisher("GET", f"/v1/channels/{resolve_channel(api, channel)}"),
        _show_channel,
    )


@app.command("edit")
def channels_edit(
    channel: Channel,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str | None, typer.Option()] = None,
    visibility: Annotated[
        Literal["public", "unlisted", "invite"] | None,
        typer.Option(help="Owner only."),
    ] = None,
    retention_days: Annotated[int | None, typer.Option(min=1, max=30, help="Owner only.")] = None,
    as_json: Json = False,
) -> None:
    """Edit a channel: only the options given change."""
    changes = {
        k: v
        for k, v in {
            "name": name,
            "description": description,
            "category": category,
            "country": country,
            "language": language,
        }.items()
        if v is not None
    }
    settings_changes = {
        k: v
        for k, v in {"visibility": visibility, "retention_days": retention_days}.items()
        if v is not None
    }
    if not changes and not settings_changes:
        fail(USAGE, "nothing to change: give at least one option")

    def action(api: Api) -> Any:
        channel_id = resolve_channel(api, channel)
        body: dict[str, Any] = dict(changes)
        if settings_changes:
            # The API replaces `settings` whole: start from the current ones.
            current = api.publisher("GET", f"/v1/channels/{channel_id}")
            body["settings"] = {**current["settings"], **settings_changes}
        return api.publisher("PATCH", f"/v1/channels/{channel_id}", json=body)

    run(as_json, action, _show_channel)


AUDIT_COLUMNS = ("at", "actor_role", "actor_id", "action", "details")


@app.command("audit")
def channels_audit(
    channel: Channel,
    limit: Limit = 100,
    before: Annotated[str | None, typer.Option(help="An entry's `at`: older ones.")] = None,
    as_json: Json = False,
) -> None:
    """The channel's audit log, newest first (its owner)."""
    run(
        as_json,
        lambda api: api.publisher(
            "GET",
            f"/v1/channels/{resolve_channel(api, channel)}/audit",
            params={"limit": limit, "before": before},
        ),
        lambda log: render.table(log["entries"], AUDIT_COLUMNS, "no entries"),
    )


@app.command("appeal")
def channels_appeal(
    channel: Annotated[str, typer.Argument(help="The suspended channel's id.")],
    text: Annotated[str, typer.Option(help="Why the suspension should be lifted.")],
    as_json: Json = False,
) -> None:
    """Appeal the channel's suspension (its owner; one appeal per suspension)."""
    run(
        as_json,
        lambda api: api.publisher(
            "POST", f"/v1/channels/{resolve_channel(api, channel)}/appeal", json={"text": text}
        ),
        lambda ans: render.done(f"appeal {ans['appeal_id']} {ans['status']}"),
    )
