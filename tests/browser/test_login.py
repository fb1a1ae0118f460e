"""Logging in and out of the web app in a real browser (dev login)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import Login
from tests.support.processes import ServiceProcess


async def test_dev_login_shows_the_account_and_logout_ends_it(
    web: ServiceProcess, phone_page: Page, login: Login
) -> None:
    page = phone_page
    await page.goto(web.base_url)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Log in")).to_be_visible()

    await login(page, "alice")
    await expect(page.locator(".account-name")).to_have_text("alice")

    await page.get_by_role("button", name="Log out").click()
    await expect(nav.get_by_role("link", name="Log in")).to_be_visible()
    await expect(page.locator(".account-name")).to_have_count(0)


async def test_login_returns_to_the_page_that_asked_for_it(
    web: ServiceProcess, desktop_page: Page
) -> None:
    page = desktop_page
    await page.goto(f"{web.base_url}/login?next=/%3Ffrom%3Dlogin")
    await page.get_by_label("Account name").fill("bob")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{web.base_url}/?from=login")
    await expect(page.locator(".account-name")).to_have_text("bob")


async def test_a_bad_account_name_is_explained_on_the_form(
    web: ServiceProcess, phone_page: Page
) -> None:
    page = phone_page
    await page.goto(f"{web.base_url}/login")
    await page.get_by_label("Account name").fill("no spaces allowed")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("1 to 64 letters")
    await expect(page.get_by_label("Account name")).to_have_attribute("aria-invalid", "true")
