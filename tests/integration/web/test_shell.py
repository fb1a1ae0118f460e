"""The web app's shell over HTTP: security headers, CSRF, readable errors, cached assets,
the manifest and the service worker."""

from __future__ import annotations

import re

import asyncpg
import httpx

from tests.support.processes import ServiceProcess


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


async def test_every_page_has_the_security_headers(dev_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        for path in ("/login", "/no-such-page", "/manifest.webmanifest"):
            response = await browser.get(path)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
            assert "frame-ancestors 'none'" in csp, path
            assert response.headers["x-frame-options"] == "DENY", path
            assert response.headers["x-content-type-options"] == "nosniff", path


async def test_login_without_the_csrf_token_is_refused_and_logs_no_one_in(
    dev_web: ServiceProcess, db: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        await browser.get("/login")  # the CSRF cookie, as a real visit would get
        refused = await browser.post("/login", data={"account": "csrf-victim"})
        assert refused.status_code == 403
        assert "text/html" in refused.headers["content-type"]
        assert "herald_session" not in browser.cookies
        wrong = await browser.post(
            "/login", data={"account": "csrf-victim", "csrf_token": "forged"}
        )
        assert wrong.status_code == 403
    sessions = await db.fetchval(
        "SELECT count(*) FROM web_sessions WHERE account_id = 'csrf-victim'"
    )
    assert sessions == 0


async def test_dev_login_sets_a_safe_cookie_and_returns_to_a_local_page_only(
    dev_web: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        token = _csrf(await browser.get("/login"))
        response = await browser.post(
            "/login",
            data={"account": "carol", "csrf_token": token, "next": "//evil.example/x"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = next(
            v for k, v in response.headers.multi_items() if k == "set-cookie" and "session" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie


async def test_unknown_pages_are_readable_pages(dev_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        token = _csrf(await browser.get("/login"))
        await browser.post("/login", data={"account": "dave", "csrf_token": token})
        missing = await browser.get("/no-such-page")
        assert missing.status_code == 404
        assert "text/html" in missing.headers["content-type"]
        assert "does not exist" in missing.text
        assert "Traceback" not in missing.text
        # Still the logged-in header.
        assert 'class="account-name"' in missing.text


async def test_web_serves_its_metrics_on_its_ops_port(dev_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        await browser.get("/login")
        public = await browser.get("/metrics")
        ready = await browser.get("/readyz")
        metrics = await browser.get(f"{dev_web.ops_url}/metrics")
    assert ready.status_code == 200
    assert public.status_code == 404 and "herald_" not in public.text
    assert "herald_http_requests_total{" in metrics.text
    assert 'service="web"' in metrics.text and 'route="/login"' in metrics.text


async def test_an_unreachable_api_is_a_readable_message(dev_web: ServiceProcess) -> None:
    # This web's APIs point at a closed port.
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        page = await browser.get("/directory")
    assert page.status_code == 502
    assert "unavailable right now" in page.text
    assert "Traceback" not in page.text and "ConnectError" not in page.text


async def test_assets_are_cached_by_version_and_the_worker_is_revalidated(
    dev_web: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        page = await browser.get("/login")
        css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page.text)
        assert css is not None
        asset = await browser.get(css.group(1))
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        for vendored in ("vendor/htmx.min.js", "vendor/htmx-ext-sse.min.js"):
            assert f"/static/{vendored}?v=" in page.text
        worker = await browser.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["cache-control"] == "no-cache"
        assert worker.headers["service-worker-allowed"] == "/"
        assert "javascript" in worker.headers["content-type"]


async def test_the_manifest_makes_the_app_installable(dev_web: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=dev_web.base_url) as browser:
        response = await browser.get("/manifest.webmanifest")
        assert response.headers["content-type"].startswith("application/manifest+json")
        manifest = response.json()
        assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
        sizes = {icon["sizes"] for icon in manifest["icons"]}
        assert {"192x192", "512x512"} <= sizes
        for icon in manifest["icons"]:
            assert (await browser.get(icon["src"])).status_code == 200
