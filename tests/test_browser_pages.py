"""Every page in Chromium, offline: no console error, no script error, no request that fails or
leaves this server (issue 15) — the API reference included (vendored Swagger UI, no CDN)."""

from __future__ import annotations

from playwright.async_api import expect

from livefeed.actions.sessions import signin_url

from .conftest import send
from .support.browser import open_signin_link

PAGES = ["/app", "/app/people", "/app/templates", "/app/tasks", "/app/settings", "/app/outbox", "/app/admin/users", "/live"]


async def test_no_page_logs_an_error_or_reaches_off_this_server(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, subject="Pricing")
    context = await browser.new_context()
    problems: list[str] = []

    async def offline(route):  # no internet here: anything off this server is a defect
        problems.append(f"left the server: {route.request.url}")
        await route.abort()

    await context.route(lambda url: not url.startswith(server.url), offline)
    page = await context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({page.url})") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"script error: {e} ({page.url})"))
    # (a request still in flight when the test moves to the next page is aborted by that navigation: not a failure)
    page.on(
        "requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}") if r.failure != "net::ERR_ABORTED" else None
    )
    await page.goto(server.url + "/signin")
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    for path in PAGES + [f"/app/people/{sent['recipients'][0]['person_id']}"]:
        await page.goto(server.url + path)
        await page.wait_for_load_state("networkidle") if path != "/live" else await page.wait_for_selector("#status.live")
    await page.goto(server.url + "/api/v1/docs")
    await expect(page.get_by_text("POST/api/v1/emails", exact=False).first).to_be_visible(timeout=15000)
    await context.close()
    assert problems == [], "\n".join(problems)
