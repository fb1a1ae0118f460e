"""`herald post`, `herald insights` and `herald deletion-report`: a channel's posts, their
numbers, and what became of them (registered on the top-level app by `cli.main`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli import render
from cli.api import USAGE, Api
from cli.args import parse_at, post_body
from cli.common import Channel, Json, Limit, check, fail, resolve_channel, run


def post(
    channel: Channel,
    text: Annotated[str | None, typer.Argument(help="The text (a photo's caption).")] = None,
    photo: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="Upload and post it."),
    ] = None,
    poll: Annotated[str | None, typer.Option(help="A poll's question.")] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="A poll option (2-12).")
    ] = None,
    multiple: Annotated[bool, typer.Option(help="Voters may pick several options.")] = False,
    at: Annotated[
        str | None, typer.Option(help="Schedule: +15m, +2h, +1d or ISO 8601 (1 min-30 d ahead).")
    ] = None,
    alert: Annotated[bool, typer.Option(help="Priority alert (operator-granted).")] = False,
    silent: Annotated[bool, typer.Option(help="Push it to nobody.")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Retrying with the same key publishes once.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Publish (or with --at, schedule) a text, photo or poll post."""
    when = check(lambda: parse_at(at)) if at is not None else None

    def build(media_id: str | None = None) -> dict[str, Any]:
        return post_body(
            text,
            photo_media_id=media_id,
            has_photo=photo is not None,
            poll=poll,
            options=option,
            multiple=multiple,
            at=when,
            alert=alert,
            silent=silent,
        )

    check(build)  # refuse a wrong command line before uploading anything

    def action(api: Api) -> Any:
        channel_id = resolve_channel(api, channel)
        media_id = None
        if photo is not None:
            media_id = str(api.upload(channel_id, photo)["media_id"])
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return api.publisher(
            "POST", f"/v1/channels/{channel_id}/posts", json=build(media_id), headers=headers
        )

    run(as_json, action, lambda ans: render.done(f"{ans['status']} {ans['post_id']}"))


def insights(channel: Channel, limit: Limit = 20, as_json: Json = False) -> None:
    """Followers, their 7-day change, and per recent post views, reactions and votes."""

    def show(numbers: dict[str, Any]) -> None:
        render.fields(numbers, ("followers", "followers_change_7d"))
        render.table(
            numbers["posts"], ("seq", "type", "views", "reactions", "poll", "post_id"), "no posts"
        )

    run(
        as_json,
        lambda api: api.publisher(
            "GET", f"/v1/channels/{resolve_channel(api, channel)}/insights", params={"limit": limit}
        ),
        show,
    )


def deletion_report(
    channel: Channel,
    day: Annotated[str | None, typer.Option(help="A UTC day, YYYY-MM-DD: what expired.")] = None,
    post_id: Annotated[
        str | None, typer.Option("--post", help="A post deleted for everyone.")
    ] = None,
    as_json: Json = False,
) -> None:
    """What Herald destroyed of a deleted post or an expired day (the channel's owner)."""
    if (day is None) == (post_id is None):
        fail(USAGE, "give exactly one of --day and --post")
    run(
        as_json,
        lambda api: api.publisher(
            "GET",
            f"/v1/channels/{resolve_channel(api, channel)}/deletion-report",
            params={"day": day, "post_id": post_id},
        ),
        render.fields,
    )
