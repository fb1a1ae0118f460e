"""The web app's client of the publisher and feed HTTP APIs.

Every call carries the session's bearer token. A refusal or failure raises `ApiError`,
whose `message` is what the page shows: the API's problem `detail` for a 4xx, when to
retry for a 429, a plain "unavailable" for a 5xx or an unreachable API — never a trace.
The app renders an uncaught ApiError as an error page (or fragment, for htmx).
"""

from __future__ import annotations

from typing import Any

import httpx

# Problem details longer than this are cut: a page shows a sentence, not a dump.
DETAIL_MAX = 300


class ApiError(Exception):
    """A call did not succeed. `status` is the API's (None: unreachable); `message` is
    readable; `problem` is the problem+json body when there was one."""

    def __init__(
        self,
        status: int | None,
        message: str,
        *,
        problem: dict[str, Any] | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problem = problem or {}
        self.retry_after_s = retry_after_s

    @property
    def page_status(self) -> int:
        """The status the page answers with: the API's 4xx as it is; 502 for anything the
        APIs failed at (a 5xx, or no answer)."""
        if self.status is not None and 400 <= self.status < 500:
            return self.status
        return 503 if self.status == 503 else 502


def error_from(response: httpx.Response) -> ApiError:
    """The readable ApiError of a non-2xx answer."""
    problem: dict[str, Any] | None = None
    try:
        body = response.json()
        problem = body if isinstance(body, dict) else None
    except ValueError:
        problem = None
    status = response.status_code
    retry_after = _retry_after(response.headers.get("retry-after"))
    if status == 429:
        wait = "in a moment"
        if retry_after:
            wait = f"in {retry_after} second{'s' if retry_after != 1 else ''}"
        return ApiError(
            status,
            f"Too many requests: try again {wait}.",
            problem=problem,
            retry_after_s=retry_after,
        )
    if status >= 500:
        return ApiError(
            status,
            "The service is unavailable right now; try again in a moment.",
            problem=problem,
            retry_after_s=retry_after,
        )
    detail = (problem or {}).get("detail") or (problem or {}).get("title")
    if not isinstance(detail, str) or not detail:
        detail = _GENERIC.get(status, f"The request was refused ({status}).")
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return ApiError(status, detail, problem=problem)


_GENERIC = {
    401: "Your session has ended; log in again.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    409: "That conflicts with the current state; reload and try again.",
}


def _retry_after(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class ApiClient:
    """Both APIs over one pooled httpx client; `close` at shutdown."""

    def __init__(
        self,
        publisher_url: str,
        feed_url: str,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.publisher_url = publisher_url
        self.feed_url = feed_url
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def publisher(self, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
        """The publisher's JSON answer (None when empty), or ApiError."""
        return await self.call(method, self.publisher_url + path, token, **kwargs)

    async def feed(self, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
        """The feed's JSON answer (None when empty), or ApiError. `token` None: anonymous."""
        return await self.call(method, self.feed_url + path, token, **kwargs)

    async def call(self, method: str, url: str, token: str | None, **kwargs: Any) -> Any:
        response = await self.request(method, url, token, **kwargs)
        return response.json() if response.content else None

    async def request(
        self, method: str, url: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        """The raw 2xx response (for media and other non-JSON bodies), or ApiError."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            response = await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError:
            raise ApiError(
                None, "The service is unavailable right now; try again in a moment."
            ) from None
        if not response.is_success:
            raise error_from(response)
        return response
