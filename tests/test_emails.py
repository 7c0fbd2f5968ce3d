"""POST /api/v1/emails: tracked copies per recipient, validation, SMTP delivery and failure."""

from email import message_from_string, policy

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from livefeed.core import tokens
from livefeed.db.tables import emails, events, links, outbox, people, recipients, send_queue, users

from .conftest import LiveServer, free_port, make_rep, pixel_path, send


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """This module's tests run on both databases."""
    return request.param


def table_counts(engine) -> dict:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (emails, recipients, links, outbox, people)
        }


def outbox_messages(engine) -> list:
    with engine.connect() as conn:
        return [
            message_from_string(raw, policy=policy.default)
            for raw in conn.execute(select(outbox.c.raw).order_by(outbox.c.id)).scalars()
        ]


async def test_each_recipient_gets_its_own_tracked_copy(server, rep, engine):
    html = (
        '<p>Hi, <a href="https://example.com/deck">deck</a>, <a href="mailto:me@seller.test">mail me</a>, '
        '<a href="tel:+441234">call</a></p>'
    )
    async with server.client() as client:
        body = await send(client, rep, to=["Paul@Prospect.test", "zoe@prospect.test"], cc=["cc@prospect.test"], html=html)
    assert body["status"] == "sent" and len(body["recipients"]) == 3
    assert [r["field"] for r in body["recipients"]] == ["to", "to", "cc"]
    copies = outbox_messages(engine)
    assert len(copies) == 3
    signer = server.runtime.signer
    pixels, clicks, message_ids = set(), set(), set()
    for copy, recipient in zip(copies, body["recipients"]):
        html_part = copy.get_body(("html",)).get_content()
        text_part = copy.get_body(("plain",)).get_content()
        assert copy["To"] == "paul@prospect.test, zoe@prospect.test" and copy["Cc"] == "cc@prospect.test"
        pixel = f"/o/{signer.sign(tokens.OPEN, recipient['recipient_id'])}.gif"
        assert pixel in html_part
        assert 'href="mailto:me@seller.test"' in html_part and 'href="tel:+441234"' in html_part
        assert "https://example.com/deck" not in html_part and "/c/" in text_part
        pixels.add(pixel)
        clicks.add(html_part.split("/c/")[1].split('"')[0])
        mid = copy["Message-ID"]
        assert signer.verify(tokens.MESSAGE, mid.split("lf.")[1].split("@")[0]) == recipient["recipient_id"]
        message_ids.add(mid)
    assert len(pixels) == len(clicks) == len(message_ids) == 3


async def test_unknown_recipients_become_people_once(server, rep, engine):
    async with server.client() as client:
        first = await send(client, rep, to=["new@prospect.test"])
        second = await send(client, rep, to=["NEW@prospect.test"])
    assert first["recipients"][0]["person_id"] == second["recipients"][0]["person_id"]
    assert table_counts(engine)["people"] == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"to": ["not-an-address"]}, "to"),
        ({"cc": ["ok@x.test", "bad@"]}, "cc"),
        ({"to": []}, "to"),
        ({"subject": "Hi\r\nBcc: spy@evil.test"}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"html": None, "text": None}, "html"),
        ({"to": [f"p{n}@x.test" for n in range(101)]}, "to"),
        ({"html": "x" * (2 * 1024 * 1024 + 1)}, "html"),
        ({"to": ["a@x.test\nBcc: spy@evil.test"]}, "to"),
    ],
)
async def test_bad_email_is_422_naming_the_field_and_stores_nothing(server, rep, engine, change, field):
    body = {"to": ["paul@prospect.test"], "subject": "Hello", "html": "<p>x</p>", **change}
    before = table_counts(engine)
    async with server.client() as client:
        response = await client.post("/api/v1/emails", json=body, headers=rep.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][1] == field
    assert table_counts(engine) == before


async def test_missing_subject_is_422_naming_it(server, rep):
    async with server.client() as client:
        response = await client.post("/api/v1/emails", json={"to": ["a@x.test"], "html": "x"}, headers=rep.headers)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "subject"]


