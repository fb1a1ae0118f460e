"""Requests to the publisher and feed APIs, and the exit code each outcome means.

Exit codes scripts can rely on:
  0  the API did it (2xx)
  1  the API refused it (4xx): its problem `detail` is printed
  2  the command line was wrong (usage), or no token was given
  3  the API failed (5xx) or could not be reached
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from cli.config import Config

OK, REFUSED, USAGE, UNAVAILABLE = 0, 1, 2, 3

# Long enough for a publish, which answers only after the broker acknowledged it.
TIMEOUT_S = 30.0
# Large enough for the biggest upload the publisher accepts (64 MiB video) on a slow link.
UPLOAD_TIMEOUT_S = 300.0


class ApiError(Exception):
    """The request did not succeed; `exit_code` says how, `detail` what the API said."""

    def __init__(
        self, exit_code: int, detail: str, status: int | None = None, problem: Any = None
    ) -> None:
        super().__init__(detail)
        self.exit_code = exit_code
        self.detail = detail
        self.status = status
        self.problem = problem


def _problem_detail(response: httpx.Response) -> tuple[str, Any]:
    """The problem's `detail` (else its title, else the status line) and the parsed body."""
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code} {response.reason_phrase}", None
    if isinstance(problem, dict):
        detail = problem.get("detail") or problem.get("title")
        if isinstance(detail, str) and detail:
            return detail, problem
    return f"HTTP {response.status_code} {response.reason_phrase}", problem


class Api:
    """A client of both APIs with the caller's token; use as a context manager."""

    def __init__(self, config: Config, transport: httpx.BaseTransport | None = None) -> None:
        if not config.token:
            raise ApiError(USAGE, "no token: run `herald login --token …` or set HERALD_TOKEN")
        self.config = config
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {config.token}"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def publisher(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, self.config.publisher_url, path, **kwargs)

    def feed(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, self.config.feed_url, path, **kwargs)

    def upload(self, channel_id: str, file: Path) -> Any:
        """`POST /v1/channels/{id}/media` with `file` as the form's `file` field."""
        with file.open("rb") as handle:
            return self.publisher(
                "POST",
                f"/v1/channels/{channel_id}/media",
                files={"file": (file.name, handle)},
                timeout=UPLOAD_TIMEOUT_S,
            )

    def _request(self, method: str, base: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON (None for an empty body), or `ApiError`."""
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            response = self._http.request(method, base + path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(UNAVAILABLE, f"cannot reach {base}: {exc}") from None
        if response.is_success:
            return response.json() if response.content else None
        detail, problem = _problem_detail(response)
        code = REFUSED if response.status_code < 500 else UNAVAILABLE
        raise ApiError(code, detail, response.status_code, problem)
