"""The Live Feed window's Tasks and Target tabs in a real Chromium: filter, create, complete, live."""

from playwright.async_api import expect

from .conftest import send
from .support.browser import hit, open_signin_link, open_window


async def post_person(client, rep, **body):
    response = await client.post("/api/v1/people", json=body, headers=rep.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def post_task(client, rep, **body):
    response = await client.post("/api/v1/tasks", json=body, headers=rep.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_tasks_tab_filters_creates_completes_and_updates_live(browser, server, rep, clock):
    async with server.client() as client:
        paul = await post_person(
            client,
            rep,
            email="paul@prospect.test",
            first_name="Paul",
            last_name="Smith",
            phone="+44 20 7946 0958",
            company="Prospect Ltd",
        )
        await post_task(client, rep, type="call", title="Call Paul about pricing", due_date="2026-11-26", person_id=paul["id"])
        await post_task(client, rep, type="custom", title="Prepare the demo", due_date="2026-11-27")
        await post_task(client, rep, type="email", title="Chase the contract", due_date="2026-11-20", priority="high")
        page, dialogs = await open_window(browser, server, rep, clock)
        await page.click("[data-tab=tasks]")
        today = page.locator("#task-list .task")
        await today.first.wait_for()
        assert await today.count() == 1 and "Call Paul about pricing" in await today.first.inner_text()
        overdue = page.locator("#overdue-list .task")
        assert await overdue.count() == 1 and "Overdue" in await overdue.first.inner_text()
        assert await page.locator("#overdue-head").is_visible()
        # quick actions: a tel: link from the phone; LinkedIn disabled, saying why
        call = today.first.locator(".qa-call")
        assert await call.get_attribute("href") == "tel:+442079460958"
        linkedin = today.first.locator(".qa-linkedin")
        assert await linkedin.is_disabled() and await linkedin.get_attribute("title") == "No LinkedIn profile for Paul Smith"
        assert await today.first.locator(".qa-email").get_attribute("href") == "/app?to=paul%40prospect.test"

        await page.click("[data-due=tomorrow]")
        await expect(page.locator("#task-list")).to_contain_text("Prepare the demo")
        assert await page.locator("#task-list .task").count() == 1
        await page.click("[data-due=today_and_tomorrow]")
        await expect(page.locator("#task-list .task")).to_have_count(2)

        # create inline, for a person found by email
        await page.fill("#task-form [name=title]", "Send the case study")
        await page.select_option("#task-form [name=type]", "email")
        await page.fill("#task-form [name=person]", "paul@prospect.test")
        await page.click("#task-form button[type=submit]")
        await expect(page.locator("#task-list .task")).to_have_count(3)
        listed = (await client.get("/api/v1/tasks?due=today", headers=rep.headers)).json()["tasks"]
        created = next(t for t in listed if t["title"] == "Send the case study")
        assert created["type"] == "email" and created["person_id"] == paul["id"]

        # complete with one click (click, not check(): the row is gone before a state check could read it)
        await page.locator("#task-list .task", has_text="Send the case study").locator(".done").click()
        await expect(page.locator("#task-list .task")).to_have_count(2)
        done = (await client.get(f"/api/v1/tasks/{created['id']}", headers=rep.headers)).json()
        assert done["status"] == "done" and done["completed_at"]

        # live: created and completed elsewhere (the API), shown without a reload
        other = await post_task(client, rep, type="linkedin", title="Connect on LinkedIn", due_date="2026-11-26")
        await expect(page.locator("#task-list")).to_contain_text("Connect on LinkedIn")
        response = await client.patch(f"/api/v1/tasks/{other['id']}", json={"status": "done"}, headers=rep.headers)
        assert response.status_code == 200
        await expect(page.locator("#task-list")).not_to_contain_text("Connect on LinkedIn")
    assert dialogs == []


async def test_create_task_from_an_engagement_row_prefills_a_follow_up(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, subject="Pricing for 250 seats")
        page, _ = await open_window(browser, server, rep, clock)
        await hit(client, server, sent["recipients"][0]["recipient_id"])
        row = page.locator("#feed .row").first
        await row.wait_for()
        await row.hover()
        await row.locator(".mk-task").click()
        assert await page.locator("#tab-tasks").is_visible()
        assert await page.input_value("#task-form [name=type]") == "email"
        assert await page.input_value("#task-form [name=due_date]") == "2026-11-26"
        assert await page.input_value("#task-form [name=person]") == "paul@prospect.test"
        assert "Pricing for 250 seats" in await page.input_value("#task-form [name=title]")
        await page.click("#task-form button[type=submit]")
        await expect(page.locator("#task-list .task")).to_have_count(1)
        tasks = (await client.get("/api/v1/tasks?due=today", headers=rep.headers)).json()["tasks"]
    assert [(t["type"], t["person"]["email"], t["due_date"]) for t in tasks] == [("email", "paul@prospect.test", "2026-11-26")]


async def test_target_tab_ranks_and_updates_live_when_a_score_rises(browser, server, rep, clock):
    async with server.client() as client:
        for index, score in enumerate((30, 60, 90)):
            await post_person(
                client,
                rep,
                email=f"lead{index}@prospect.test",
                first_name=f"Lead{index}",
                company="Prospect Ltd",
                owner_email=rep.email,
                lead_score=score,
                linkedin_url=f"https://www.linkedin.com/in/lead{index}",
            )
        page, _ = await open_window(browser, server, rep, clock)
        await page.click("[data-tab=target]")
        rows = page.locator("#target-list .target")
        await expect(rows).to_have_count(3)
        assert [await rows.nth(i).locator(".name").inner_text() for i in range(3)] == ["Lead2", "Lead1", "Lead0"]
        assert await rows.first.locator(".qa-linkedin").get_attribute("href") == "https://www.linkedin.com/in/lead2"
        assert await rows.first.locator(".qa-call").is_disabled()
        clock.advance(hours=1)
        await post_person(client, rep, email="lead0@prospect.test", lead_score=95)
        await expect(rows.first.locator(".name")).to_have_text("Lead0")
        first = rows.first
        assert await first.locator(".score").inner_text() == "95"
        assert "Score rose from 30 to 95" in await first.locator(".reason").inner_text()
        assert int(await first.get_attribute("data-flames")) >= 1 and await first.locator(".flames .flame").count() >= 1
        # the rise is an engagement row too
        await page.click("[data-tab=engagement]")
        score_row = page.locator("#feed .row[data-kind=score]")
        await score_row.wait_for()
        assert "Score rose from 30 to 95" in await score_row.inner_text()


async def test_a_reply_shows_with_its_first_lines(browser, server, rep, clock):
    from livefeed.actions.replies import serve_smtp

    from .conftest import free_port
    from .support.mail import deliver, message

    port = free_port()
    smtp = await serve_smtp(server.runtime, "127.0.0.1", port)
    try:
        async with server.client() as client:
            sent = await send(client, rep, subject="Pricing for 250 seats")
            message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
            page, dialogs = await open_window(browser, server, rep, clock)
            await deliver(port, message("gmail_reply.eml", message_id))
            row = page.locator("#feed .row[data-kind=reply]")
            await row.wait_for()
            assert "replied to “Pricing for 250 seats”" in await row.locator(".what").inner_text()
            assert (
                await row.locator(".detail").inner_text()
                == "Hi Rita, / Thanks — this looks good. Can we do a call on Tuesday at 3pm? / Paul"
            )
            assert await row.locator("use").get_attribute("href") == "#icon-reply"
            assert not await page.locator("#feed .row[data-kind=reply] .link").is_visible()
    finally:
        smtp.close()
    assert dialogs == []


async def test_compose_suggests_people_and_previews_each_copy(browser, server, rep, clock):
    async with server.client() as client:
        await post_person(client, rep, email="paul@prospect.test", first_name="Paul", last_name="Smith", company="Prospect Ltd")
        await post_person(client, rep, email="anna@prospect.test")
        page, _ = await open_window(browser, server, rep, clock)
        await page.goto(server.url + "/app")
        await page.fill("form.compose [name=to]", "pa")
        await expect(page.locator("#people-suggestions option")).to_have_count(1)
        assert await page.locator("#people-suggestions option").get_attribute("value") == "paul@prospect.test"
        await page.fill("form.compose [name=to]", "paul@prospect.test, anna@prospect.test")
        await page.fill("form.compose [name=subject]", "For {{first_name}}")
        await page.locator("#message-editor").fill("Hi {{first_name}}, <script>alert(1)</script> See https://example.com/deck")
        await page.click("#preview-button")
        await expect(page.locator("#preview-error")).to_contain_text("anna@prospect.test has no first_name")
        await page.fill("form.compose [name=to]", "paul@prospect.test")
        await page.click("#preview-button")
        await expect(page.locator("#preview-subject")).to_have_text("For Paul")
        frame = page.frame_locator("#preview-frame")
        await expect(frame.locator("body")).to_contain_text("Hi Paul,")
        await expect(frame.locator("body")).to_contain_text("<script>alert(1)</script>")  # shown as text, never run
        listed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert listed == []  # a preview stores and sends nothing


async def test_the_editor_formats_saves_a_template_loads_it_and_sends_it(browser, server, rep, clock, engine):
    from email import message_from_string, policy

    from sqlalchemy import select

    from livefeed.db.tables import outbox

    async with server.client() as client:
        await post_person(client, rep, email="paul@prospect.test", first_name="Paul")
    from livefeed.actions.sessions import signin_url

    page = await (await browser.new_context()).new_page()
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    answers = iter(["Follow-up", "https://example.com/deck"])

    async def answer(dialog):  # the template name, then the link address
        await dialog.accept(next(answers, ""))

    page.on("dialog", answer)
    await page.goto(server.url + "/app")
    await expect(page.locator("[name=body]")).to_be_hidden()  # the editor replaces the plain box
    editor = page.locator("#message-editor")
    await page.fill("form.compose [name=subject]", "Deck for {{first_name}}")
    await editor.click()
    await page.keyboard.type("Hi ")
    await page.locator("[aria-label='Insert a personal field']").select_option("first_name")
    await page.keyboard.type(", the deck")
    await page.keyboard.press("Shift+Home")
    await page.locator(".editor-toolbar [data-command=bold]").click()
    await expect(page.locator(".editor-toolbar [data-command=bold]")).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("End")
    await page.locator("[data-action=save-template]").click()  # named "Follow-up"
    await expect(page.locator("[data-template-status]")).to_have_text("Saved as “Follow-up”.")
    await editor.fill("")
    await page.fill("form.compose [name=subject]", "")
    await page.locator("[data-template-select]").select_option(label="Follow-up")
    await expect(editor.locator("b")).to_have_text("Hi {{first_name}}, the deck")
    await expect(page.locator("form.compose [name=subject]")).to_have_value("Deck for {{first_name}}")
    await editor.click()
    await page.keyboard.press("Control+End")
    await page.keyboard.press("Enter")
    await page.keyboard.type("here")
    await page.keyboard.press("Shift+Home")
    await page.locator(".editor-toolbar [data-command=createLink]").click()  # the link address prompt
    await expect(editor.locator("a")).to_have_attribute("href", "https://example.com/deck")
    await page.fill("form.compose [name=to]", "paul@prospect.test")
    await page.click("form.compose [type=submit]")
    await expect(page.locator("p.notice")).to_contain_text("Sent.")
    with engine.connect() as conn:
        message = message_from_string(conn.execute(select(outbox.c.raw)).scalar_one(), policy=policy.default)
    html_part = message.get_body(("html",)).get_content()
    assert message["Subject"] == "Deck for Paul"
    assert "<b>Hi Paul, the deck</b>" in html_part and ">here</a>" in html_part and "/c/" in html_part
    assert "https://example.com/deck" not in html_part  # the link is tracked
