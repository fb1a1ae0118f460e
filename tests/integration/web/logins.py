"""A logged-in browser for web tests over HTTP (no real browser)."""

from __future__ import annotations

import httpx

from tests.support.processes import ServiceProcess


async def logged_in(web: ServiceProcess, account: str) -> httpx.AsyncClient:
    """An httpx client logged in to `web` through the dev form, sending its CSRF header.
    Needs a web in development mode (its cookies carry no `Secure`). Close it after."""
    http = httpx.AsyncClient(base_url=web.base_url, timeout=30)
    await http.get("/login")
    token = http.cookies["herald_csrf"]
    response = await http.post("/login", data={"account": account, "csrf_token": token})
    assert response.status_code == 303, response.text
    http.headers["X-CSRF-Token"] = token
    return http
