"""A real Chromium (Debian's) driven by Playwright, and the Live Feed window opened in it as a rep."""

import shutil

import pytest

from livefeed.actions.sessions import signin_url

from ..conftest import pixel_path, require


async def open_signin_link(page, link: str) -> None:
    """Follow a sign-in link as a rep does: the page, then its Sign in button (links work once)."""
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/app")


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser():
    require(shutil.which("chromium") is not None, "Chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        await browser.close()


async def open_window(browser, server, rep, clock):
    context = await browser.new_context(viewport={"width": 380, "height": 680})
    page = await context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    await page.goto(server.url + "/live")
    await page.wait_for_selector("#status.live")
    return page, dialogs


async def hit(client, server, recipient_id, ip="81.2.69.142", agent=CHROME):
    await client.get(pixel_path(server.runtime.signer, recipient_id), headers={"user-agent": agent, "x-forwarded-for": ip})
