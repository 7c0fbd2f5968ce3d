"""The browser extension in a real Chromium: loaded unpacked (a test build whose content script
also matches the test's local "Gmail" page), the options page checks and stores the server URL,
and the button in the page opens the Live Feed window of that server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .conftest import free_port, require

EXTENSION = Path(__file__).resolve().parent.parent / "extension"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def test_build(tmp_path) -> Path:
    """The extension with one more content-script match: the test's local mail page."""
    build = tmp_path / "extension"
    shutil.copytree(EXTENSION, build)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["content_scripts"][0]["matches"].append("http://127.0.0.1/*")
    (build / "manifest.json").write_text(json.dumps(manifest))
    return build


async def test_options_store_a_checked_server_and_the_gmail_button_opens_the_window(server, tmp_path, test_build):
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    mail = Starlette(
        routes=[Route("/mail/u/0/", lambda request: HTMLResponse("<!doctype html><title>Inbox</title><h1>Inbox</h1>"))]
    )
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(mail, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(web.serve())
    try:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                str(tmp_path / "profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=[f"--disable-extensions-except={test_build}", f"--load-extension={test_build}"],
            )
            worker = context.service_workers[0] if context.service_workers else await context.wait_for_event("serviceworker")
            extension_id = worker.url.split("/")[2]

            options = await context.new_page()
            await options.goto(f"chrome-extension://{extension_id}/options.html")
            await options.fill("#server", f"http://127.0.0.1:{free_port()}")  # nothing answers there
            await options.click("button[type=submit]")
            await expect(options.locator("#result")).to_contain_text("Not saved")
            await options.fill("#server", server.url + "/")
            await options.click("button[type=submit]")
            await expect(options.locator("#result")).to_contain_text(f"Saved: {server.url} answers (LiveFeed 0.1.0)")
            stored = await options.evaluate("chrome.storage.sync.get('server')")
            assert stored == {"server": server.url}

            inbox = await context.new_page()
            await inbox.goto(f"http://127.0.0.1:{port}/mail/u/0/")
            button = inbox.locator("#livefeed-open")
            await expect(button).to_have_text("Live Feed")
            async with context.expect_page() as opened:
                await button.click()
            window = await opened.value
            await window.wait_for_load_state()
            # the Live Feed (the side panel, or its own window where the panel cannot open); in a new
            # profile, signing in first — and it returns to the Live Feed, not the web app
            assert window.url == server.url + "/signin?next=%2Flive"
            await context.close()
    finally:
        web.should_exit = True
        await task
