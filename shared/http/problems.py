"""RFC 9457 problem responses (`application/problem+json`) for every error Herald returns.

Raise `Problem` from a handler or dependency; `install_problem_handlers` turns it, request
validation errors (422) and any other HTTP error into the same shape. A database that is
unreachable, going away or not the primary (`shared.db.failover`) and a broker that does
not acknowledge become a 503 with `Retry-After`; after a lost or demoted database server
the pools' connections are replaced, so the retry gets a fresh one. Unexpected
exceptions become a 500 whose body says nothing about internals.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.failover import UNAVAILABLE_TYPES, unavailable
from shared.db.pool import recycle_after_failover
from shared.kafka import KafkaUnavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


# What "Postgres is unreachable, going away or not the primary" looks like from asyncpg:
# refused or dropped connections, a server shutting down or still starting, too many
# connections, a read-only (demoted) server, or a pool that could not hand out a
# connection in time. `shared.db.failover` is the one list; the handler for the broad
# asyncpg classes asks it, and answers anything else as the unexpected error it is.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    *UNAVAILABLE_TYPES,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class Problem(Exception):
    """An error answered as problem+json. `type_` is a short slug documented in the README."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type_ = type_
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://herald.dev/problems/{type_}" if type_ else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echo where and why, never the offending input itself (it may be huge or personal).
    return [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": err.get("msg", "")}
        for err in exc.errors()[:20]
    ]


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"route": request.url.path[:200]})
    return problem_response(500, "an unexpected error occurred; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, type_=exc.type_, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem_response(422, detail, type_="validation", extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        if not unavailable(exc):
            # A refused statement of a handler that did not expect it: a bug, not an outage.
            return await _unexpected(request, exc)
        # The next request must not get a connection to the lost or demoted server again.
        await recycle_after_failover(exc)
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return problem_response(
            503,
            "the database is unavailable; retry shortly",
            type_="database-unavailable",
            headers={"Retry-After": "1"},
        )

    async def _broker_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("broker unavailable", extra={"error": str(exc)})
        return problem_response(
            503,
            "the message broker did not acknowledge in time; retry",
            type_="broker-unavailable",
            headers={"Retry-After": "1"},
        )

    # A dependency that is down is the caller's cue to retry, never a 500.
    for exc_type in DATABASE_DOWN:
        app.add_exception_handler(exc_type, _database_down)
    app.add_exception_handler(KafkaUnavailable, _broker_down)

    app.add_exception_handler(Exception, _unexpected)
