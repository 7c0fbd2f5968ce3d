"""What the Live Feed window shows, in Chromium (issue 15): every reply its own row with its own
text, only identical marketing moments merged (each type its own icon, and a legend), a web visit
never blank, the place seen from a real device kept when later opens come through Gmail, names
that open the person's page, and "Add to LiveFeed" that says it worked and closes its menu."""

from __future__ import annotations

from playwright.async_api import expect

from livefeed.actions.people import ensure_person
from livefeed.core.model import MARKETING, MOMENT, VISIT
from livefeed.db.eventlog import event_row

from .conftest import send
from .support.browser import hit, open_window


async def write(server, rep, rows):
    def job(conn):
        view = {"subject": None, "person_name": None, "link_url": None, "forward_state": None}  # what the live frame shows
        return None, [event_row(workspace_id=rep.workspace_id, user_id=rep.id, **{**view, **row}) for row in rows]

    await server.runtime.recorder.write_events(job)


def person(server, rep, email, clock, *, added=True):
    with server.runtime.engine.begin() as conn:
        return ensure_person(conn, rep.workspace_id, email, clock(), added=added)


async def test_replies_are_rows_of_their_own_and_only_identical_moments_merge(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, subject="Pricing")
    paul = sent["recipients"][0]
    page, _ = await open_window(browser, server, rep, clock)
    reply = dict(
        email_id=sent["id"],
        recipient_id=paul["recipient_id"],
        person_id=paul["person_id"],
        kind="reply",
        cls="human",
        reason="Reply from paul@prospect.test",
        subject="Pricing",
        person_email="paul@prospect.test",
    )
    await write(
        server, rep, [{**reply, "at": clock(), "detail": text} for text in ("First answer", "Second answer", "Third answer")]
    )
    zoe = person(server, rep, "zoe@prospect.test", clock, added=False)
    moment = dict(person_id=zoe, kind=MOMENT, cls=MARKETING, person_email="zoe@prospect.test")
    await write(
        server,
        rep,
        [
            {**moment, "at": clock(), "reason": "Interesting Moment (Web)", "detail": "Viewed pricing page"},
            {**moment, "at": clock(), "reason": "Interesting Moment (Web)", "detail": "Viewed pricing page"},
            {**moment, "at": clock(), "reason": "Interesting Moment (Milestone)", "detail": "Became an MQL"},
            {**moment, "at": clock(), "reason": "Interesting Moment (Email)", "detail": "Opened webinar invite"},
            dict(
                person_id=zoe,
                kind=VISIT,
                cls=MARKETING,
                person_email="zoe@prospect.test",
                at=clock(),
                reason="Visited your website",
                visit_id=777,
            ),
        ],
    )
    replies = page.locator("#feed .row[data-kind=reply]")
    await expect(replies).to_have_count(3)
    assert sorted(await replies.locator(".detail").all_inner_texts()) == ["First answer", "Second answer", "Third answer"]
    moments = page.locator("#feed .row[data-kind=moment]")
    await expect(moments).to_have_count(3)
    web = moments.filter(has_text="Viewed pricing page")
    assert await web.locator(".count").inner_text() == "×2"
    icons = await moments.locator(".icon use").evaluate_all("uses => uses.map(u => u.getAttribute('href'))")
    assert sorted(icons) == ["#icon-moment-email", "#icon-moment-milestone", "#icon-moment-web"]
    visit = page.locator("#feed .row[data-kind=visit]")
    await expect(visit.locator(".what")).to_have_text("visited your website: page not known")
    await page.get_by_text("Legend").click()
    for label in ("Viewed your email", "Replied", "Interesting Moment: Web", "Machine", "Scanner", "Proxy", "Probably forwarded"):
        await expect(page.locator(".legend")).to_contain_text(label)
    name = replies.first.locator(".who a")
    assert await name.get_attribute("href") == f"/app/people/{paul['person_id']}"


async def test_a_gmail_proxy_open_keeps_the_place_seen_from_a_real_device(browser, server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep, subject="Pricing")
        page, _ = await open_window(browser, server, rep, clock)
        clock.advance(hours=1)
        recipient = sent["recipients"][0]["recipient_id"]
        await hit(client, server, recipient)  # a real device in Willesden
        row = page.locator("#feed .row").first
        await expect(row.locator(".where")).to_contain_text("Willesden")
        await expect(row.locator(".where")).to_contain_text("may be the company's network or VPN")  # a work address
        clock.advance(minutes=2)
        await hit(
            client,
            server,
            recipient,
            ip="66.249.84.1",
            agent="Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        )
        await expect(row.locator(".count")).to_have_text("×2")
    where = await row.locator(".where").inner_text()
    assert "Willesden" in where and "newer opens came through Gmail" in where
    assert await row.locator(".where").evaluate("el => el.scrollWidth <= el.clientWidth")  # not cut off in the small window


async def test_adding_someone_from_marketing_says_so_and_closes_the_menu(browser, server, rep, clock):
    page, _ = await open_window(browser, server, rep, clock)
    zoe = person(server, rep, "zoe@prospect.test", clock, added=False)
    await write(
        server,
        rep,
        [
            dict(
                person_id=zoe,
                kind=MOMENT,
                cls=MARKETING,
                person_email="zoe@prospect.test",
                at=clock(),
                reason="Interesting Moment (Web)",
                detail="Viewed pricing page",
            )
        ],
    )
    row = page.locator("#feed .row").first
    await expect(row.locator(".not-in")).to_be_visible()
    await row.locator(".more").click()
    await row.get_by_role("button", name="Add zoe@prospect.test to LiveFeed").click()
    await expect(row.get_by_role("status")).to_have_text("Added to LiveFeed")
    await expect(row.locator(".menu")).to_be_hidden()
    await expect(row.locator(".not-in")).to_be_hidden()