async def test_sending_requires_a_token(server):
    async with server.client() as client:
        response = await client.post("/api/v1/emails", json={"to": ["a@x.test"], "subject": "s", "html": "x"})
        forged = await client.post("/api/v1/emails", json={}, headers={"authorization": "Bearer lf_forged"})
    assert response.status_code == 401 and forged.status_code == 401


from .support.mail import Inbox  # noqa: E402 - shared with the SMTP account tests


class Refuser:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 Mailbox unavailable"


@pytest.fixture
def smtp_server():
    """An in-process aiosmtpd server; yields (url, inbox)."""
    started = []

    def start(handler):
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started.append(controller)
        return f"smtp://127.0.0.1:{controller.port}?starttls=false"

    yield start
    for controller in started:
        controller.stop()


async def test_email_is_delivered_over_smtp(settings, clock, rep, smtp_server):
    inbox = Inbox()
    async with LiveServer(settings.with_(smtp_url=smtp_server(inbox)), clock) as server:
        async with server.client() as client:
            body = await send(client, rep, to=["paul@prospect.test", "zoe@prospect.test"])
    assert body["status"] == "sent"
    assert [(m[0], m[1]) for m in inbox.messages] == [
        ("rita@seller.test", ["paul@prospect.test"]),
        ("rita@seller.test", ["zoe@prospect.test"]),
    ]
    message = inbox.messages[0][2]
    assert message["Subject"] == "Hello" and message["From"] == "Rita <rita@seller.test>"
    assert message.get_body(("plain",)) is not None and "/o/" in message.get_body(("html",)).get_content()


async def test_smtp_refusal_is_502_and_the_email_is_stored_as_failed(settings, clock, rep, engine, smtp_server):
    async with LiveServer(settings.with_(smtp_url=smtp_server(Refuser())), clock) as server:
        async with server.client() as client:
            response = await client.post(
                "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hello", "text": "hi"}
            )
    assert response.status_code == 502
    assert "550" in response.json()["detail"]
    with engine.connect() as conn:
        row = conn.execute(select(emails.c.status, emails.c.error, emails.c.sent_at)).one()
    assert row.status == "failed" and "Mailbox unavailable" in row.error and row.sent_at is None


class Busy:
    """A server that says "later" (4xx) the first `times` messages, then takes them."""

    def __init__(self, times: int):
        self.times, self.inbox = times, Inbox()

    async def handle_DATA(self, server, session, envelope):
        if self.times > 0:
            self.times -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        return await self.inbox.handle_DATA(server, session, envelope)


def queue_row(engine):
    with engine.connect() as conn:
        return conn.execute(select(send_queue)).mappings().one()


def email_row(engine):
    with engine.connect() as conn:
        return conn.execute(select(emails.c.status, emails.c.error, emails.c.sent_at)).one()


async def test_an_unreachable_smtp_server_keeps_the_email_queued_and_a_retry_sends_it(settings, clock, rep, engine):
    port = free_port()
    async with LiveServer(settings.with_(smtp_url=f"smtp://127.0.0.1:{port}?starttls=false"), clock) as server:
        async with server.client() as client:
            response = await client.post(
                "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hello", "text": "hi"}
            )
        assert response.status_code == 202 and response.json()["status"] == "sending"
        assert "retrying" in response.json()["detail"]
        assert email_row(engine).status == "sending" and queue_row(engine)["attempts"] == 1
        assert await server.runtime.sender.send_due() == 0  # not due before its backoff
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            clock.advance(seconds=61)
            assert await server.runtime.sender.send_due() == 1
        finally:
            controller.stop()
    assert [m[1] for m in inbox.messages] == [["paul@prospect.test"]]
    assert email_row(engine).status == "sent" and queue_row(engine)["status"] == "sent" and queue_row(engine)["raw"] is None


