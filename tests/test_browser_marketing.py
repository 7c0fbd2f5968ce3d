"""Purple rows in a real Chromium: a Marketo moment for someone not in LiveFeed, added with the
down-arrow; /w.js on the company's site (another origin) identifying a visitor who arrived by a
tracked click, the visit's pages in one row."""

from __future__ import annotations

import asyncio
import json

import uvicorn
from playwright.async_api import expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from livefeed.core import tokens
from livefeed.db.tables import links

from .conftest import free_port, send
from .support.browser import CHROME, open_window


async def test_a_moment_for_someone_new_is_purple_and_the_down_arrow_adds_them(browser, server, rep, clock):
    async with server.client() as client:
        secret = (await client.post("/api/v1/workspace/marketo-webhook-secret", headers=rep.headers)).json()["secret"]
        key = (await client.get("/api/v1/workspace", headers=rep.headers)).json()["site_key"]
        page, _ = await open_window(browser, server, rep, clock)
        body = {
            "type": "interesting_moment",
            "moment_type": "Milestone",
            "description": "Requested a demo",
            "owner_email": rep.email,
            "lead": {"id": 77, "email": "nina@newco.test", "firstName": "Nina", "lastName": "Novak", "phone": "+1 212 555 0199"},
        }
        answer = await client.post(f"/hooks/marketo/{key}", content=json.dumps(body), headers={"x-livefeed-secret": secret})
        assert answer.status_code == 200
        row = page.locator("#feed .row").first
        await expect(row).to_contain_text("Interesting Moment (Milestone): Requested a demo")
        assert "purple" in await row.get_attribute("class")
        await expect(row.locator(".not-in")).to_be_visible()
        await row.locator(".more").click()
        await expect(row.locator(".menu .qa-call")).to_have_attribute("href", "tel:+12125550199")
        await row.locator(".menu .add").click()
        await expect(row.locator(".not-in")).to_be_hidden()
        person = (await client.get("/api/v1/people?q=nina", headers=rep.headers)).json()["people"][0]
        detail = (await client.get(f"/api/v1/people/{person['id']}", headers=rep.headers)).json()
    assert detail["in_livefeed"] is True


def company_site():
    async def page(request):
        title = request.path_params.get("name", "home").title()
        return HTMLResponse(
            f"<!doctype html><title>{title}</title><h1>{title}</h1>"
            f'<a id="next" href="/docs">Docs</a>'
            f'<script async src="{request.app.state.livefeed}/w.js" data-site="{request.app.state.key}"></script>'
        )

    return Starlette(routes=[Route("/{name}", page)])


async def test_the_website_script_identifies_a_clicker_and_shows_the_visit(browser, server, rep, clock):
    site = company_site()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    web = uvicorn.Server(uvicorn.Config(site, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(web.serve())
    try:
        while not web.started:
            await asyncio.sleep(0.01)
        async with server.client() as client:
            settings = (await client.patch("/api/v1/workspace", json={"site_origins": [origin]}, headers=rep.headers)).json()
            site.state.livefeed, site.state.key = server.url, settings["site_key"]
            sent = await send(client, rep, to=["paul@prospect.test"], html=f'<a href="{origin}/pricing">pricing</a>')
            with server.runtime.engine.connect() as conn:
                link_id = conn.execute(
                    select(links.c.id).where(links.c.recipient_id == sent["recipients"][0]["recipient_id"])
                ).scalar()
            window, _ = await open_window(browser, server, rep, clock)
            # A person's browser (headless Chromium's own user agent says "HeadlessChrome": a bot).
            visitor = await (await browser.new_context(user_agent=CHROME)).new_page()
            await visitor.goto(f"{server.url}/c/{server.runtime.signer.sign(tokens.CLICK, link_id)}")  # the click, then the site
            await expect(visitor).to_have_title("Pricing")
            visit = window.locator("#feed .row[data-kind=visit]")
            await expect(visit).to_contain_text("visited your website: Pricing")
            assert "lf_id" not in visitor.url  # the script took it out of the address bar
            await visitor.click("#next")
            await expect(visitor).to_have_title("Docs")
            await expect(visit).to_contain_text("visited your website: Pricing · Docs")
            await expect(visit).to_have_count(1)
            await expect(visit.locator(".not-in")).to_be_hidden()
    finally:
        web.should_exit = True
        await task
