"""The Live Feed window in a real Chromium (Debian's), driven by Playwright."""

from playwright.async_api import expect
from sqlalchemy import select

from livefeed import actions
from livefeed.core.model import OPEN, Hit
from livefeed.db.tables import recipients
from livefeed.runtime import Runtime

from .conftest import LiveServer, link_paths, send
from .support.browser import CHROME, hit, open_window


async def test_row_appears_after_a_pixel_hit(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, subject="Pricing for 250 seats")
        page, _ = await open_window(browser, server, rep, clock)
        assert await page.locator("#feed .row").count() == 0
        await hit(client, server, sent["recipients"][0]["recipient_id"])
        row = page.locator("#feed .row").first
        await row.wait_for()
        text = await row.inner_text()
    assert "paul@prospect.test" in text and "Pricing for 250 seats" in text and "Willesden" in text
    assert await row.get_attribute("data-kind") == "open"
    assert "blue" in (await row.get_attribute("class"))


async def test_repeats_coalesce_and_machine_hits_are_greyed_behind_a_toggle(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep)
        recipient = sent["recipients"][0]["recipient_id"]
        page, _ = await open_window(browser, server, rep, clock)
        clock.advance(hours=1)
        for _ in range(3):
            await hit(client, server, recipient)
        await hit(client, server, recipient, ip="17.58.0.1", agent="Mozilla/5.0")  # Apple MPP
        await page.wait_for_function("document.querySelector('#machine-count').textContent === '1'")
    human = page.locator("#feed .row[data-class=human]")
    assert await human.count() == 1
    assert await human.locator(".count").inner_text() == "×3"
    machine = page.locator("#feed .row[data-class=machine]")
    assert not await machine.is_visible()
    await page.check("#show-machine")
    assert await machine.is_visible()
    assert "Apple Mail Privacy Protection" in await machine.inner_text()
    assert "Location hidden by Apple" in await machine.inner_text()


async def test_a_click_shown_as_a_person_turns_grey_when_a_burst_reveals_the_scanner(browser, server, rep, clock, engine):
    """live.js applies the `revise` frame: the row already on screen changes class and reason."""
    links = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(3))
    async with server.client() as client:
        sent = await send(client, rep, html=links)
        paths = link_paths(engine, server, sent["recipients"][0]["recipient_id"])
        page, _ = await open_window(browser, server, rep, clock)
        clock.advance(hours=1)
        scanner = {"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"}
        await client.get(paths[0], headers=scanner)
        await expect(page.locator("#feed .row").first).to_have_attribute("data-class", "human")
        first_click = (await page.locator("#feed .row").first.get_attribute("data-ids")).split()[0]
        row = page.locator(f'#feed .row[data-ids~="{first_click}"]')  # that row, however many arrive above it
        for path in paths[1:]:
            await client.get(path, headers=scanner)
        await expect(row).to_have_attribute("data-class", "scanner")
    await page.wait_for_function("document.querySelector('#machine-count').textContent !== '0'")
    await page.check("#show-machine")
    assert "within 2 s" in await row.locator(".why").inner_text()


async def test_hostile_subject_shows_as_text_and_fires_nothing(browser, server, rep, clock):
    hostile = "<img src=x onerror=alert(1)>"
    async with server.client() as client:
        sent = await send(client, rep, subject=hostile)
        page, dialogs = await open_window(browser, server, rep, clock)
        await page.check("#show-machine")  # whatever class the hostile agent gets, show it
        await hit(client, server, sent["recipients"][0]["recipient_id"], agent=f'{hostile}"><script>alert(2)</script>')
        row = page.locator("#feed .row").first
        await row.wait_for()
        assert hostile in await row.locator(".what").inner_text()
        assert await page.locator("#feed script").count() == 0
        assert await page.locator("#feed img").count() == 0
    assert dialogs == []


async def test_a_mail_connection_that_needs_reconnecting_is_one_notice_row_with_a_way_to_act(browser, server, rep, clock):
    from livefeed.actions import connections

    rt = server.runtime
    with rt.engine.connect() as conn:
        user = dict(actions.find_user(conn, rep.email))
    connections.connect_mail(
        rt.engine,
        connections.connection_vault(rt.settings.secret_key),
        user=user,
        provider="microsoft",
        address=rep.email,
        refresh_token="r-1",
        token_endpoint="https://login.example/token",
        now=clock(),
    )
    page, dialogs = await open_window(browser, server, rep, clock)
    for _ in range(2):  # found gone twice (a send and a poll): one row
        await rt.recorder.write_events(
            lambda conn: connections.lose_connection(
                conn, user_id=rep.id, error="revoked", settings_url=server.url + "/settings#mail-connection", now=clock()
            )
        )
    row = page.locator("#feed .row[data-kind=notice]")
    await row.wait_for()
    assert await row.count() == 1
    assert await row.locator(".who").inner_text() == "Your Microsoft 365 mail needs connecting again"
    assert rep.email in await row.locator(".what").inner_text()
    assert not await row.locator(".mk-task").is_visible() and not await row.locator(".more").is_visible()
    link = row.get_by_role("link", name="Open Settings →")
    assert await link.get_attribute("href") == server.url + "/settings#mail-connection"
    assert dialogs == []


