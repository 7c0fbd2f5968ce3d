"""Inbound mail read as reply, auto-reply or bounce: real-shaped messages from Gmail, Outlook,
Exchange and Postfix (tests/fixtures/mail), with one of LiveFeed's Message-IDs put in."""

import pytest

from livefeed.core import replies

from .conftest import FIXTURES

TOKEN = "AbCdEfGhIjKlMnOpQrStUv"
MESSAGE_ID = f"<lf.{TOKEN}@track.seller.test>"


def fixture(name: str, message_id: str = MESSAGE_ID) -> bytes:
    return (FIXTURES / "mail" / name).read_text().replace("{MESSAGE_ID}", message_id).replace("\n", "\r\n").encode()


def test_a_gmail_reply():
    inbound = replies.read_message(fixture("gmail_reply.eml"))
    assert inbound.kind == replies.REPLY and inbound.tokens == (TOKEN,)
    assert inbound.sender == "paul@prospect.test" and inbound.subject == "Re: Pricing for 250 seats"
    assert inbound.excerpt == "Hi Rita, / Thanks — this looks good. Can we do a call on Tuesday at 3pm? / Paul"


def test_an_outlook_reply_from_a_colleague_with_the_recipient_in_cc():
    inbound = replies.read_message(fixture("outlook_reply.eml"))
    assert inbound.kind == replies.REPLY and inbound.sender == "anna@prospect.test" and inbound.cc == ("paul@prospect.test",)
    assert inbound.excerpt.startswith("Hello Rita, / Paul forwarded me your offer.") and "Original Message" not in inbound.excerpt


def test_an_out_of_office_is_an_auto_reply():
    inbound = replies.read_message(fixture("out_of_office.eml"))
    assert inbound.kind == replies.AUTO_REPLY and inbound.auto_reason == "Auto-Submitted: auto-generated"


@pytest.mark.parametrize(
    "name, recipient, status, hard, reason",
    [
        (
            "postfix_bounce.eml",
            "nobody@prospect.test",
            "5.1.1",
            True,
            "550 5.1.1 <nobody@prospect.test>: Recipient address rejected: User unknown in virtual mailbox table",
        ),
        ("exchange_bounce.eml", "full@prospect.test", "4.2.2", False, "452 4.2.2 Mailbox full"),
    ],
)
def test_delivery_reports_are_bounces_of_the_original(name, recipient, status, hard, reason):
    inbound = replies.read_message(fixture(name))
    assert inbound.kind == replies.BOUNCE and inbound.tokens == (TOKEN,)
    assert (inbound.bounce.recipient, inbound.bounce.status, inbound.bounce.hard, inbound.bounce.reason) == (
        recipient,
        status,
        hard,
        reason,
    )


@pytest.mark.parametrize(
    "headers, reason",
    [
        ("Precedence: bulk\r\n", "Precedence: bulk"),
        ("X-Autoreply: yes\r\n", "X-Autoreply"),
        ("Auto-Submitted: no\r\n", None),
        ("", None),
    ],
)
def test_auto_reply_headers(headers, reason):
    raw = (
        f"From: p@prospect.test\r\nTo: r@seller.test\r\nSubject: Re: Hi\r\nIn-Reply-To: {MESSAGE_ID}\r\n{headers}"
        "Content-Type: text/plain\r\n\r\nThanks!\r\n"
    ).encode()
    inbound = replies.read_message(raw)
    assert inbound.auto_reason == reason and inbound.kind == (replies.AUTO_REPLY if reason else replies.REPLY)


@pytest.mark.parametrize(
    "subject", ["Out of Office: Hi", "Automatic reply: Hi", "Abwesenheitsnotiz: Hi", "Réponse automatique : Hi"]
)
def test_out_of_office_subjects(subject):
    raw = f"From: p@prospect.test\r\nSubject: {subject}\r\nIn-Reply-To: {MESSAGE_ID}\r\n\r\nAway.\r\n".encode()
    assert replies.read_message(raw).kind == replies.AUTO_REPLY


def test_mail_that_names_none_of_our_messages_is_ignored():
    assert replies.read_message(fixture("gmail_reply.eml", "<CAKx9@mail.gmail.com>")) is None
    assert replies.read_message(fixture("postfix_bounce.eml", "<other@mail.seller.test>")) is None
    assert replies.read_message(b"not an email at all") is None


def test_the_most_specific_reference_comes_first():
    older, newer = "AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB"
    raw = (
        f"From: p@prospect.test\r\nIn-Reply-To: <lf.{newer}@t.test>\r\nReferences: <lf.{older}@t.test> <lf.{newer}@t.test>\r\n"
        "\r\nok\r\n"
    ).encode()
    assert replies.read_message(raw).tokens == (newer, older)
