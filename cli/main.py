"""The `herald` command (typer): channel admins and operators over the public HTTP APIs.

Every command prints for people by default and, with `--json`, the API's JSON answer
(for answers the API gives without a body — 204 — a small object naming what was done).
Exit codes are `cli.api`'s: 0 ok, 1 the API refused (4xx, its problem `detail` printed to
stderr; with `--json` the problem body also goes to stdout), 2 usage, 3 the API failed
(5xx) or was unreachable.

There is no "my channels" endpoint on the publisher, so `channels list` lists the public
directory (feed); unlisted, invite-only and suspended channels are not in it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import jwt
import typer

from cli import config, render
from cli.api import USAGE, Api, ApiError
from cli.args import UsageError, channel_ref, parse_at, parse_duration_s, post_body

app = typer.Typer(
    name="herald",
    help="Herald's command line for channel admins and operators. Exit codes: 0 ok, "
    "1 the API refused (4xx), 2 usage, 3 the API failed or was unreachable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
channels_app = typer.Typer(help="Create, list, show and edit channels.", no_args_is_help=True)
invites_app = typer.Typer(help="Invites to a channel (its admins).", no_args_is_help=True)
operator_app = typer.Typer(help="Herald operators' actions.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")
app.add_typer(invites_app, name="invites")
app.add_typer(operator_app, name="operator")

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
Channel = Annotated[str, typer.Argument(help="Channel id, or its handle (public channels).")]
Limit = Annotated[int, typer.Option(min=1, max=100, help="Page size.")]

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


def _fail(exit_code: int, message: str, problem: Any = None, as_json: bool = False) -> NoReturn:
    if as_json and problem is not None:
        render.emit_json(problem)
    typer.echo(f"herald: {message}", err=True)
    raise typer.Exit(exit_code)


def _run(as_json: bool, action: Callable[[Api], Any], show: Callable[[Any], None]) -> None:
    """Run `action` with an API client; print its answer (JSON or `show`) or fail."""
    try:
        with Api(config.load()) as api:
            answer = action(api)
    except UsageError as exc:
        _fail(USAGE, str(exc))
    except config.ConfigError as exc:
        _fail(USAGE, str(exc))
    except ApiError as exc:
        status = f" (HTTP {exc.status})" if exc.status is not None else ""
        _fail(exc.exit_code, f"{exc.detail}{status}", exc.problem, as_json)
    if as_json:
        render.emit_json(answer)
    else:
        show(answer)


def _check(parse: Callable[[], Any]) -> Any:
    """Parse arguments before any request: a usage error exits 2 with nothing sent."""
    try:
        return parse()
    except UsageError as exc:
        _fail(USAGE, str(exc))


def _channel_id(api: Api, ref: str) -> str:
    """The id of `ref`: itself when it is a UUID, else the handle's via the feed's card."""
    parsed = channel_ref(ref)
    if not isinstance(parsed, str):
        return str(parsed)
    try:
        card = api.feed("GET", f"/v1/channels/{parsed}")
    except ApiError as exc:
        if exc.status == 404:
            exc.detail = f"no public channel has the handle '{parsed}'; give its id instead"
        raise
    return str(card["channel_id"])


# ---------------------------------------------------------------------------- login


@app.command()
def login(
    token: Annotated[str, typer.Option(help="A bearer token (JWT) for your account.")],
    publisher_url: Annotated[
        str | None, typer.Option(help=f"Default {config.DEFAULT_PUBLISHER_URL}.")
    ] = None,
    feed_url: Annotated[
        str | None, typer.Option(help=f"Default {config.DEFAULT_FEED_URL}.")
    ] = None,
) -> None:
    """Store the token (and API addresses) in the config file, readable by you only."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        _fail(USAGE, "the token is not a JWT")
    values = {"token": token}
    if publisher_url:
        values["publisher_url"] = publisher_url.rstrip("/")
    if feed_url:
        values["feed_url"] = feed_url.rstrip("/")
    path = config.save(values)
    render.done(f"logged in as {claims.get('sub', '?')}; saved to {path}")


# ---------------------------------------------------------------------------- channels


def _show_channel(channel: dict[str, Any]) -> None:
    render.fields(channel, CHANNEL_FIELDS)


@channels_app.command("create")
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
    _run(as_json, lambda api: api.publisher("POST", "/v1/channels", json=body), _show_channel)


@channels_app.command("list")
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

    _run(as_json, lambda api: api.feed("GET", "/v1/directory", params=params), show)


@channels_app.command("show")
def channels_show(channel: Channel, as_json: Json = False) -> None:
    """The admin view of a channel (you must be one of its admins)."""
    _run(
        as_json,
        lambda api: api.publisher("GET", f"/v1/channels/{_channel_id(api, channel)}"),
        _show_channel,
    )


