"""An accessibility pass with axe-core 4.14.1 (vendored in tests/vendor, MPL-2.0): no serious or
critical violations on the Live Feed window (each tab, with rows and the ▾ menu open) and the web
app's main pages, at a phone's width and a desktop's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import expect

from .conftest import make_rep, pixel_path, send
from .support.browser import CHROME, open_signin_link, signin_url

AXE = Path(__file__).with_name("vendor") / "axe-4.14.1.min.js"
PAGES = ["/app", "/app/people", "/app/tasks", "/app/settings", "/app/admin/users", "/app/outbox", "/app/templates"]


async def violations(page) -> list[dict]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", [320, 1200])
async def test_no_serious_violations_on_the_window_and_the_main_pages(browser, server, rep, clock, engine, width):
    make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        await client.post(
            "/api/v1/people",
            json={"email": "paul@prospect.test", "first_name": "Paul", "owner_email": rep.email, "lead_score": 30},
            headers=rep.headers,
        )
        sent = await send(client, rep, to=["paul@prospect.test"])
        await client.get(
            pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
            headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
        )
        await client.post(
            "/api/v1/tasks", json={"type": "call", "title": "Call Paul", "due_date": "2026-11-26"}, headers=rep.headers
        )
        person_id = (await client.get("/api/v1/people?q=paul", headers=rep.headers)).json()["people"][0]["id"]
        await client.post(
            "/api/v1/templates", json={"name": "Intro", "subject": "Hi", "html": "<p>x</p>", "shared": True}, headers=rep.headers
        )
    context = await browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    found = {}
    for path in PAGES + [f"/app/people/{person_id}"]:
        await page.goto(server.url + path)
        await page.wait_for_load_state("networkidle")
        found[path] = await violations(page)
        if await overflow(page) > 0:
            found[path].append({"id": "overflow", "help": f"wider than {width} px by {await overflow(page)} px"})
    await page.goto(server.url + "/live")
    await page.wait_for_selector("#feed .row")
    await page.locator("#feed .row .more").first.click()
    await page.click("#notify-toggle")
    found["/live engagement"] = await violations(page)
    if await overflow(page) > 0:
        found["/live engagement"].append({"id": "overflow", "help": f"wider than {width} px by {await overflow(page)} px"})
    for tab, shown in (("tasks", "#task-list .task"), ("target", "#target-list .target")):
        await page.click(f"[data-tab={tab}]")
        await expect(page.locator(shown).first).to_be_visible()
        found[f"/live {tab}"] = await violations(page)
    await page.goto(server.url + "/signin")
    await context.clear_cookies()
    await page.goto(server.url + "/signin")
    found["/signin"] = await violations(page)
    await context.close()
    assert {path: v for path, v in found.items() if v} == {}, json.dumps(found, indent=1)
