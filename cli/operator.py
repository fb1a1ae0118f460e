"""`herald operator …`: what Herald's operators decide about channels (the publisher's
`/v1/operator/…` API; anyone else gets its 404). For answers without a body (204) the
`--json` output is a small object naming what was done."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from cli import render
from cli.api import Api
from cli.channels import AUDIT_COLUMNS
from cli.common import Channel, Json, Limit, resolve_channel, run

app = typer.Typer(help="Herald operators' actions.", no_args_is_help=True)


def _operator_change(
    as_json: bool, channel: str, method: str, what: str, done: dict[str, Any], **kw: Any
) -> None:
    def action(api: Api) -> Any:
        channel_id = resolve_channel(api, channel)
        api.publisher(method, f"/v1/operator/channels/{channel_id}/{what}", **kw)
        return {"channel_id": channel_id, **done}

    def show(ans: dict[str, Any]) -> None:
        render.done(" ".join(f"{k}={render.scalar(v)}" for k, v in ans.items()))

    run(as_json, action, show)


@app.command("verify")
def operator_verify(channel: Channel, as_json: Json = False) -> None:
    """Give a channel the verified badge."""
    _operator_change(as_json, channel, "PUT", "verification", {"verified": True})


@app.command("unverify")
def operator_unverify(channel: Channel, as_json: Json = False) -> None:
    """Take a channel's verified badge away."""
    _operator_change(as_json, channel, "DELETE", "verification", {"verified": False})


@app.command("suspend")
def operator_suspend(
    channel: Channel,
    reason: Annotated[str, typer.Option(help="Shown to the channel's admins.")],
    as_json: Json = False,
) -> None:
    """Suspend a channel: every read path answers 404 until it is restored."""
    _operator_change(
        as_json,
        channel,
        "PUT",
        "suspension",
        {"status": "suspended", "reason": reason},
        json={"reason": reason},
    )


@app.command("restore")
def operator_restore(channel: Channel, as_json: Json = False) -> None:
    """Restore a suspended channel."""
    _operator_change(as_json, channel, "DELETE", "suspension", {"status": "active"})


@app.command("alerts")
def operator_alerts(
    channel: Channel,
    off: Annotated[bool, typer.Option("--off", help="Withdraw instead of grant.")] = False,
    as_json: Json = False,
) -> None:
    """Let a channel publish alerts (or withdraw it with --off)."""
    _operator_change(as_json, channel, "DELETE" if off else "PUT", "alerts", {"alerts": not off})


@app.command("reports")
def operator_reports(
    limit: Limit = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the page before.")] = None,
    as_json: Json = False,
) -> None:
    """Open reports grouped by target, the longest waiting first."""

    def show(page: dict[str, Any]) -> None:
        render.table(
            page["items"],
            ("channel_id", "post_id", "count", "reasons", "first_at", "last_at"),
            "no open reports",
        )
        if page.get("next_cursor"):
            render.done(f"more: --cursor {page['next_cursor']}")

    run(
        as_json,
        lambda api: api.publisher(
            "GET",
            "/v1/operator/reports",
            params={"status": "open", "limit": limit, "cursor": cursor},
        ),
        show,
    )


@app.command("resolve")
def operator_resolve(
    channel: Channel,
    resolution: Annotated[Literal["actioned", "dismissed"], typer.Option()],
    post_id: Annotated[str | None, typer.Option("--post", help="A reported post.")] = None,
    as_json: Json = False,
) -> None:
    """Close every open report on a channel (or one of its posts)."""

    def action(api: Api) -> Any:
        body = {
            "channel_id": resolve_channel(api, channel),
            "post_id": post_id,
            "resolution": resolution,
        }
        return api.publisher("POST", "/v1/operator/reports/resolve", json=body)

    run(as_json, action, lambda ans: render.done(f"{ans['resolution']}: {ans['count']} closed"))


@app.command("audit")
def operator_audit(
    channel: Channel,
    limit: Limit = 100,
    before: Annotated[str | None, typer.Option(help="An entry's `at`: older ones.")] = None,
    as_json: Json = False,
) -> None:
    """A channel's audit log, newest first (180 days)."""
    run(
        as_json,
        lambda api: api.publisher(
            "GET",
            "/v1/operator/audit",
            params={"channel_id": resolve_channel(api, channel), "limit": limit, "before": before},
        ),
        lambda log: render.table(log["entries"], AUDIT_COLUMNS, "no entries"),
    )


@app.command("appeals")
def operator_appeals(limit: Limit = 100, as_json: Json = False) -> None:
    """Open appeals, oldest first."""
    run(
        as_json,
        lambda api: api.publisher("GET", "/v1/operator/appeals", params={"limit": limit}),
        lambda page: render.table(
            page["appeals"],
            ("appeal_id", "channel_id", "created_at", "reason", "text"),
            "no open appeals",
        ),
    )


@app.command("decide")
def operator_decide(
    appeal_id: str,
    decision: Annotated[Literal["restore", "uphold"], typer.Option()],
    as_json: Json = False,
) -> None:
    """Decide an appeal: restore the channel, or uphold its suspension."""

    def action(api: Api) -> Any:
        api.publisher("POST", f"/v1/operator/appeals/{appeal_id}", json={"decision": decision})
        return {"appeal_id": appeal_id, "decision": decision}

    run(as_json, action, lambda ans: render.done(f"appeal {appeal_id}: {decision}"))


@app.command("deletion-report")
def operator_deletion_report(channel: Channel, as_json: Json = False) -> None:
    """Everything destroyed of a channel, added up."""
    run(
        as_json,
        lambda api: api.publisher(
            "GET",
            "/v1/operator/deletion-report",
            params={"channel_id": resolve_channel(api, channel)},
        ),
        render.fields,
    )
