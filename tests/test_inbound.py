"""Replies, auto-replies and bounces delivered to `livefeed smtpd` (a real aiosmtpd server, a real
SMTP client) become feed events on the right copy — and forged or foreign mail records nothing."""

import aiosmtplib
import pytest

from livefeed.inbound import serve_smtp

from .conftest import FIXTURES, free_port, ready_stream, send


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
async def inbound(server):
    port = free_port()
    smtp = await serve_smtp(server.runtime, "127.0.0.1", port)
    yield port
    smtp.close()


def message(name: str, message_id: str) -> bytes:
    return (FIXTURES / "mail" / name).read_text().replace("{MESSAGE_ID}", message_id).replace("\n", "\r\n").encode()


async def deliver(port: int, raw: bytes, sender: str = "paul@prospect.test") -> None:
    """Deliver like an MTA (a bounce's envelope sender is empty: MAIL FROM:<>)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        errors, _ = await smtp.sendmail(sender, ["replies@livefeed.test"], raw)
    assert errors == {}


async def sent_copy(client, server, rep, to="paul@prospect.test"):
    sent = await send(client, rep, to=[to], subject="Pricing for 250 seats")
    recipient_id = sent["recipients"][0]["recipient_id"]
    return sent, server.runtime.sender.message_id(recipient_id)


async def feed(client, rep):
    return (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]


async def test_a_reply_reaches_the_open_window_with_its_first_lines(server, rep, inbound):
    async with server.client() as client:
        sent, message_id = await sent_copy(client, server, rep)
        async with ready_stream(client, rep.headers) as reader:
            await deliver(inbound, message("gmail_reply.eml", message_id))
            frame = await reader.next_event("hit")
        events = await feed(client, rep)
    assert '"kind":"reply"' in frame["data"] and '"class":"human"' in frame["data"]
    assert [(e["kind"], e["email"]["id"], e["alert"]) for e in events] == [("reply", sent["id"], True)]
    assert events[0]["detail"] == "Hi Rita, / Thanks — this looks good. Can we do a call on Tuesday at 3pm? / Paul"
    assert events[0]["reason"] == "Reply from paul@prospect.test"


async def test_a_colleague_replying_is_a_reply_and_evidence_of_forwarding(server, rep, inbound):
    async with server.client() as client:
        _, message_id = await sent_copy(client, server, rep)
        await deliver(inbound, message("outlook_reply.eml", message_id), sender="anna@prospect.test")
        [event] = await feed(client, rep)
    assert event["kind"] == "reply" and event["reason"] == "Reply from anna@prospect.test, a colleague of paul@prospect.test"
    assert event["forwarded"] and "anna@prospect.test replied to the copy sent to paul@prospect.test" in event["forward_evidence"][0]


async def test_someone_replying_with_the_recipient_in_cc_is_evidence_of_forwarding(server, rep, inbound):
    async with server.client() as client:
        _, message_id = await sent_copy(client, server, rep)
        raw = (f"From: Carol CFO <carol@holding.test>\r\nTo: rita@seller.test\r\nCc: Paul <paul@prospect.test>\r\n"
               f"Subject: Re: Pricing for 250 seats\r\nMessage-ID: <cc-1@holding.test>\r\nIn-Reply-To: {message_id}\r\n"
               f"References: {message_id}\r\n\r\nPaul sent me this. Can you do 300 seats?\r\n").encode()
        await deliver(inbound, raw, sender="carol@holding.test")
        stranger = raw.replace(b"Cc: Paul <paul@prospect.test>\r\n", b"").replace(b"<cc-1@", b"<cc-2@")
        await deliver(inbound, stranger, sender="carol@holding.test")
        events = await feed(client, rep)
    copying, alone = events[1], events[0]
    assert copying["reason"] == "Reply from carol@holding.test, copying paul@prospect.test" and copying["detail"].startswith("Paul sent me")
    assert copying["forward_evidence"] == [
        "2026-11-26 09:00 UTC: carol@holding.test replied to the copy sent to paul@prospect.test, with paul@prospect.test in CC"]
    assert alone["reason"] == "Reply from carol@holding.test" and alone["kind"] == "reply"


async def test_auto_replies_and_bounces(server, rep, inbound):
    async with server.client() as client:
        _, paul = await sent_copy(client, server, rep)
        _, nobody = await sent_copy(client, server, rep, to="nobody@prospect.test")
        _, full = await sent_copy(client, server, rep, to="full@prospect.test")
        await deliver(inbound, message("out_of_office.eml", paul))
        await deliver(inbound, message("postfix_bounce.eml", nobody), sender="")
        await deliver(inbound, message("exchange_bounce.eml", full), sender="")
        events = await feed(client, rep)
    got = [(e["kind"], e["class"], e["alert"], e["person"]["email"], e["reason"]) for e in reversed(events)]
    assert got == [
        ("auto_reply", "machine", False, "paul@prospect.test", "Auto-reply (Auto-Submitted: auto-generated)"),
        ("bounce", "machine", True, "nobody@prospect.test", "Hard bounce 5.1.1 for nobody@prospect.test"),
        ("bounce", "machine", True, "full@prospect.test", "Soft bounce 4.2.2 for full@prospect.test"),
    ]
    assert events[0]["detail"] == "452 4.2.2 Mailbox full"


async def test_forged_foreign_own_and_archived_mail_records_nothing(server, rep, inbound, engine):
    from sqlalchemy import update

    from livefeed.db.tables import emails

    async with server.client() as client:
        sent, message_id = await sent_copy(client, server, rep)
        token = message_id[4:].split("@")[0]
        flipped = "A" if token[-4] != "A" else "B"  # inside the MAC (the last character holds padding bits)
        forged = message_id.replace(token, token[:-4] + flipped + token[-3:])
        await deliver(inbound, message("gmail_reply.eml", forged))
        await deliver(inbound, message("gmail_reply.eml", "<CAJx3v7dQp2@mail.gmail.com>"))
        own = message("gmail_reply.eml", message_id).replace(b"From: Paul Prospect <paul@prospect.test>", f"From: Rita <{rep.email}>".encode())
        await deliver(inbound, own, sender=rep.email)
        with engine.begin() as conn:
            conn.execute(update(emails).where(emails.c.id == sent["id"]).values(archived=True))
        await deliver(inbound, message("gmail_reply.eml", message_id))
        assert await feed(client, rep) == []