async def test_a_server_that_keeps_saying_later_fails_the_copy_after_the_last_attempt(settings, clock, rep, engine, smtp_server):
    from livefeed.actions.sending import Retry

    busy = Busy(times=99)
    async with LiveServer(settings.with_(smtp_url=smtp_server(busy)), clock) as server:
        server.runtime.sender.retry = Retry(backoff_seconds=(10,), max_attempts=3)
        async with server.client() as client:
            first = await client.post(
                "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hello", "text": "hi"}
            )
        for _ in range(2):
            clock.advance(seconds=11)
            assert await server.runtime.sender.send_due() == 1
    assert first.status_code == 202
    row = email_row(engine)
    assert row.status == "failed" and "451 4.3.0 Mailbox busy" in row.error and queue_row(engine)["attempts"] == 3


async def test_copies_left_queued_by_a_crashed_process_are_sent_once_their_claim_runs_out(
    settings, clock, rep, engine, smtp_server
):
    import asyncio

    from livefeed.actions import validate_draft

    inbox = Inbox()
    async with LiveServer(settings.with_(smtp_url=smtp_server(inbox)), clock) as server:
        sender = server.runtime.sender
        with engine.connect() as conn:
            user = dict(conn.execute(select(users).where(users.c.id == rep.id)).mappings().one())
        draft = validate_draft(to=["paul@prospect.test", "zoe@prospect.test"], cc=[], subject="Hello", html=None, text="hi")
        await asyncio.to_thread(sender._store, user, draft)  # stored and queued; the process "dies" before sending
        assert await sender.send_due() == 0  # still claimed by the dead sender
        clock.advance(seconds=sender.retry.claim_seconds + 1)
        assert await sender.send_due() == 2
        assert await sender.send_due() == 0  # sent once
    with engine.connect() as conn:
        ids = set(conn.execute(select(recipients.c.message_id)).scalars())
    assert sorted(m[1][0] for m in inbox.messages) == ["paul@prospect.test", "zoe@prospect.test"]
    assert {m[2]["Message-ID"] for m in inbox.messages} == ids  # the Message-IDs it was stored with
    assert email_row(engine).status == "sent"


async def test_display_names_name_new_people(server, rep, engine):
    async with server.client() as client:
        body = await send(client, rep, to=["Paul Prospect <Paul@Prospect.test>", "zoe@prospect.test"])
    with engine.connect() as conn:
        names = dict(conn.execute(select(people.c.email, people.c.name)).all())
    assert names == {"paul@prospect.test": "Paul Prospect", "zoe@prospect.test": None}
    assert outbox_messages(engine)[0]["To"] == "Paul Prospect <paul@prospect.test>, zoe@prospect.test"
    assert body["recipients"][0]["address"] == "paul@prospect.test"


async def test_personal_fields_are_filled_per_recipient_and_a_missing_one_stops_the_send(server, rep):
    async with server.client() as client:
        await client.post(
            "/api/v1/people",
            json={"email": "paul@prospect.test", "first_name": "Paul", "company": "Prospect <Ltd>"},
            headers=rep.headers,
        )
        sent = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={
                "to": ["paul@prospect.test", "Anna Berg <anna@prospect.test>"],
                "subject": "For {{first_name}}",
                "html": "<p>Hi {{first_name}}!</p>",
                "text": None,
            },
        )
        escaped = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={
                "to": ["paul@prospect.test"],
                "subject": "About {{company}}",
                "html": "<p>Hi {{first_name}}, about {{ company }}?</p>",
            },
        )
        missing = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={"to": ["paul@prospect.test", "anna@prospect.test"], "subject": "Hi", "html": "<p>{{company}}</p>"},
        )
        unknown = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={"to": ["paul@prospect.test"], "subject": "Hi {{nickname}}", "html": "<p>x</p>"},
        )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "to", "1"]
    assert "anna@prospect.test has no company for {{company}}" in missing.json()["detail"][0]["msg"]
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "subject"]
    assert sent.status_code == 201, sent.text  # Anna's first name comes from "Anna Berg <…>"
    with server.runtime.engine.connect() as conn:
        stored = {row.rcpt: row.raw for row in conn.execute(select(outbox.c.rcpt, outbox.c.raw).order_by(outbox.c.id))}
        emails_count = conn.execute(select(func.count()).select_from(emails)).scalar()
    assert emails_count == 2 and escaped.status_code == 201  # the refused drafts stored nothing
    assert "Subject: About Prospect <Ltd>" in stored["paul@prospect.test"]
    assert "Hi Paul, about Prospect &lt;Ltd&gt;?" in stored["paul@prospect.test"]
    assert "Subject: For Anna" in stored["anna@prospect.test"]


