"""The Gmail plug-in in a real Chromium with the unpacked extension loaded, against a fixture of
Gmail's page (tests/fixtures/gmail, served at https://mail.google.com/ by request interception):
connecting the extension to the rep's account (no password in the extension), the Track switch in
the compose window, Send taken over (LiveFeed's tracked body sent by Gmail, or LiveFeed sending as
the rep), the recipient's open raising a desktop notification with no LiveFeed tab open, the rep's
own pixel loads blocked, and LiveFeed down: the draft kept and "Send without tracking"."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from livefeed.db.tables import emails, events

from .conftest import Clock, LiveServer, free_port, make_rep, require
from .support.mail import account

EXTENSION = Path(__file__).resolve().parent.parent / "extension"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gmail"
CHROMIUM = "/usr/bin/chromium"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
PASSWORD = "correct horse battery"
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def chip(address: str, name: str) -> str:
    return (
        f'<div class="afV" data-hovercard-id="{address}" data-name="{name}" role="option" aria-selected="false">'
        f'<div class="akl">{name}</div><div class="afX" role="button" aria-label="Remove {address}"></div></div>'
    )


def gmail_page(*, to=(), cc=(), bcc=(), subject="", body="", rt="undefined", thread: str = "", attachment: str = "") -> str:
    compose = (FIXTURES / "compose.html").read_text()
    for key, value in {
        "TO_CHIPS": "".join(chip(a, a.split("@")[0].title()) for a in to),
        "CC_CHIPS": "".join(chip(a, a.split("@")[0].title()) for a in cc),
        "BCC_CHIPS": "".join(chip(a, a.split("@")[0].title()) for a in bcc),
        "SUBJECT": subject,
        "BODY": body,
        "RT": rt,
        "ATTACHMENTS": (
            f'<div class="dL" tabindex="-1" role="link" aria-label="Attachment: {attachment}">'
            f'<div class="vI">{attachment}</div><div class="vJ">(120 K)</div></div>'
            if attachment
            else ""
        ),
    }.items():
        compose = compose.replace("{{" + key + "}}", value)
    page = (FIXTURES / "inbox.html").read_text()
    return page.replace("{{THREAD}}", thread).replace("{{COMPOSE}}", compose)


class Gmail:
    """The fixture's https://mail.google.com: pages to show, and what its Send posted."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        self.sent: list[dict] = []
        self.proxied: list[str] = []

    async def install(self, context) -> None:
        async def handle(route):
            url = route.request.url
            path = url.split("mail.google.com", 1)[1].split("?", 1)[0]
            if path == "/_fixture/gmail-sim.js":
                return await route.fulfill(path=str(FIXTURES / "gmail-sim.js"), content_type="text/javascript")
            if path == "/sync/u/0/i/s":
                self.sent.append(json.loads(route.request.post_data))
                return await route.fulfill(status=200, content_type="application/json", body="{}")
            if path in self.pages:
                return await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self.pages[path])
            return await route.fulfill(status=404, body="")

        async def proxy(route):  # Gmail's image proxy (the original travels in its path; here, only counted)
            self.proxied.append(route.request.url)
            await route.fulfill(status=200, body=GIF, content_type="image/gif")

        await context.route("https://mail.google.com/**", handle)
        await context.route("https://*.googleusercontent.com/**", proxy)


@pytest.fixture
async def live(settings, tmp_path):
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    clock = Clock(datetime.now(UTC))  # the extension compares event times with the browser's clock
    async with LiveServer(settings, clock) as server:
        yield server, clock


@pytest.fixture
async def chromium(tmp_path):
    from playwright.async_api import async_playwright

    build = tmp_path / "extension"
    shutil.copytree(EXTENSION, build)
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=[f"--disable-extensions-except={build}", f"--load-extension={build}", "--no-sandbox"],
        )
        worker = context.service_workers[0] if context.service_workers else await context.wait_for_event("serviceworker")
        try:
            yield context, worker, worker.url.split("/")[2]
        finally:
            await context.close()


