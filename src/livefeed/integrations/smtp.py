"""Mailers: SmtpMailer (aiosmtplib) and OutboxMailer (stores copies for the web app to show)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from ..core import mailauth
from ..core.outbound import SMTP_PORTS
from ..db.vault import SMTP_PASSWORD, Vault, vault_for
from .outbound import Outbound, OutboundError

SECURITY = ("starttls", "tls", "plain")  # STARTTLS on 587, implicit TLS on 465, none (only hosts on LIVEFEED_OUTBOUND_ALLOW)


def smtp_vault(secret_key: bytes) -> Vault:
    """Seals the reps' SMTP passwords (a key of their own, derived from the server's secret key)."""
    return vault_for(secret_key, SMTP_PASSWORD)


class MailError(Exception):
    """The mail server refused or could not be reached; str() is the server's reason and `field`
    the setting it points at (host, security, username/password). `permanent`: a 5xx answer or a
    setting the policy refuses, which sending again cannot change (else it is retried)."""

    def __init__(self, message: str, field: str = "host", *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.field, self.permanent, self.retry_after = field, permanent, retry_after


@dataclass(frozen=True)
class Outgoing:
    """One recipient's copy, ready to send."""

    workspace_id: int
    user_id: int
    email_id: int
    recipient_id: int
    rcpt: str
    message: EmailMessage
    thread_id: str | None = None  # Gmail's thread id, when the rep wrote it as a reply in Gmail


class Mailer(Protocol):
    async def send(self, sender: str, copies: list[Outgoing]) -> list[MailError | None]:
        """Each copy's outcome, in order (None: accepted); MailError when none could be tried."""


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    use_tls: bool  # implicit TLS (smtps://, port 465)
    start_tls: bool | None  # None: upgrade when the server offers it
    timeout: float = 30.0
    outbound: Outbound | None = None  # a rep's account goes through the policy; the operator's URL is trusted

    @classmethod
    def from_url(cls, url: str) -> SmtpOptions:
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
    def account(
        cls, *, host: str, port: int, security: str, username: str, password: str, outbound: Outbound, timeout: float = 30.0
    ) -> SmtpOptions:
        """A rep's sending account: `security` is one of SECURITY (STARTTLS is required, not optional)."""
        return cls(
            host=host,
            port=port,
            username=username,
            password=password,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            timeout=timeout,
            outbound=outbound,
        )


def _client(o: SmtpOptions, sock=None) -> aiosmtplib.SMTP:
    if sock is not None:  # connected to an address the outbound policy vetted; the name is for TLS
        return aiosmtplib.SMTP(hostname=o.host, port=None, sock=sock, use_tls=o.use_tls, start_tls=o.start_tls, timeout=o.timeout)
    return aiosmtplib.SMTP(hostname=o.host, port=o.port, use_tls=o.use_tls, start_tls=o.start_tls, timeout=o.timeout)


async def _connect(o: SmtpOptions) -> aiosmtplib.SMTP:
    """A client connected (and secured) to the server: through the outbound policy for a rep's own
    account, directly for the operator's LIVEFEED_SMTP_URL. MailError in our words on failure."""
    if o.outbound is None:
        client = _client(o)
        await client.connect()
        return client
    try:
        sock, deadline = await o.outbound.connect(o.host, o.port, ports=SMTP_PORTS, plain=not (o.use_tls or o.start_tls))
    except OutboundError as exc:
        raise MailError(str(exc), exc.field, permanent=exc.field != "host" or "private" in str(exc)) from None
    client = _client(o, sock)
    try:
        await client.connect(timeout=max(0.05, deadline - o.outbound.now()))  # the greeting, by the same deadline
    except aiosmtplib.SMTPException as exc:
        _give_up(client, sock)
        if _certificate_failed(exc):
            raise MailError(f"the TLS certificate of {o.host} could not be verified", "security") from None
        if "STARTTLS" in str(exc) or isinstance(exc.__cause__ or exc.__context__, ssl.SSLError):
            raise MailError(
                f"cannot secure the connection to {o.host}:{o.port} (TLS failed or STARTTLS not offered)", "security"
            ) from None
        await o.outbound.until(deadline)
        raise MailError(f"{o.host}:{o.port} did not answer as an SMTP server") from None
    except (OSError, ssl.SSLError) as exc:
        _give_up(client, sock)
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise MailError(f"the TLS certificate of {o.host} could not be verified", "security") from None
        raise MailError(f"cannot secure the connection to {o.host}:{o.port} (TLS failed)", "security") from None
    return client


def _give_up(client: aiosmtplib.SMTP, sock) -> None:
    """Close a failed connection: through its transport when one took the socket over (closing the
    socket under it would free a descriptor the event loop still counts as the transport's)."""
    if client.transport is not None:
        client.close()
    else:
        sock.close()


def _certificate_failed(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def check(options: SmtpOptions) -> str:
    """Connect, secure and sign in, as sending would, then quit; the server's name on success,
    MailError naming the setting on failure — in our words for a rep's account (the far side's
    text never comes back), the server's own for the operator's."""
    try:
        client = await _connect(options)
    except MailError:
        raise
    except aiosmtplib.SMTPConnectError as exc:
        raise MailError(f"cannot connect to {options.host}:{options.port}: {_reason(exc)}") from None
    except aiosmtplib.SMTPException as exc:  # the TLS handshake or STARTTLS failed
        raise MailError(f"cannot secure the connection: {_reason(exc)}", "security") from None
    except OSError as exc:
        raise MailError(f"cannot connect to {options.host}:{options.port}: {exc.__class__.__name__}") from None
    try:
        if options.username:
            try:
                await client.login(options.username, options.password or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise MailError(mailauth.refusal(f"{exc.code} {exc.message}", protocol=f"SMTP {exc.code}"), "password") from None
            except aiosmtplib.SMTPException as exc:
                code = getattr(exc, "code", None)
                raise MailError("the server did not accept a sign-in" + (f" (SMTP {code})" if code else ""), "username") from None
        return options.host
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


class SmtpMailer:
    """Sends every copy over one SMTP session."""

    def __init__(self, options: SmtpOptions):
        self.options = options

    async def send(self, sender: str, copies: list[Outgoing]) -> list[MailError | None]:
        o = self.options
        outcomes: list[MailError | None] = []
        try:
            client = await _connect(o) if o.outbound is not None else _client(o)
            async with client:
                if o.username:
                    await client.login(o.username, o.password or "")
                for copy in copies:
                    try:
                        await client.send_message(copy.message, sender=sender, recipients=[copy.rcpt])
                        outcomes.append(None)
                    except aiosmtplib.SMTPServerDisconnected:
                        raise
                    except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
                        outcomes.append(MailError(_reason(exc), permanent=_permanent(exc)))
        except (aiosmtplib.SMTPException, OSError) as exc:
            if not outcomes:
                raise MailError(_reason(exc), permanent=_permanent(exc)) from exc
            # the session broke part-way: what was accepted stays sent, the rest is tried again
            outcomes += [MailError(_reason(exc))] * (len(copies) - len(outcomes))
        return outcomes

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.options.host}:{self.options.port})"


def _permanent(exc: Exception) -> bool:
    """A 5xx answer (RFC 5321 §4.2.1: permanent negative completion) is not worth repeating."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    code = getattr(exc, "code", None)
    return isinstance(code, int) and 500 <= code < 600


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{code} {message}" if code else message
