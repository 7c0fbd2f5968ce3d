"""Tasks can be rescheduled (tomorrow, same time) and edited in the Live Feed window and on the
web app's Tasks page; one name for each type ("To-do"); "Next 7 days" on the page shows what is
overdue from before, as the window does; a due date never wraps (issue 15)."""

from __future__ import annotations

from playwright.async_api import expect

from livefeed.actions.sessions import signin_url

from .support.browser import open_signin_link, open_window


async def task(client, rep, **fields):
    body = {"type": "custom", "title": "Send the contract", "due_date": "2026-11-26", "due_time": "15:00", **fields}
    answer = await client.post("/api/v1/tasks", headers=rep.headers, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_the_window_snoozes_and_edits_a_task(browser, server, rep, clock):
    async with server.client() as client:
        made = await task(client, rep)
        page, _ = await open_window(browser, server, rep, clock)
        await page.click("[data-tab=tasks]")
        row = page.locator(f"#task-list li[data-id='{made['id']}']")
        await expect(row.locator(".type")).to_have_text("To-do")
        await row.get_by_role("button", name="Tomorrow").click()
        await expect(page.locator(f"#task-list li[data-id='{made['id']}']")).to_have_count(0)  # not due today any more
        moved = (await client.get(f"/api/v1/tasks/{made['id']}", headers=rep.headers)).json()
        assert (moved["due_date"], moved["due_time"]) == ("2026-11-27", "15:00")
        await page.click("button[data-due=tomorrow]")
        row = page.locator(f"#task-list li[data-id='{made['id']}']")
        await row.get_by_role("button", name="Edit").click()
        editor = page.get_by_role("form", name="Edit task")
        await editor.get_by_label("Title").fill("Send the signed contract")
        await editor.get_by_label("Due time (optional)").fill("09:30")
        await editor.get_by_role("button", name="Save").click()
        await expect(page.locator(f"#task-list li[data-id='{made['id']}'] .title")).to_have_text("Send the signed contract")
        edited = (await client.get(f"/api/v1/tasks/{made['id']}", headers=rep.headers)).json()
    assert (edited["title"], edited["due_date"], edited["due_time"]) == ("Send the signed contract", "2026-11-27", "09:30")


async def test_the_tasks_page_snoozes_edits_and_shows_earlier_overdue_ones(browser, server, rep, clock):
    async with server.client() as client:
        made = await task(client, rep)
        late = await task(client, rep, title="Call back Paul", type="call", due_date="2026-11-20", due_time=None)
    context = await browser.new_context(viewport={"width": 900, "height": 800})
    page = await context.new_page()
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    await page.goto(server.url + "/app/tasks?show=next_7_days")
    overdue = page.locator(f"tr[data-id='{late['id']}']")
    await expect(overdue).to_contain_text("Overdue")  # from before the 7 days, shown, as in the window
    row = page.locator(f"tr[data-id='{made['id']}']")
    await expect(row.locator(".badge").first).to_have_text("To-do")
    assert await row.locator("td.due").evaluate("td => getComputedStyle(td).whiteSpace") == "nowrap"
    await row.get_by_role("button", name="Tomorrow").click()
    await expect(page.locator(f"tr[data-id='{made['id']}'] td.due")).to_contain_text("2026-11-27 15:00")
    row = page.locator(f"tr[data-id='{made['id']}']")
    await row.get_by_text("Edit").click()
    await row.get_by_label("Title").fill("Send the countersigned contract")
    await row.get_by_label("Due", exact=True).fill("2026-11-30")
    await row.get_by_role("button", name="Save").click()
    await expect(page.locator(f"tr[data-id='{made['id']}']")).to_contain_text("Send the countersigned contract")
    await expect(page.locator(f"tr[data-id='{made['id']}'] td.due")).to_contain_text("2026-11-30 15:00")
    await context.close()
