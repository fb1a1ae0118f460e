"""ASGI middleware shared by the HTTP services: request ids, metrics, body-size limits.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses such as SSE pass through
untouched and cost nothing per chunk.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import problem_response
from shared.logs import request_id_var
from shared.metrics.common import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_MAX = 64


class RequestContextMiddleware:
    """Sets the request id (from `X-Request-ID` or new), echoes it, and records metrics
    labelled by route template, never by raw path."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = (
            incoming
            if 0 < len(incoming) <= REQUEST_ID_MAX and incoming.isprintable()
            else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
                route = _route_template(scope)
                HTTP_REQUEST_SECONDS.labels(self.service, scope["method"], route).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_REQUESTS.labels(
                self.service, scope["method"], _route_template(scope), f"{status // 100}xx"
            ).inc()
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class BodyLimitMiddleware:
    """Refuses request bodies over a limit with 413, before the handler reads them.

    `limit_for(scope)` gives the limit of each request (uploads allow more than JSON).
    Declared lengths are checked up front; chunked bodies are counted as they stream.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await problem_response(
                413, f"request body exceeds {limit} bytes", type_="body-too-large"
            )(scope, receive, send)
            return
        received = 0
        response_started = False
        rejected = False

        async def reject() -> None:
            nonlocal rejected
            if not response_started and not rejected:
                rejected = True
                await problem_response(
                    413, f"request body exceeds {limit} bytes", type_="body-too-large"
                )(scope, receive, send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer 413 now: a framework that reads the body (FastAPI) turns any
                    # error raised while reading into its own 400, which is dropped below.
                    await reject()
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            await reject()


class _BodyTooLarge(Exception):
    pass
