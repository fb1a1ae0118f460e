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

from typing import Annotated

import jwt
import typer

from cli import channels, config, invites, operator, posts, render
from cli.api import USAGE
from cli.common import fail

app = typer.Typer(
    name="herald",
    help="Herald's command line for channel admins and operators. Exit codes: 0 ok, "
    "1 the API refused (4xx), 2 usage, 3 the API failed or was unreachable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(channels.app, name="channels")
app.add_typer(invites.app, name="invites")
app.add_typer(operator.app, name="operator")
app.command()(posts.post)
app.command()(posts.insights)
app.command("deletion-report")(posts.deletion_report)


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
        fail(USAGE, "the token is not a JWT")
    values = {"token": token}
    if publisher_url:
        values["publisher_url"] = publisher_url.rstrip("/")
    if feed_url:
        values["feed_url"] = feed_url.rstrip("/")
    path = config.save(values)
    render.done(f"logged in as {claims.get('sub', '?')}; saved to {path}")
