"""Mailers: SmtpMailer (aiosmtplib) and OutboxMailer (stores copies for the web app to show)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from ..vault import Vault


SECURITY = ("starttls", "tls", "plain")  # STARTTLS on 587, implicit TLS on 465, none (local servers only)


def smtp_vault(secret_key: bytes) -> Vault:
    """Seals the reps' SMTP passwords (a key of their own, derived from the server's secret key)."""
    return Vault(secret_key, "smtp password")


class MailError(Exception):
    """The mail server refused or could not be reached; str() is the server's reason and `field`
    the setting it points at (host, security, username/password)."""

    def __init__(self, message: str, field: str = "host"):
        super().__init__(message)
        self.field = field


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
    password: str | None = field(repr=False)
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

    @classmethod
    def account(cls, *, host: str, port: int, security: str, username: str, password: str,
                timeout: float = 30.0) -> "SmtpOptions":
        """A rep's sending account: `security` is one of SECURITY (STARTTLS is required, not optional)."""
        return cls(host=host, port=port, username=username, password=password, use_tls=security == "tls",
                   start_tls=security == "starttls", timeout=timeout)


def _client(o: SmtpOptions) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(hostname=o.host, port=o.port, use_tls=o.use_tls, start_tls=o.start_tls, timeout=o.timeout)


async def check(options: SmtpOptions) -> str:
    """Connect, secure and sign in, as sending would, then quit; the server's greeting on success,
    MailError with the server's own answer (and the setting it points at) on failure."""
    client = _client(options)
    try:
        await client.connect()
    except aiosmtplib.SMTPConnectError as exc:
        raise MailError(f"cannot connect to {options.host}:{options.port}: {_reason(exc)}") from None
    except aiosmtplib.SMTPException as exc:  # the TLS handshake or STARTTLS failed
        raise MailError(f"cannot secure the connection: {_reason(exc)}", "security") from None
    except OSError as exc:
        raise MailError(f"cannot connect to {options.host}:{options.port}: {exc.__class__.__name__}: {exc}") from None
    try:
        if options.username:
            try:
                await client.login(options.username, options.password or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise MailError(f"sign-in refused: {_reason(exc)}", "password") from None
            except aiosmtplib.SMTPException as exc:
                raise MailError(f"sign-in failed: {_reason(exc)}", "username") from None
        return " ".join((client.last_ehlo_response.message if client.last_ehlo_response else "").split()[:1]) or options.host
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


class SmtpMailer:
    """Sends every copy over one SMTP session."""

    def __init__(self, options: SmtpOptions):
        self.options = options

    async def send(self, sender: str, copies: list[Outgoing]) -> None:
        o = self.options
        client = _client(o)
        try:
            async with client:
                if o.username:
                    await client.login(o.username, o.password or "")
                for copy in copies:
                    await client.send_message(copy.message, sender=sender, recipients=[copy.rcpt])
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(_reason(exc)) from exc

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.options.host}:{self.options.port})"


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{code} {message}" if code else message