@channels_app.command("edit")
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
        _fail(USAGE, "nothing to change: give at least one option")

    def action(api: Api) -> Any:
        channel_id = _channel_id(api, channel)
        body: dict[str, Any] = dict(changes)
        if settings_changes:
            # The API replaces `settings` whole: start from the current ones.
            current = api.publisher("GET", f"/v1/channels/{channel_id}")
            body["settings"] = {**current["settings"], **settings_changes}
        return api.publisher("PATCH", f"/v1/channels/{channel_id}", json=body)

    _run(as_json, action, _show_channel)


AUDIT_COLUMNS = ("at", "actor_role", "actor_id", "action", "details")


@channels_app.command("audit")
def channels_audit(
    channel: Channel,
    limit: Limit = 100,
    before: Annotated[str | None, typer.Option(help="An entry's `at`: older ones.")] = None,
    as_json: Json = False,
) -> None:
    """The channel's audit log, newest first (its owner)."""
    _run(
        as_json,
        lambda api: api.publisher(
            "GET",
            f"/v1/channels/{_channel_id(api, channel)}/audit",
            params={"limit": limit, "before": before},
        ),
        lambda log: render.table(log["entries"], AUDIT_COLUMNS, "no entries"),
    )


@channels_app.command("appeal")
def channels_appeal(
    channel: Annotated[str, typer.Argument(help="The suspended channel's id.")],
    text: Annotated[str, typer.Option(help="Why the suspension should be lifted.")],
    as_json: Json = False,
) -> None:
    """Appeal the channel's suspension (its owner; one appeal per suspension)."""
    _run(
        as_json,
        lambda api: api.publisher(
            "POST", f"/v1/channels/{_channel_id(api, channel)}/appeal", json={"text": text}
        ),
        lambda ans: render.done(f"appeal {ans['appeal_id']} {ans['status']}"),
    )


# ---------------------------------------------------------------------------- posts


@app.command()
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
    when = _check(lambda: parse_at(at)) if at is not None else None

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

    _check(build)  # refuse a wrong command line before uploading anything

    def action(api: Api) -> Any:
        channel_id = _channel_id(api, channel)
        media_id = None
        if photo is not None:
            media_id = str(api.upload(channel_id, photo)["media_id"])
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return api.publisher(
            "POST", f"/v1/channels/{channel_id}/posts", json=build(media_id), headers=headers
        )

    _run(as_json, action, lambda ans: render.done(f"{ans['status']} {ans['post_id']}"))


# ---------------------------------------------------------------------------- invites

INVITE_COLUMNS = ("invite_id", "uses", "max_uses", "expires_at", "revoked")


@invites_app.command("create")
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
        body["expires_in_s"] = _check(lambda: parse_duration_s(expires_in))
    if max_uses is not None:
        body["max_uses"] = max_uses

    def show(invite: dict[str, Any]) -> None:
        render.fields(invite, ("code", "invite_id", "expires_at", "max_uses"))
        render.done("the code is shown this once: Herald keeps only its hash")

    _run(
        as_json,
        lambda api: api.publisher(
            "POST", f"/v1/channels/{_channel_id(api, channel)}/invites", json=body
        ),
        show,
    )


@invites_app.command("list")
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

    _run(
        as_json,
        lambda api: api.publisher(
            "GET",
            f"/v1/channels/{_channel_id(api, channel)}/invites",
            params={"limit": limit, "before": before},
        ),
        show,
    )


@invites_app.command("revoke")
def invites_revoke(channel: Channel, invite_id: str, as_json: Json = False) -> None:
    """Revoke an invite: its code admits nobody from now on."""

    def action(api: Api) -> Any:
        channel_id = _channel_id(api, channel)
        api.publisher("DELETE", f"/v1/channels/{channel_id}/invites/{invite_id}")
        return {"channel_id": channel_id, "invite_id": invite_id, "revoked": True}

    _run(as_json, action, lambda ans: render.done(f"revoked invite {ans['invite_id']}"))


# ---------------------------------------------------------------------------- insights


@app.command()
def insights(channel: Channel, limit: Limit = 20, as_json: Json = False) -> None:
    """Followers, their 7-day change, and per recent post views, reactions and votes."""

    def show(numbers: dict[str, Any]) -> None:
        render.fields(numbers, ("followers", "followers_change_7d"))
        render.table(
            numbers["posts"], ("seq", "type", "views", "reactions", "poll", "post_id"), "no posts"
        )

    _run(
        as_json,
        lambda api: api.publisher(
            "GET", f"/v1/channels/{_channel_id(api, channel)}/insights", params={"limit": limit}
        ),
        show,
    )


