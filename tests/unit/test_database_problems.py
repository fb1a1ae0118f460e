"""An HTTP service answers a failover's errors with a 503 problem and `Retry-After`, and
any other database error as the unexpected 500 it is (never a "retry" that cannot help)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.http.problems import install_problem_handlers
from tests.unit.fanout.test_failover_policy import FAILOVER_ERRORS, server_error


def app_raising(exc: BaseException) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


async def get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://feed.test") as http:
        return await http.get("/boom")


@pytest.mark.parametrize("exc", FAILOVER_ERRORS, ids=lambda e: type(e).__name__)
async def test_failover_errors_answer_503_with_retry_after(exc: BaseException) -> None:
    response = await get(app_raising(exc))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/database-unavailable")


@pytest.mark.parametrize(
    "exc",
    [
        server_error("23505", "duplicate key value violates unique constraint"),
        asyncpg.DataError("invalid input for query argument $1"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_other_database_errors_are_a_500_without_internals(exc: BaseException) -> None:
    response = await get(app_raising(exc))
    assert response.status_code == 500
    assert "retry-after" not in response.headers
    assert "constraint" not in response.text and "argument" not in response.text
