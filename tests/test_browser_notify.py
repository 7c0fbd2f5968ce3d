"""Alerts in the Live Feed window (real Chromium): asked on a click, only for people engaging,
one per person per 10 minutes, none during do-not-disturb, none for replays."""

from __future__ import annotations

from playwright.async_api import expect

from .conftest import send
from .support.browser import hit, open_window

# Notifications recorded instead of shown (headless Chromium has no notification centre).
RECORD = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push(options.body); }
  static get permission() { return localStorage.getItem("test.permission") || "default"; }  // per origin, as browsers keep it
  static requestPermission() { window.__asked = (window.__asked || 0) + 1; localStorage.setItem("test.permission", "granted"); return Promise.resolve("granted"); }
  close() {}
};
"""
APPLE_MPP = ("Mozilla/5.0", "17.58.0.1")


async def notes(page) -> list[str]:
    return await page.evaluate("window.__notes")


async def test_alerts_only_for_people_engaging_and_not_too_often(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test", "anna@prospect.test"], subject="Pricing for 250 seats")
        paul, anna = (r["recipient_id"] for r in sent["recipients"])
        await hit(client, server, paul)  # before the window opens: replayed, never alerted
        context_page, _ = await open_window(browser, server, rep, clock)
        page = await context_page.context.new_page()
        await context_page.close()  # alerts are shared by the origin's tabs: keep only the recording one
        await page.add_init_script(RECORD)
        await page.goto(server.url + "/live")
        await page.wait_for_selector("#status.live")
        await expect(page.locator("#feed .row")).to_have_count(1)
        assert await page.evaluate("window.__asked") is None  # not asked on load
        await page.click("#notify-toggle")
        await page.check("#notify-panel [name=browser]")
        assert await page.evaluate("window.__asked") == 1

        await hit(client, server, anna)  # a human open: one alert
        await expect(page.locator("#feed .row")).to_have_count(2)
        await hit(client, server, anna)  # the same person again within 10 minutes: the row updates, no alert
        await hit(client, server, paul, ip=APPLE_MPP[1], agent=APPLE_MPP[0])  # a machine open: never
        await expect(page.locator("#feed .row.greyed")).to_have_count(1)
        assert await notes(page) == ["anna@prospect.test opened “Pricing for 250 seats”"]

        await page.select_option("#notify-panel [name=dnd]", "30")  # do not disturb
        await hit(client, server, paul)
        await expect(page.locator("#feed .row:not(.greyed)")).to_have_count(2)
        await expect(page.locator("#notify-toggle")).to_have_text("Quiet (alerts off)")
        assert len(await notes(page)) == 1
        await page.select_option("#notify-panel [name=dnd]", "0")
        await page.uncheck("#notify-panel [name=kind-open]")  # opens switched off
        second = await send(client, rep, to=["carl@prospect.test"], subject="Intro")
        await hit(client, server, second["recipients"][0]["recipient_id"])
        await expect(page.locator("#feed .row:not(.greyed)")).to_have_count(3)
        assert len(await notes(page)) == 1
        saved = await page.evaluate("JSON.parse(localStorage.getItem('livefeed.alerts'))")
    assert saved["browser"] is True and saved["kinds"]["open"] is False


async def test_alerts_also_reach_the_web_app_once_per_person_across_tabs(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test"], subject="Pricing")
        window, _ = await open_window(browser, server, rep, clock)
        context = window.context
        await context.add_init_script(RECORD)
        live = await context.new_page()
        await window.close()  # alerts are shared by the origin's tabs: keep only the recording ones
        await live.goto(server.url + "/live")
        await live.wait_for_selector("#status.live")
        await live.click("#notify-toggle")
        await live.check("#notify-panel [name=browser]")  # switched on once, in the window
        app = await context.new_page()
        await app.goto(server.url + "/app/people")
        await app.wait_for_selector("html[data-alerts=live]", state="attached")  # the app page's stream is ready
        await hit(client, server, sent["recipients"][0]["recipient_id"])
        await expect(live.locator("#feed .row")).to_have_count(1)
        for page in (app, live):  # both tabs have weighed the row
            await page.wait_for_selector("html[data-alerts-seen='1']", state="attached")
        total = len(await notes(app)) + len(await notes(live))
    assert total == 1  # one person, one alert, whichever tab showed it
