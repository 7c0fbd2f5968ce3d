"""Mailers: SmtpMailer (aiosmtplib) and OutboxMailer (stores copies for the web app to show)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class MailError(Exception):
    """The mail server refused or could not be reached; str() is the server's reason."""


@dataclass(frozen=True)
class Outgoing:
    """One recipient's copy, ready to send."""

    workspace_id: int
    user_id: int
    email_id: int
    recipient_id: int
    rcpt: str
    message: EmailMessage


class Mailer(Protocol):
    async def send(self, sender: str, copies: list[Outgoing]) -> None: ...


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # implicit TLS (smtps://, port 465)
    start_tls: bool | None  # None: upgrade when the server offers it
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> "SmtpOptions":
        """smtp://user:pass@host:port?starttls=true|false, or smtps://… for implicit TLS."""
        parts = urlsplit(url)
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        starttls = query.get("starttls")
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=None if starttls is None or implicit else starttls in ("1", "true", "yes"),
        )


class SmtpMailer:
    """Sends every copy over one SMTP session."""

    def __init__(self, options: SmtpOptions):
        self.options = options

    async def send(self, sender: str, copies: list[Outgoing]) -> None:
        o = self.options
        client = aiosmtplib.SMTP(hostname=o.host, port=o.port, use_tls=o.use_tls, start_tls=o.start_tls, timeout=o.timeout)
        try:
            async with client:
                if o.username:
                    await client.login(o.username, o.password or "")
                for copy in copies:
                    await client.send_message(copy.message, sender=sender, recipients=[copy.rcpt])
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(_reason(exc)) from exc


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{code} {message}" if code else message
