"""Replies, auto-replies and bounces delivered to `livefeed smtpd` (a real aiosmtpd server, a real
SMTP client) become feed events on the right copy — and forged or foreign mail records nothing."""

import aiosmtplib
import pytest

from livefeed.actions.replies import serve_smtp

from .conftest import free_port, ready_stream, send


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
async def inbound(server):
    port = free_port()
    smtp = await serve_smtp(server.runtime, "127.0.0.1", port)
    yield port
    smtp.close()


from .support.mail import deliver, message  # noqa: E402 - shared with the mailbox and browser tests


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
    assert event["person"]["email"] == "anna@prospect.test"  # the row is the one who wrote, not the prospect
    assert (
        event["forwarded"] and "anna@prospect.test replied to the copy sent to paul@prospect.test" in event["forward_evidence"][0]
    )


async def test_a_reply_from_outside_the_email_and_the_recipients_domain_is_kept_greyed_as_unknown(server, rep, inbound):
    # Our Message-ID travels in every reply and forward, so anyone holding one can write "a reply".
    # Only the recipient, anyone the email went to, or a colleague at the recipient's domain counts.
    async with server.client() as client:
        _, message_id = await sent_copy(client, server, rep)
        raw = (
            f"From: Carol CFO <carol@holding.test>\r\nTo: rita@seller.test\r\nCc: Paul <paul@prospect.test>\r\n"
            f"Subject: Re: Pricing for 250 seats\r\nMessage-ID: <cc-1@holding.test>\r\nIn-Reply-To: {message_id}\r\n"
            f"References: {message_id}\r\n\r\nPaul sent me this. Can you do 300 seats?\r\n"
        ).encode()
        await deliver(inbound, raw, sender="carol@holding.test")
        stranger = raw.replace(b"Cc: Paul <paul@prospect.test>\r\n", b"").replace(b"<cc-1@", b"<cc-2@")
        await deliver(inbound, stranger, sender="carol@holding.test")
        events = await feed(client, rep)
    assert len(events) == 2
    for event in events:
        assert event["kind"] == "reply" and event["class"] == "machine" and not event["alert"] and not event["forwarded"]
        assert event["reason"] == "Reply from an unknown sender, carol@holding.test: not on the email nor at prospect.test"
        assert event["detail"].startswith("Paul sent me")


async def test_a_reply_from_someone_the_email_was_copied_to_counts(server, rep, inbound):
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test"], cc=["dana@partner.test"])
        message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
        raw = (
            f"From: Dana <dana@partner.test>\r\nTo: rita@seller.test\r\nSubject: Re: Hello\r\n"
            f"Message-ID: <d-1@partner.test>\r\nIn-Reply-To: {message_id}\r\n\r\nCount us in.\r\n"
        ).encode()
        await deliver(inbound, raw, sender="dana@partner.test")
        [event] = await feed(client, rep)
    assert event["class"] == "human" and event["alert"] and event["reason"].startswith("Reply from dana@partner.test")


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
        own = message("gmail_reply.eml", message_id).replace(
            b"From: Paul Prospect <paul@prospect.test>", f"From: Rita <{rep.email}>".encode()
        )
        await deliver(inbound, own, sender=rep.email)
        with engine.begin() as conn:
            conn.execute(update(emails).where(emails.c.id == sent["id"]).values(archived=True))
        await deliver(inbound, message("gmail_reply.eml", message_id))
        assert await feed(client, rep) == []


async def test_a_message_nested_too_deeply_is_refused_for_good_and_a_flood_is_slowed(server, rep, engine):
    from livefeed.actions.replies import InboundHandler

    port = free_port()
    smtp = await serve_smtp(server.runtime, "127.0.0.1", port, handler=InboundHandler(server.runtime, limit=3))
    try:
        async with server.client() as client:
            _, message_id = await sent_copy(client, server, rep)
        nested = (
            f"From: paul@prospect.test\r\nIn-Reply-To: {message_id}\r\n"
            + "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(3000))
            + "\r\nhi\r\n"
        )
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await client.sendmail("paul@prospect.test", ["replies@livefeed.test"], nested.encode())
            answers = []
            for _ in range(3):
                try:
                    await client.sendmail("x@flood.test", ["replies@livefeed.test"], b"Subject: hi\r\n\r\nhi\r\n")
                    answers.append(250)
                except aiosmtplib.SMTPResponseException as exc:
                    answers.append(exc.code)
                    break
    finally:
        smtp.close()
    assert refused.value.code == 550
    assert answers == [250, 250, 421]  # the nested one counted as the first of three