async def test_tracking_can_be_switched_off_per_email(server, rep):
    async with server.client() as client:
        sent = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={
                "to": ["paul@prospect.test"],
                "subject": "Plain",
                "html": '<p><a href="https://example.com/x">x</a></p>',
                "track_opens": False,
                "track_clicks": False,
            },
        )
    assert sent.status_code == 201
    with server.runtime.engine.connect() as conn:
        raw = conn.execute(select(outbox.c.raw)).scalar()
        link_count = conn.execute(select(func.count()).select_from(links)).scalar()
    assert "/o/" not in raw and "/c/" not in raw and "https://example.com/x" in raw and link_count == 0


async def test_preview_fills_each_copy_and_stores_nothing(server, rep):
    async with server.client() as client:
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "first_name": "Paul"}, headers=rep.headers)
        answer = await client.post(
            "/api/v1/emails/preview",
            headers=rep.headers,
            json={
                "to": ["paul@prospect.test", "Anna Berg <anna@prospect.test>"],
                "subject": "Hi {{first_name}}",
                "html": '<p>Hi {{first_name}}, <a href="https://example.com/x">x</a></p>',
            },
        )
        missing = await client.post(
            "/api/v1/emails/preview",
            headers=rep.headers,
            json={"to": ["paul@prospect.test"], "subject": "Hi", "html": "<p>{{title}}</p>"},
        )
    assert answer.status_code == 200
    assert [(c["address"], c["subject"]) for c in answer.json()["copies"]] == [
        ("paul@prospect.test", "Hi Paul"),
        ("anna@prospect.test", "Hi Anna"),
    ]
    assert 'href="https://example.com/x"' in answer.json()["copies"][0]["html"]
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "to", "0"]
    with server.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(emails)).scalar() == 0


async def test_the_do_not_track_list_sends_those_recipients_untracked(server, rep):
    async with server.client() as client:
        bad = await client.patch("/api/v1/workspace", json={"do_not_track": ["legal@", "nope"]}, headers=rep.headers)
        saved = await client.patch(
            "/api/v1/workspace", json={"do_not_track": ["Legal@Prospect.test", "@privacy.example"]}, headers=rep.headers
        )
        await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={
                "to": ["legal@prospect.test", "ceo@privacy.example", "paul@prospect.test"],
                "subject": "Terms",
                "html": '<p><a href="https://example.com/terms">terms</a></p>',
            },
        )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "do_not_track"]
    assert saved.json()["do_not_track"] == ["legal@prospect.test", "@privacy.example"]
    with server.runtime.engine.connect() as conn:
        raw = {row.rcpt: row.raw for row in conn.execute(select(outbox.c.rcpt, outbox.c.raw))}
    for untracked in ("legal@prospect.test", "ceo@privacy.example"):
        assert "/o/" not in raw[untracked] and "/c/" not in raw[untracked] and "https://example.com/terms" in raw[untracked]
    assert "/o/" in raw["paul@prospect.test"] and "/c/" in raw["paul@prospect.test"]