@app.command("deletion-report")
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
        _fail(USAGE, "give exactly one of --day and --post")
    _run(
        as_json,
        lambda api: api.publisher(
            "GET",
            f"/v1/channels/{_channel_id(api, channel)}/deletion-report",
            params={"day": day, "post_id": post_id},
        ),
        render.fields,
    )


# ---------------------------------------------------------------------------- operator


def _operator_change(
    as_json: bool, channel: str, method: str, what: str, done: dict[str, Any], **kw: Any
) -> None:
    def action(api: Api) -> Any:
        channel_id = _channel_id(api, channel)
        api.publisher(method, f"/v1/operator/channels/{channel_id}/{what}", **kw)
        return {"channel_id": channel_id, **done}

    def show(ans: dict[str, Any]) -> None:
        render.done(" ".join(f"{k}={render.scalar(v)}" for k, v in ans.items()))

    _run(as_json, action, show)


@operator_app.command("verify")
def operator_verify(channel: Channel, as_json: Json = False) -> None:
    """Give a channel the verified badge."""
    _operator_change(as_json, channel, "PUT", "verification", {"verified": True})


@operator_app.command("unverify")
def operator_unverify(channel: Channel, as_json: Json = False) -> None:
    """Take a channel's verified badge away."""
    _operator_change(as_json, channel, "DELETE", "verification", {"verified": False})


@operator_app.command("suspend")
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


@operator_app.command("restore")
def operator_restore(channel: Channel, as_json: Json = False) -> None:
    """Restore a suspended channel."""
    _operator_change(as_json, channel, "DELETE", "suspension", {"status": "active"})


@operator_app.command("alerts")
def operator_alerts(
    channel: Channel,
    off: Annotated[bool, typer.Option("--off", help="Withdraw instead of grant.")] = False,
    as_json: Json = False,
) -> None:
    """Let a channel publish alerts (or withdraw it with --off)."""
    _operator_change(as_json, channel, "DELETE" if off else "PUT", "alerts", {"alerts": not off})


@operator_app.command("reports")
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

    _run(
        as_json,
        lambda api: api.publisher(
            "GET",
            "/v1/operator/reports",
            params={"status": "open", "limit": limit, "cursor": cursor},
        ),
        show,
    )


@operator_app.command("resolve")
def operator_resolve(
    channel: Channel,
    resolution: Annotated[Literal["actioned", "dismissed"], typer.Option()],
    post_id: Annotated[str | None, typer.Option("--post", help="A reported post.")] = None,
    as_json: Json = False,
) -> None:
    """Close every open report on a channel (or one of its posts)."""

    def action(api: Api) -> Any:
        body = {
            "channel_id": _channel_id(api, channel),
            "post_id": post_id,
            "resolution": resolution,
        }
        return api.publisher("POST", "/v1/operator/reports/resolve", json=body)

    _run(as_json, action, lambda ans: render.done(f"{ans['resolution']}: {ans['count']} closed"))


@operator_app.command("audit")
def operator_audit(
    channel: Channel,
    limit: Limit = 100,
    before: Annotated[str | None, typer.Option(help="An entry's `at`: older ones.")] = None,
    as_json: Json = False,
) -> None:
    """A channel's audit log, newest first (180 days)."""
    _run(
        as_json,
        lambda api: api.publisher(
            "GET",
            "/v1/operator/audit",
            params={"channel_id": _channel_id(api, channel), "limit": limit, "before": before},
        ),
        lambda log: render.table(log["entries"], AUDIT_COLUMNS, "no entries"),
    )


@operator_app.command("appeals")
def operator_appeals(limit: Limit = 100, as_json: Json = False) -> None:
    """Open appeals, oldest first."""
    _run(
        as_json,
        lambda api: api.publisher("GET", "/v1/operator/appeals", params={"limit": limit}),
        lambda page: render.table(
            page["appeals"],
            ("appeal_id", "channel_id", "created_at", "reason", "text"),
            "no open appeals",
        ),
    )


@operator_app.command("decide")
def operator_decide(
    appeal_id: str,
    decision: Annotated[Literal["restore", "uphold"], typer.Option()],
    as_json: Json = False,
) -> None:
    """Decide an appeal: restore the channel, or uphold its suspension."""

    def action(api: Api) -> Any:
        api.publisher("POST", f"/v1/operator/appeals/{appeal_id}", json={"decision": decision})
        return {"appeal_id": appeal_id, "decision": decision}

    _run(as_json, action, lambda ans: render.done(f"appeal {appeal_id}: {decision}"))


@operator_app.command("deletion-report")
def operator_deletion_report(channel: Channel, as_json: Json = False) -> None:
    """Everything destroyed of a channel, added up."""
    _run(
        as_json,
        lambda api: api.publisher(
            "GET",
            "/v1/operator/deletion-report",
            params={"channel_id": _channel_id(api, channel)},
        ),
        render.fields,
    )
