"""What every command shares: option types, running a request with the exit-code rules of
`cli.api`, checking arguments before any request, and naming a channel by id or handle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from cli import config, render
from cli.api import USAGE, Api, ApiError
from cli.args import UsageError, channel_ref

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
Channel = Annotated[str, typer.Argument(help="Channel id, or its handle (public channels).")]
Limit = Annotated[int, typer.Option(min=1, max=100, help="Page size.")]


def fail(exit_code: int, message: str, problem: Any = None, as_json: bool = False) -> NoReturn:
    if as_json and problem is not None:
        render.emit_json(problem)
    typer.echo(f"herald: {message}", err=True)
    raise typer.Exit(exit_code)


def run(as_json: bool, action: Callable[[Api], Any], show: Callable[[Any], None]) -> None:
    """Run `action` with an API client; print its answer (JSON or `show`) or fail."""
    try:
        with Api(config.load()) as api:
            answer = action(api)
    except UsageError as exc:
        fail(USAGE, str(exc))
    except config.ConfigError as exc:
        fail(USAGE, str(exc))
    except ApiError as exc:
        status = f" (HTTP {exc.status})" if exc.status is not None else ""
        fail(exc.exit_code, f"{exc.detail}{status}", exc.problem, as_json)
    if as_json:
        render.emit_json(answer)
    else:
        show(answer)


def check(parse: Callable[[], Any]) -> Any:
    """Parse arguments before any request: a usage error exits 2 with nothing sent."""
    try:
        return parse()
    except UsageError as exc:
        fail(USAGE, str(exc))


def resolve_channel(api: Api, ref: str) -> str:
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