async def test_a_person_marked_do_not_track_gets_mail_untracked_and_earlier_copies_record_nothing(server, rep):
    async with server.client() as client:
        before = await send(client, rep, to=["paul@prospect.test"], html='<p><a href="https://example.com/a">a</a></p>')
        person_id = before["recipients"][0]["person_id"]
        bad = await client.patch(f"/api/v1/people/{person_id}", json={"do_not_track": None}, headers=rep.headers)
        marked = await client.patch(f"/api/v1/people/{person_id}", json={"do_not_track": True}, headers=rep.headers)
        after = await send(
            client, rep, to=["paul@prospect.test", "zoe@prospect.test"], html='<p><a href="https://example.com/b">b</a></p>'
        )
        hit = await client.get(
            pixel_path(server.runtime.signer, before["recipients"][0]["recipient_id"]), headers={"x-forwarded-for": "81.2.69.142"}
        )
        unmarked = await client.patch(f"/api/v1/people/{person_id}", json={"do_not_track": False}, headers=rep.headers)
        await client.get(
            pixel_path(server.runtime.signer, before["recipients"][0]["recipient_id"]), headers={"x-forwarded-for": "81.2.69.142"}
        )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "do_not_track"]
    assert marked.status_code == 200 and marked.json()["do_not_track"] is True
    assert unmarked.json()["do_not_track"] is False
    assert hit.status_code == 200 and hit.headers["content-type"] == "image/gif"  # the pixel still answers
    with server.runtime.engine.connect() as conn:
        raw = {row.id: row.raw for row in conn.execute(select(outbox.c.id, outbox.c.raw))}
        kinds = list(conn.execute(select(events.c.recipient_id, events.c.kind)))
    paul_after, zoe_after = [raw[i] for i in sorted(raw)][1:]
    assert "/o/" not in paul_after and "https://example.com/b" in paul_after
    assert "/o/" in zoe_after and "/c/" in zoe_after
    assert kinds == [(before["recipients"][0]["recipient_id"], "open")]  # only the hit after tracking came back
    assert after["status"] == "sent"


async def test_a_tracking_hostname_is_checked_then_carries_the_links(server, rep, engine, clock):
    port = server.url.rsplit(":", 1)[1]
    ours = f"http://localhost:{port}"  # another name for this server, as a CNAME would be
    elsewhere = f"http://127.0.0.1:{free_port()}"
    other_rep = make_rep(engine, clock, "reg@seller.test")  # not an admin
    async with server.client() as client:
        tested = await client.post("/api/v1/workspace/tracking-url/test", json={"tracking_url": ours}, headers=rep.headers)
        unreachable = await client.post(
            "/api/v1/workspace/tracking-url/test", json={"tracking_url": elsewhere}, headers=rep.headers
        )
        with_path = await client.patch("/api/v1/workspace", json={"tracking_url": ours + "/t"}, headers=rep.headers)
        refused = await client.patch("/api/v1/workspace", json={"tracking_url": elsewhere}, headers=rep.headers)
        forbidden = await client.patch("/api/v1/workspace", json={"tracking_url": ours}, headers=other_rep.headers)
        forged = await client.get("/api/v1/health?probe=AAAAAAAAAAAAAAAAAAAAAA")
        saved = await client.patch("/api/v1/workspace", json={"tracking_url": ours + "/"}, headers=rep.headers)
        await send(client, rep, to=["paul@prospect.test"], html='<p><a href="https://example.com/x">x</a></p>')
    assert tested.status_code == 200 and "reaches this server" in tested.json()["message"]
    assert unreachable.status_code == 422 and unreachable.json()["detail"][0]["loc"] == ["body", "tracking_url"]
    assert "cannot reach" in unreachable.json()["detail"][0]["msg"]
    assert with_path.status_code == 422 and "no path" in with_path.json()["detail"][0]["msg"]
    assert refused.status_code == 422 and forbidden.status_code == 403
    assert forged.json()["probe"] is None
    assert saved.json()["tracking_url"] == ours and saved.json()["tracking_links"] == ours
    raw = outbox_messages(engine)[0].get_body(("html",)).get_content()
    assert f"{ours}/o/" in raw and f"{ours}/c/" in raw and server.url not in raw
    async with httpx.AsyncClient(base_url=ours) as direct:  # the pixel through the tracking hostname is recorded
        pixel = raw.split(f"{ours}")[-1].split('"')[0]
        assert (await direct.get(pixel)).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(events.c.kind)).scalars().all() == ["open"]
    async with server.client() as client:
        cleared = await client.patch("/api/v1/workspace", json={"tracking_url": None}, headers=rep.headers)
    assert cleared.json()["tracking_url"] is None and cleared.json()["tracking_links"] == server.runtime.settings.public_url