async def test_which_rows_alert_is_the_reps_setting_kept_by_the_server(browser, server, rep, clock):
    page, _ = await open_window(browser, server, rep, clock)
    await page.click("#notify-toggle")
    async with page.expect_response(lambda r: r.url.endswith("/api/v1/me/alerts") and r.request.method == "PUT") as saved:
        await page.uncheck("#notify-panel input[name=kind-open]")
    assert (await saved.value).ok
    async with server.client() as client:
        shared = (await client.get("/api/v1/me/alerts", headers=rep.headers)).json()
    assert shared["kinds"] == {"open": False, "click": True, "reply": True, "marketing": True}
    # another browser (the extension, a new tab elsewhere) starts from the rep's setting, not its own
    clock.advance(seconds=1)  # a new sign-in link (each works once)
    other, _ = await open_window(browser, server, rep, clock)
    await other.click("#notify-toggle")
    await other.wait_for_function("!document.querySelector('#notify-panel input[name=kind-open]').checked")


async def test_window_reconnects_after_restart_and_shows_missed_rows(browser, settings, clock, rep):
    async with LiveServer(settings, clock) as server:
        async with server.client() as client:
            sent = await send(client, rep)
            recipient = sent["recipients"][0]["recipient_id"]
            page, _ = await open_window(browser, server, rep, clock)
            await hit(client, server, recipient)
            await page.locator("#feed .row").first.wait_for()
    await page.wait_for_selector("#status.reconnecting")
    # While the window is disconnected, another process records two opens from elsewhere.
    other = await Runtime.start(server.settings, clock=clock)
    clock.advance(hours=1)
    await other.recorder.record_open(Hit(kind=OPEN, target_id=recipient, at=clock(), ip="89.160.20.112", user_agent=CHROME))
    clock.advance(hours=1)
    await other.recorder.record_open(Hit(kind=OPEN, target_id=recipient, at=clock(), ip="24.24.24.24", user_agent=CHROME))
    await other.stop()
    async with LiveServer(settings, clock, port=server.port):  # the same address, restarted
        await page.wait_for_selector("#status.live", timeout=15000)
        await page.wait_for_function("document.querySelectorAll('#feed .row').length === 3", timeout=15000)
        text = await page.locator("#feed").inner_text()
        ids = await page.eval_on_selector_all("#feed .row", "rows => rows.map(r => r.dataset.ids)")
    assert "Stockholm" in text and "Syracuse" in text
    assert sorted(int(i) for i in " ".join(ids).split()) == [1, 2, 3]  # each event once


async def test_compose_send_open_in_the_outbox_then_archive_stops_tracking(browser, server, rep, clock):
    """The whole loop in a browser: write and send in the web app, open the copy in the outbox (the
    rep's own open: a greyed row), the prospect opens it (a blue row in the window), the rep
    archives the email, and the prospect's next open adds nothing."""
    window, dialogs = await open_window(browser, server, rep, clock)
    app = await window.context.new_page()
    await app.goto(server.url + "/app")
    await app.fill("form.compose [name=to]", "paul@prospect.test")
    await app.fill("form.compose [name=subject]", "Pricing for 250 seats")
    await app.locator("#message-editor").fill("Hi Paul, the numbers: https://example.com/pricing")
    await app.click("form.compose [type=submit]")
    await expect(app.locator("p.notice")).to_contain_text("Sent.")

    await app.goto(server.url + "/app/outbox")
    await app.locator("a[href^='/app/outbox/']").first.click()
    await expect(app.frame_locator("iframe.mail").locator("body")).to_contain_text("Hi Paul, the numbers")
    own = window.locator("#feed .row[data-class=self]")
    await expect(window.locator("#machine-count")).to_have_text("1")  # the rep's own open: greyed, not alerted
    await window.check("#show-machine")
    await expect(own).to_contain_text("Pricing for 250 seats")

    async with server.client() as client:
        with server.runtime.engine.connect() as conn:
            recipient_id = conn.execute(select(recipients.c.id)).scalar_one()
        await hit(client, server, recipient_id)  # Paul opens it on his desktop
        human = window.locator("#feed .row[data-class=human]")
        await expect(human).to_contain_text("paul@prospect.test")
        await expect(human.locator(".count")).to_be_hidden()

        await app.goto(server.url + "/app")
        await app.locator(".sent-table button", has_text="Archive").click()
        await expect(app.locator(".sent-table button", has_text="Unarchive")).to_be_visible()
        clock.advance(hours=1)
        await hit(client, server, recipient_id)  # after archiving: the pixel answers, nothing is recorded
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert [e["class"] for e in feed] == ["human", "self"]
    assert await human.locator(".count").is_hidden() and dialogs == []
