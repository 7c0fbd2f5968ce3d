"""In-process SMTP servers (aiosmtpd): one that keeps what it receives, and one that wants a
sign-in, as a rep's own provider does."""

from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ..conftest import free_port


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