async def connect_extension(context, extension_id: str, server, email: str) -> None:
    """As a rep does: the server in the options, Connect, sign in on LiveFeed's page, approve."""
    from playwright.async_api import expect

    options = await context.new_page()
    await options.goto(f"chrome-extension://{extension_id}/options.html")
    await options.fill("#server", server.url)
    await options.click("#options button[type=submit]")
    await expect(options.locator("#result")).to_contain_text("Saved")
    async with context.expect_page() as opened:
        await options.click("#connect")
    tab = await opened.value
    await tab.wait_for_load_state()
    assert "/signin?next=%2Fextension%2Fconnect" in tab.url  # signed out: sign in first, then back here
    await tab.fill("input[name=email]", email)
    await tab.fill("input[name=password]", PASSWORD)
    await tab.click("button[type=submit]")
    await tab.get_by_role("button", name="Connect").click()
    await expect(tab.locator("#result")).to_contain_text(f"Connected as {email}")
    assert tab.url == f"chrome-extension://{extension_id}/connected.html"  # the code is not left in the address
    await expect(options.locator("#who")).to_contain_text(f"Connected as {email}")
    await options.close()
    await tab.close()


async def open_gmail(context, html: str, path: str = "/mail/u/0/"):
    """(the fixture's Gmail, a tab showing `html` at https://mail.google.com{path})."""
    gmail = Gmail()
    await gmail.install(context)
    gmail.pages[path] = html
    page = await context.new_page()
    await page.goto("https://mail.google.com" + path)
    return gmail, page


async def notifications(worker) -> dict:
    return await worker.evaluate("chrome.notifications.getAll()")


async def wait_for(check, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


def opens(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events).where(events.c.kind == "open")).scalar()


