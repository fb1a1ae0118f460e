"""OpenID Connect login against a real provider: code + PKCE, the state bound to the
browser, the nonce bound to the login, the provider's access token forwarded to the APIs
and refreshed, and the session ending when refresh or time runs out."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx

from services.web.sessions import digest
from tests.support.processes import ServiceProcess

ACCOUNT = "oidc-alice"


async def _start_login(browser: httpx.AsyncClient) -> str:
    """GET /login; the provider's authorization URL it redirects to."""
    response = await browser.get("/login")
    assert response.status_code == 303
    url = response.headers["location"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] and query["state"] and query["nonce"]
    return url


async def _authorize(authorize_url: str, sub: str) -> str:
    """The person picks `sub` at the provider; the callback URL it sends them back to."""
    async with httpx.AsyncClient() as provider:
        response = await provider.post(authorize_url, data={"sub": sub})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def _callback(browser: httpx.AsyncClient, callback_url: str) -> httpx.Response:
    parts = urlsplit(callback_url)
    return await browser.get(f"{parts.path}?{parts.query}")


def _replace_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | values
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _log_in(browser: httpx.AsyncClient, sub: str = ACCOUNT) -> None:
    callback = await _authorize(await _start_login(browser), sub)
    response = await _callback(browser, callback)
    assert response.status_code == 303, response.text
    assert "herald_session" in browser.cookies


async def _shows_account(browser: httpx.AsyncClient, account: str) -> bool:
    page = await browser.get("/")
    return re.search(rf'class="account-name"[^>]*>{re.escape(account)}<', page.text) is not None


async def test_login_forwards_the_providers_token_to_the_apis(
    oidc_web: ServiceProcess, oidc_feed: ServiceProcess, db: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        await _log_in(browser)
        assert await _shows_account(browser, ACCOUNT)
        row = await db.fetchrow(
            "SELECT account_id, access_token, refresh_token FROM web_sessions WHERE hash = $1",
            digest(browser.cookies["herald_session"]),
        )
    assert row is not None and row["account_id"] == ACCOUNT and row["refresh_token"]
    # The token web holds is the provider's, and the feed accepts it (JWKS verification).
    async with httpx.AsyncClient(base_url=oidc_feed.base_url) as api:
        updates = await api.get(
            "/v1/updates", headers={"Authorization": f"Bearer {row['access_token']}"}
        )
    assert updates.status_code == 200, updates.text


async def test_a_callback_with_another_state_is_refused(oidc_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        callback = await _authorize(await _start_login(browser), ACCOUNT)
        forged = _replace_query(callback, state="an-attackers-state")
        response = await _callback(browser, forged)
        assert response.status_code == 400
        assert "did not start in this browser" in response.text
        assert "herald_session" not in browser.cookies


async def test_a_callback_in_another_browser_is_refused(oidc_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as victim:
        callback = await _authorize(await _start_login(victim), ACCOUNT)
    # Login CSRF: the attacker's own callback URL opened in a browser that never started
    # this login (no state cookie) logs no one in.
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as other:
        response = await _callback(other, callback)
        assert response.status_code == 400
        assert "herald_session" not in other.cookies


async def test_a_state_is_used_once(oidc_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        callback = await _authorize(await _start_login(browser), ACCOUNT)
        assert (await _callback(browser, callback)).status_code == 303
        browser.cookies.delete("herald_session")
        again = await _callback(browser, callback)
        assert again.status_code == 400
        assert "herald_session" not in browser.cookies


async def test_an_id_token_with_another_nonce_is_refused(oidc_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        authorize_url = await _start_login(browser)
        # The provider signs whatever nonce the request carries: one that is not this
        # login's (a replayed or injected authorization) must not log anyone in.
        callback = await _authorize(_replace_query(authorize_url, nonce="not-this-login"), ACCOUNT)
        response = await _callback(browser, callback)
        assert response.status_code == 400
        assert "does not belong to this login" in response.text
        assert "herald_session" not in browser.cookies


async def test_an_expiring_token_is_refreshed(oidc_web: ServiceProcess, db: asyncpg.Pool) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        await _log_in(browser, "oidc-refresh")
        key = digest(browser.cookies["herald_session"])
        before = await db.fetchval("SELECT access_token FROM web_sessions WHERE hash = $1", key)
        await db.execute("UPDATE web_sessions SET access_expires_at = now() WHERE hash = $1", key)
        assert await _shows_account(browser, "oidc-refresh")
        row = await db.fetchrow(
            "SELECT access_token, access_expires_at > now() AS fresh FROM web_sessions "
            "WHERE hash = $1",
            key,
        )
    assert row is not None and row["fresh"] and row["access_token"] != before


async def test_the_session_ends_when_refresh_fails(
    oidc_web: ServiceProcess, oidc_provider: str, db: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        await _log_in(browser, "oidc-revoked")
        key = digest(browser.cookies["herald_session"])
        async with httpx.AsyncClient() as provider:
            revoked = await provider.post(f"{oidc_provider}/users/oidc-revoked/revoke-tokens")
            assert revoked.status_code == 204
        await db.execute("UPDATE web_sessions SET access_expires_at = now() WHERE hash = $1", key)
        assert not await _shows_account(browser, "oidc-revoked")
        assert await db.fetchval("SELECT count(*) FROM web_sessions WHERE hash = $1", key) == 0


async def test_an_expired_session_is_logged_out(oidc_web: ServiceProcess, db: asyncpg.Pool) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        await _log_in(browser, "oidc-expired")
        assert await _shows_account(browser, "oidc-expired")
        await db.execute(
            "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE hash = $1",
            digest(browser.cookies["herald_session"]),
        )
        assert not await _shows_account(browser, "oidc-expired")


async def test_every_login_makes_a_new_session_id(oidc_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=oidc_web.base_url) as browser:
        await _log_in(browser, "oidc-twice")
        first = browser.cookies["herald_session"]
        await _log_in(browser, "oidc-twice")
        assert browser.cookies["herald_session"] != first
