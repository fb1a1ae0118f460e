"""The server side of turning notifications on, without a browser: the page carries the
feed's VAPID key for the script; the subscription a browser posts is registered through
the feed API and then listed (by origin only); a refusal comes back as a readable message;
no CSRF token, no subscription; a device is removed from the list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.web.conftest import start_web
from tests.support.processes import ServiceProcess
from tests.support.push_receiver import PushReceiver
from tests.support.stack import StackSlice

SUBSCRIBE = "/settings/notifications/subscribe"


@pytest.fixture
async def push_feed(spawn_service: Callable[..., ServiceProcess]) -> ServiceProcess:
    """A feed that accepts the receiver's loopback endpoints."""
    return await spawn_service("feed", HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS="true").start()


@pytest.fixture
async def settings_web(
    stack: StackSlice, service_logs: Path, push_feed: ServiceProcess
) -> AsyncIterator[ServiceProcess]:
    process = await start_web(
        stack, service_logs, publisher_url="http://127.0.0.1:9", feed_url=push_feed.base_url
    )
    yield process
    process.stop()


@pytest.fixture
async def browser(settings_web: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in browser (dev login through the form) that sends its CSRF header."""
    async with httpx.AsyncClient(base_url=settings_web.base_url, timeout=30) as http:
        await http.get("/login")
        token = http.cookies["herald_csrf"]
        response = await http.post("/login", data={"account": "nurse-amina", "csrf_token": token})
        assert response.status_code == 303, response.text
        http.headers["X-CSRF-Token"] = token
        yield http


async def test_a_browsers_subscription_is_registered_listed_and_removed(
    browser: httpx.AsyncClient, push_feed: ServiceProcess
) -> None:
    page = await browser.get("/settings/notifications")
    assert page.status_code == 200
    async with httpx.AsyncClient() as feed:
        key = (await feed.get(f"{push_feed.base_url}/v1/push/key")).json()
    assert f'data-vapid-key="{key["public_key"]}"' in page.text
    assert "No device gets notifications yet" in page.text

    async with PushReceiver(key["public_key"]) as receiver:
        subscription = receiver.new_subscription("phone")
        created = await browser.post(SUBSCRIBE, json=subscription)
        assert created.status_code == 201, created.text
        subscription_id = created.json()["subscription_id"]

        page = await browser.get("/settings/notifications")
        assert receiver.origin in page.text
        assert subscription["endpoint"] not in page.text  # the URL is a capability
        assert subscription_id in page.text

        removed = await browser.post(f"/settings/notifications/{subscription_id}/delete")
        assert removed.status_code == 303
        page = await browser.get("/settings/notifications")
        assert receiver.origin not in page.text


async def test_a_refused_subscription_says_why_and_none_is_made(
    browser: httpx.AsyncClient,
) -> None:
    bad = await browser.post(
        SUBSCRIBE,
        json={"endpoint": "https://10.0.0.1/push/x", "keys": {"p256dh": "AA", "auth": "AA"}},
    )
    assert 400 <= bad.status_code < 500
    assert bad.json()["message"]
    assert "Traceback" not in bad.text
    not_json = await browser.post(
        SUBSCRIBE, content=b"nonsense", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    forged = await browser.post(SUBSCRIBE, json={}, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    page = await browser.get("/settings/notifications")
    assert "No device gets notifications yet" in page.text
