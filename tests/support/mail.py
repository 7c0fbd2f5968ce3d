"""Mail in the tests: in-process SMTP servers (aiosmtpd: one that keeps what it receives, one that
wants a sign-in as a rep's own provider does), a real IMAP server (dovecot), the captured replies
and bounces of tests/fixtures/mail, and delivering one as an MTA does."""

from email import message_from_bytes, policy

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ..conftest import FIXTURES, free_port, require
from ..imapserver import Dovecot, available


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"rita", b"app-password-1")
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


@pytest.fixture
def mail_server():
    """A real SMTP server that wants a sign-in (AUTH over a plain local connection)."""
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
        server_hostname="mx.seller.test",
    )
    controller.start()
    yield controller.port, inbox
    controller.stop()


def account(port: int, **change) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "plain", "username": "rita", "password": "app-password-1", **change}


PASSWORD = "s3cret-app-password"


@pytest.fixture(scope="module")
def dovecot():
    ok, reason = available()
    require(ok, reason)
    server = Dovecot.in_temp_dir(free_port(), {"rita@seller.test": PASSWORD, "other@seller.test": "other-password"}).start()
    yield server
    server.stop()


def message(name: str, message_id: str) -> bytes:
    return (FIXTURES / "mail" / name).read_text().replace("{MESSAGE_ID}", message_id).replace("\n", "\r\n").encode()


async def deliver(port: int, raw: bytes, sender: str = "paul@prospect.test") -> None:
    """Deliver like an MTA (a bounce's envelope sender is empty: MAIL FROM:<>)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        errors, _ = await smtp.sendmail(sender, ["replies@livefeed.test"], raw)
    assert errors == {}