async def test_written_in_gmail_sent_by_gmail_with_one_tracked_body_and_the_open_alerts_with_no_livefeed_tab(
    live, chromium, engine
):
    from playwright.async_api import expect

    server, clock = live
    context, worker, extension_id = chromium
    make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    await connect_extension(context, extension_id, server, "rita@seller.test")
    gmail, page = await open_gmail(
        context,
        gmail_page(
            to=["paul@prospect.test", "zoe@prospect.test"],
            subject="Pricing for 250 seats",
            body='Hi both, <a title="a>b" href="https://seller.test/pricing">our pricing</a>.',
        ),
    )
    switch = page.get_by_role("switch", name="Track with LiveFeed")
    await expect(switch).to_have_attribute("aria-checked", "true")
    assert await page.locator("div.M9 .livefeed-track").count() == 1  # inside the compose window, beside Send

    await page.get_by_role("button", name=re.compile("^Send")).click()
    await expect(page.locator("#gmail-notice")).to_have_text("Message sent")
    assert len(gmail.sent) == 1
    sent = gmail.sent[0]
    assert sent["to"] == ["paul@prospect.test", "zoe@prospect.test"] and sent["subject"] == "Pricing for 250 seats"
    pixel = re.search(r'src="(http://127\.0\.0\.1:\d+/o/[^"]+)"', sent["html"]).group(1)
    assert re.search(r'href="http://127\.0\.0\.1:\d+/c/', sent["html"])  # the link goes through LiveFeed
    assert "https://seller.test/pricing" not in sent["html"]

    # The recipient opens it (not the rep's browser): a notification, with no LiveFeed tab open.
    assert not [p for p in context.pages if p.url.startswith(server.url)]
    async with httpx.AsyncClient() as client:
        await client.get(pixel, headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
    shown = await wait_for(lambda: notifications(worker))
    [note_id] = list(shown)
    with engine.connect() as conn:
        row = conn.execute(select(events.c.id, events.c.person_id).where(events.c.kind == "open")).one()
    assert note_id == f"livefeed-{row.id}"
    # the same open replayed (the stream resumed), even past the per-person limit, does not alert twice
    await worker.evaluate("chrome.storage.session.set({lastByPerson: {}})")
    await worker.evaluate(
        f"onHitInOrder({{id: {row.id}, kind: 'open', class: 'human', alert: true, at: new Date().toISOString(),"
        f" person: {{id: {row.person_id}, email: 'paul@prospect.test'}}, email: {{subject: 'x'}}}})"
    )
    assert list(await notifications(worker)) == [note_id] and await worker.evaluate("self.alertsShown") == 1
    # clicking it opens the Live Feed at that row (what the notification's click handler calls)
    async with context.expect_page() as opened:
        await worker.evaluate(f"openLiveFeed('#event-{row.id}')")
    window = await opened.value
    focused = window.locator("#feed .row.focused")
    await expect(focused).to_have_count(1)
    assert str(row.id) in (await focused.get_attribute("data-ids")).split()
    assert "Pricing for 250 seats" in await focused.inner_text()
    assert await focused.locator(".who").inner_text() == "paul@prospect.test (one of 2 recipients)"

    # The rep reading their sent mail fetches the pixel, straight or through Gmail's image proxy: blocked.
    before = opens(engine)
    view = await context.new_page()
    gmail.pages["/mail/u/0/sent"] = (
        f'<!doctype html><img id="a" src="{pixel}">'
        f'<img id="b" src="https://ci3.googleusercontent.com/meips/ADKq_Nb=s0-d-e1-ft#{pixel}">'
    )
    failed = []
    view.on("requestfailed", lambda request: failed.append(request.url))
    await view.goto("https://mail.google.com/mail/u/0/sent")
    await wait_for(lambda: asyncio.sleep(0, result=len(failed) >= 2))
    assert gmail.proxied == []  # the proxy was never asked
    assert opens(engine) == before


async def test_with_a_sending_account_livefeed_sends_each_copy_as_the_rep_and_the_draft_is_discarded(
    live,
    chromium,
    engine,
    mail_server,
):
    from playwright.async_api import expect

    server, clock = live
    context, worker, extension_id = chromium
    port, inbox = mail_server
    rep = make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    async with server.client() as client:  # the rep's own SMTP account, set up in LiveFeed
        assert (await client.put("/api/v1/smtp", json=account(port), headers=rep.headers)).status_code == 200
    await connect_extension(context, extension_id, server, "rita@seller.test")
    gmail, page = await open_gmail(
        context,
        gmail_page(
            to=["paul@prospect.test"],
            cc=["anna@prospect.test"],
            bcc=["boss@seller.test"],
            subject="Re: Hello",
            body="Monday works.",
            rt="#thread-f:1784000000000000001",
        ),
    )
    body = page.get_by_role("textbox", name="Message Body")
    await body.click()
    await page.keyboard.press("Control+Enter")  # the keyboard's Send is taken over too
    await expect(page.get_by_role("status").filter(has_text="tracked by LiveFeed")).to_be_visible()
    await expect(page.locator("#gmail-notice")).to_have_text("Draft discarded")
    assert gmail.sent == []  # Gmail sent nothing: LiveFeed did, one copy each
    await wait_for(lambda: asyncio.sleep(0, result=len(inbox.messages) == 3))
    assert sorted(r for _, rcpts, _ in inbox.messages for r in rcpts) == [
        "anna@prospect.test",
        "boss@seller.test",
        "paul@prospect.test",
    ]
    for _, _, message in inbox.messages:
        assert "boss@seller.test" not in str(message.get("To", "")) + str(message.get("Cc", ""))  # Bcc never shown
        assert "/o/" in message.get_body(("html",)).get_content()
    with engine.connect() as conn:  # the reply's Gmail thread, as the Gmail API names it (hex)
        assert conn.execute(select(emails.c.thread_id)).scalar() == format(1784000000000000001, "x")

    # with an attachment only Gmail can send it: LiveFeed prepares the tracked body, Gmail sends
    by_gmail, page = await open_gmail(
        context,
        gmail_page(to=["paul@prospect.test"], subject="The deck", body="Attached.", attachment="deck.pdf"),
        path="/mail/u/1/",
    )
    await page.get_by_role("button", name=re.compile("^Send")).click()
    await expect(page.locator("#gmail-notice")).to_have_text("Message sent")
    assert "/o/" in by_gmail.sent[0]["html"]
    assert len(inbox.messages) == 3  # nothing more through LiveFeed's SMTP


async def test_livefeed_down_keeps_the_draft_and_offers_send_without_tracking(live, chromium, engine):
    from playwright.async_api import expect

    server, clock = live
    context, worker, extension_id = chromium
    make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    await connect_extension(context, extension_id, server, "rita@seller.test")
    gmail, page = await open_gmail(context, gmail_page(to=["paul@prospect.test"], subject="Hello", body="Are you free Monday?"))
    await worker.evaluate(f"chrome.storage.sync.set({{server: 'http://127.0.0.1:{free_port()}'}})")  # nothing answers there
    await page.get_by_role("button", name=re.compile("^Send")).click()
    hold = page.locator("div.M9 [role=alert]")
    await expect(hold).to_contain_text("Not sent: LiveFeed cannot be reached")
    await expect(hold).to_contain_text("Your draft is kept")
    assert gmail.sent == [] and await page.locator("div.M9").count() == 1
    assert await page.get_by_role("textbox", name="Message Body").inner_html() == "Are you free Monday?"
    await hold.get_by_role("button", name="Send without tracking").click()
    await expect(page.locator("#gmail-notice")).to_have_text("Message sent")
    assert gmail.sent[0]["html"] == "Are you free Monday?"  # as written: untracked, and the rep chose it


async def test_the_track_switch_is_a_keyboard_control_and_off_lets_gmail_send_untouched(live, chromium, engine):
    from playwright.async_api import expect

    server, clock = live
    context, worker, extension_id = chromium
    make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    await connect_extension(context, extension_id, server, "rita@seller.test")
    gmail, page = await open_gmail(context, gmail_page(to=["paul@prospect.test"], subject="Personal", body="See you at lunch"))
    switch = page.get_by_role("switch", name="Track with LiveFeed")
    await switch.focus()
    await page.keyboard.press("Enter")
    await expect(switch).to_have_attribute("aria-checked", "false")
    await page.get_by_role("button", name=re.compile("^Send")).click()
    await expect(page.locator("#gmail-notice")).to_have_text("Message sent")
    assert gmail.sent[0]["html"] == "See you at lunch"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 0


THREAD = (
    '<div class="AO"><div class="nH"><h2 class="hP" data-thread-perm-id="thread-f:1784000000000000001" '
    'data-legacy-thread-id="18c2f0a1b2c3d4e5" tabindex="-1">Re: Pricing for 250 seats</h2>'
    '<div class="adn ads" data-legacy-message-id="18c2f0a1b2c3d4e5"><div class="gs"><h3 class="iw">'
    '<span class="gD" email="{sender}" name="{name}" data-hovercard-id="{sender}">{name}</span></h3>'
    '<span class="hb">to <span class="g2" email="rita@seller.test" name="me" data-hovercard-id="rita@seller.test">me</span></span>'
    '<div class="a3s aiL">Sounds good.</div></div></div></div></div>'
)


async def test_a_thread_shows_the_persons_card_and_an_unknown_one_can_be_added(live, chromium, engine):
    from playwright.async_api import expect

    server, clock = live
    context, worker, extension_id = chromium
    rep = make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    async with server.client() as client:
        sent = (
            await client.post(
                "/api/v1/emails/tracked-body",
                headers=rep.headers,
                json={"to": ["paul@prospect.test"], "subject": "Pricing for 250 seats", "html": "<p>Hi</p>"},
            )
        ).json()
        pixel = re.search(r'src="http://127\.0\.0\.1:\d+(/o/[^"]+)"', sent["html"]).group(1)
        await client.get(pixel, headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
        await client.post(
            "/api/v1/tasks",
            headers=rep.headers,
            json={
                "title": "Call Paul about seats",
                "type": "call",
                "person_id": sent["recipients"][0]["person_id"],
                "due_date": clock().date().isoformat(),
            },
        )
    await connect_extension(context, extension_id, server, "rita@seller.test")
    panel = await context.new_page()  # the side panel's page: the rep's Live Feed itself, signed in
    await panel.goto(f"chrome-extension://{extension_id}/panel.html")
    await panel.wait_for_url(server.url + "/live")
    await expect(panel.locator("#feed .row").first).to_contain_text("Pricing for 250 seats")
    await panel.close()
    gmail, page = await open_gmail(
        context,
        (FIXTURES / "inbox.html")
        .read_text()
        .replace("{{THREAD}}", THREAD.format(sender="paul@prospect.test", name="Paul Smith"))
        .replace("{{COMPOSE}}", ""),
    )
    card = page.get_by_role("region", name="LiveFeed: Paul Smith")
    await expect(card).to_contain_text("viewed “Pricing for 250 seats”")
    await expect(card).to_contain_text("Task: Call Paul about seats")
    assert await card.get_by_role("button", name="Add to LiveFeed").count() == 0

    gmail.pages["/mail/u/0/"] = (
        (FIXTURES / "inbox.html")
        .read_text()
        .replace("{{THREAD}}", THREAD.format(sender="zoe@newco.test", name="Zoe <b>Q</b>"))
        .replace("{{COMPOSE}}", "")
    )
    await page.goto("https://mail.google.com/mail/u/0/")
    card = page.locator("section.livefeed-card")
    await expect(card).to_contain_text("Not in LiveFeed yet.")
    await card.get_by_role("button", name="Add to LiveFeed").click()
    await expect(card.get_by_role("status")).to_have_text("Added to LiveFeed.")
    async with server.client() as client:
        found = (await client.get("/api/v1/people/card", params={"email": "zoe@newco.test"}, headers=rep.headers)).json()
    assert found["person"]["in_livefeed"] is True


async def test_templates_and_personal_fields_go_into_the_gmail_compose_window(live, chromium, engine):
    from playwright.async_api import expect

    server, clock = live
    context, worker, extension_id = chromium
    rep = make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    async with server.client() as client:
        made = await client.post(
            "/api/v1/templates",
            headers=rep.headers,
            json={
                "name": "Follow-up",
                "subject": "Following up, {{first_name}}",
                "html": '<p>Hi {{first_name}}, here is <a href="https://seller.test/deck">the deck</a>.</p><img src=x onerror="alert(1)">',
            },
        )
        assert made.status_code == 201
    await connect_extension(context, extension_id, server, "rita@seller.test")
    dialogs = []
    context.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    gmail, page = await open_gmail(context, gmail_page(to=["paul@prospect.test"], subject="", body=""))
    await page.get_by_role("button", name="Templates").click()
    await page.get_by_role("menuitem", name="Follow-up").click()
    body = page.get_by_role("textbox", name="Message Body")
    await expect(body).to_contain_text("Hi {{first_name}}, here is the deck.")
    assert await body.locator('a[href="https://seller.test/deck"]').count() == 1
    assert await body.locator("img").count() == 0 and dialogs == []
    assert await page.locator("input[name=subjectbox].aoT").input_value() == "Following up, {{first_name}}"
    await page.get_by_role("button", name="Templates").click()
    await page.get_by_role("menuitem", name="Company").click()
    await expect(body).to_contain_text("{{company}}")


async def test_the_stream_resumes_after_a_lost_connection_and_alerts_what_happened_meanwhile(settings, chromium, engine):
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    clock = Clock(datetime.now(UTC))
    context, worker, extension_id = chromium
    port = free_port()
    rep = make_rep(engine, clock, "rita@seller.test", password=PASSWORD)
    first = LiveServer(settings, clock, port=port)
    await first.start()
    try:
        async with first.client() as client:
            sent = (
                await client.post(
                    "/api/v1/emails/tracked-body",
                    headers=rep.headers,
                    json={"to": ["paul@prospect.test"], "subject": "Pricing", "html": "<p>Hi</p>"},
                )
            ).json()
            other = (
                await client.post(
                    "/api/v1/emails/tracked-body",
                    headers=rep.headers,
                    json={"to": ["zoe@prospect.test"], "subject": "Demo", "html": "<p>Hi</p>"},
                )
            ).json()
        await connect_extension(context, extension_id, first, "rita@seller.test")
        await wait_for(lambda: worker.evaluate("chrome.offscreen.hasDocument()"))
        async with httpx.AsyncClient() as client:
            await client.get(
                first.url + re.search(r'(/o/[^"]+)"', sent["html"]).group(1),
                headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
            )
        await wait_for(lambda: notifications(worker))
    finally:
        await first.stop()  # the network is gone: the stream ends
    second = LiveServer(settings, clock, port=port)
    await second.start()
    try:
        async with httpx.AsyncClient() as client:  # happens before the extension is back
            await client.get(
                second.url + re.search(r'(/o/[^"]+)"', other["html"]).group(1),
                headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
            )
        shown = await wait_for(lambda: _two(worker), timeout=20)
        with engine.connect() as conn:
            ids = [r.id for r in conn.execute(select(events.c.id).where(events.c.kind == "open").order_by(events.c.id))]
        assert sorted(shown) == sorted(f"livefeed-{i}" for i in ids)  # the one from while it was away too, once each
        assert await worker.evaluate("self.alertsShown") == 2
    finally:
        await second.stop()


async def _two(worker):
    found = await notifications(worker)
    return found if len(found) >= 2 else None
