"""`herald invites create|list|revoke`: invites to a channel (its admins)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli import render
from cli.api import Api
from cli.args import parse_duration_s
from cli.common import Channel, Json, Limit, check, resolve_channel, run

app = typer.Typer(help="Invites to a channel (its admins).", no_args_is_help=True)

INVITE_COLUMNS = ("invite_id", "uses", "max_uses", "expires_at", "revoked")


@app.command("create")
def invites_create(
    channel: Channel,
    expires_in: Annotated[
        str | None, typer.Option(help="e.g. 3600, 12h, 7d (60 s to 30 days; API default 7d).")
    ] = None,
    max_uses: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: Json = False,
) -> None:
    """Create an invite; its code is shown this once."""
    body: dict[str, Any] = {}
    if expires_in is not None:
        body["expires_in_s"] = check(lambda: parse_duration_s(expires_in))
    if max_uses is not None:
        body["max_uses"] = max_uses

    def show(invite: dict[str, Any]) -> None:
        render.fields(invite, ("code", "invite_id", "expires_at", "max_uses"))
        render.done("the code is shown this once: Herald keeps only its hash")

    run(
        as_json,
        lambda api: api.publisher(
            "POST", f"/v1/channels/{resolve_channel(api, channel)}/invites", json=body
        ),
        show,
    )


@app.command("list")
def invites_list(
    channel: Channel,
    limit: Limit = 20,
    before: Annotated[str | None, typer.Option(help="next_before of the page before.")] = None,
    as_json: Json = False,
) -> None:
    """The channel's invites, newest first, without codes."""

    def show(page: dict[str, Any]) -> None:
        render.table(page["items"], INVITE_COLUMNS, "no invites")
        if page.get("next_before"):
            render.done(f"more: --before {page['next_before']}")

    run(
        as_json,
        lambda api: api.publisher(
            "GET",
            f"/v1/channels/{resolve_channel(api, channel)}/invites",
            params={"limit": limit, "before": before},
        ),
        show,
    )


@app.command("revoke")
def invites_revoke(channel: Channel, invite_id: str, as_json: Json = False) -> None:
    """Revoke an invite: its code admits nobody from now on."""

    def action(api: Api) -> Any:
        channel_id = resolve_channel(api, channel)
        api.publisher("DELETE", f"/v1/channels/{channel_id}/invites/{invite_id}")
        return {"channel_id": channel_id, "invite_id": invite_id, "revoked": True}

    run(as_json, action, lambda ans: render.done(f"revoked invite {ans['invite_id']}"))
