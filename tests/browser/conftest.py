"""Browser tests: the real services (publisher, feed, fan-out, web) of this session's
stack slice, driven through Debian's Chromium with Playwright's async API.

Fixtures:
- `web`: the web process (dev login), pointed at the session's publisher and feed; the
  feed lists web's origin in `HERALD_CORS_ORIGINS` (pages open its stream directly).
- `phone_page` (360 x 740) and `desktop_page` (1280 x 800): a page in a fresh browser
  profile, closed after the test; `open_page(width, height)` makes more.
- `login(page, account)`: a dev login through the form.
When a test fails, every page it opened is screenshotted to `tests/browser/artifacts/`.

Chromium is the system's (`/usr/bin/chromium`, installed by deploy/local/bootstrap.sh);
Playwright brings its driver only, never a browser of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support.processes import ServiceProcess, free_port
from tests.support.stack import StackSlice

BROWSER_DIR = Path(__file__).parent
ARTIFACTS = BROWSER_DIR / "artifacts"
CHROMIUM = os.environ.get("HERALD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = (360, 740)
DESKTOP = (1280, 800)
# Playwright's waits (locators, navigations): generous for a shared 2-core machine, and
# only ever reached when something is wrong.
TIMEOUT_MS = 15_000

OpenPage = Callable[[int, int], Awaitable[Page]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # They need the local stack like the integration tests, so `-m "not integration"`
    # (make test-fast) leaves them out too.
    for item in items:
        if BROWSER_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Read by `open_page`'s teardown: screenshots only for a failed test.
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def web_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def web_origin(web_port: int) -> str:
    return f"http://127.0.0.1:{web_port}"


# The feed of the browser tests: as the session's, plus web's origin for CORS.
@pytest.fixture(scope="session")
async def feed(
    stack: StackSlice, service_logs: Path, web_origin: str
) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess("feed", stack.env(HERALD_CORS_ORIGINS=web_origin), service_logs)
    await process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
async def web(
    stack: StackSlice,
    service_logs: Path,
    web_port: int,
    web_origin: str,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
) -> AsyncIterator[ServiceProcess]:
    env = stack.env(
        HERALD_WEB_AUTH="dev",
        HERALD_WEB_PUBLISHER_URL=publisher.base_url,
        HERALD_WEB_FEED_URL=feed.base_url,
        HERALD_WEB_PUBLIC_URL=web_origin,
    )
    process = ServiceProcess("web", env, service_logs, port=web_port)
    await process.start()
    yield process
    process.stop()


@pytest.fixture
async def open_page(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpenPage]:
    """Pages in fresh Chromium profiles (no cookies, no service worker from another
    test); all closed at the end, screenshotted first if the test failed."""
    contexts: list[BrowserContext] = []
    async with async_playwright() as playwright:

        async def open_(width: int, height: int) -> Page:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": width, "height": height},
                locale="en-GB",
            )
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            return context.pages[0] if context.pages else await context.new_page()

        yield open_
        failed = request.node.stash.get(_FAILED, False)
        for n, context in enumerate(contexts):
            if failed:
                await _screenshot(context, request.node.name, n)
            await context.close()


async def _screenshot(context: BrowserContext, test_name: str, n: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    for m, page in enumerate(context.pages):
        if page.is_closed():
            continue
        width = (page.viewport_size or {"width": 0})["width"]
        try:
            await page.screenshot(path=ARTIFACTS / f"{safe}-{n}{m}-{width}px.png", full_page=True)
        except Exception:  # noqa: S112 - a page that cannot be captured must not hide the failure
            continue


@pytest.fixture
async def phone_page(open_page: OpenPage) -> Page:
    return await open_page(*PHONE)


@pytest.fixture
async def desktop_page(open_page: OpenPage) -> Page:
    return await open_page(*DESKTOP)


Login = Callable[[Page, str], Awaitable[None]]


@pytest.fixture
def login(web: ServiceProcess) -> Login:
    """Log a page in through the dev form as `account`; returns once the page shows it."""

    async def login_(page: Page, account: str) -> None:
        await page.goto(f"{web.base_url}/login")
        await page.get_by_label("Account name").fill(account)
        await page.get_by_role("button", name="Log in").click()
        await page.locator(".account-name", has_text=account).wait_for()

    return login_
