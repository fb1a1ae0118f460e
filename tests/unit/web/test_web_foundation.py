"""Pure pieces of the web app's foundation: API errors as readable messages, where a
login may return to, the CSP, and the settings refused at start."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from services.web.api_client import ApiError, error_from
from services.web.auth.deps import safe_next
from services.web.config import WebSettings
from services.web.security import content_security_policy


def _response(status: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_a_refusal_shows_the_problem_detail() -> None:
    error = error_from(_response(422, {"title": "Unprocessable", "detail": "text: too long"}))
    assert error.message == "text: too long"
    assert error.page_status == 422


def test_a_429_says_when_to_retry() -> None:
    error = error_from(_response(429, {"detail": "slow down"}, **{"Retry-After": "7"}))
    assert error.message == "Too many requests: try again in 7 seconds."
    assert error.retry_after_s == 7
    assert "in a moment" in error_from(_response(429)).message


def test_a_server_failure_never_shows_its_body() -> None:
    error = error_from(_response(500, {"detail": "Traceback (most recent call last): ..."}))
    assert "Traceback" not in error.message
    assert error.page_status == 502
    assert ApiError(None, "x").page_status == 502


def test_a_refusal_without_a_problem_gets_a_plain_message() -> None:
    assert error_from(httpx.Response(404, text="<html>")).message == "Not found."
    assert "refused (418)" in error_from(httpx.Response(418)).message


def test_a_long_detail_is_cut() -> None:
    assert len(error_from(_response(400, {"detail": "x" * 5000})).message) <= 300


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/c/news", "/c/news"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("relative", "/"),
    ],
)
def test_login_returns_to_local_paths_only(path: str, expected: str) -> None:
    assert safe_next(path) == expected


def test_the_csp_allows_no_inline_script_and_names_the_feed_origin() -> None:
    csp = content_security_policy("http://feed.example:8082/base")
    assert "script-src 'self';" in csp
    assert "unsafe" not in csp
    assert "connect-src 'self' http://feed.example:8082;" in csp
    assert "frame-ancestors 'none'" in csp


def test_dev_login_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="HERALD_WEB_AUTH=dev is refused"):
        WebSettings(
            environment="production",
            jwt_secret="a-real-secret-of-at-least-32-characters",
            HERALD_WEB_AUTH="dev",
            HERALD_WEB_PUBLIC_URL="https://web.example",
        )


def test_oidc_needs_a_provider_and_production_needs_https() -> None:
    with pytest.raises(ValidationError, match="HERALD_WEB_OIDC_ISSUER"):
        WebSettings(HERALD_WEB_AUTH="oidc")
    with pytest.raises(ValidationError, match="https"):
        WebSettings(
            environment="production",
            jwt_secret="a-real-secret-of-at-least-32-characters",
            HERALD_WEB_AUTH="oidc",
            HERALD_WEB_OIDC_ISSUER="https://id.example",
            HERALD_WEB_OIDC_CLIENT_ID="herald",
            HERALD_WEB_PUBLIC_URL="http://web.example",
        )


def test_cookies_are_secure_outside_development() -> None:
    assert not WebSettings(environment="development").secure_cookies
    assert WebSettings(environment="test").secure_cookies


def test_make_run_adds_webs_origin_to_the_apis_cors_origins() -> None:
    from deploy.local.run import _wire_web

    env = {"HERALD_CORS_ORIGINS": "https://app.example.org", "HERALD_WEB_PORT": "9080"}
    _wire_web(env)
    _wire_web(env)  # idempotent: the origin is listed once
    assert env["HERALD_CORS_ORIGINS"] == "https://app.example.org,http://127.0.0.1:9080"
    assert env["HERALD_WEB_FEED_URL"] == "http://127.0.0.1:8082"
