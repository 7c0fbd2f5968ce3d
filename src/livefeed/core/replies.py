"""Inbound mail: a reply, an auto-reply or a bounce — and to which email LiveFeed sent?

LiveFeed's Message-IDs are `<lf.TOKEN@tracking-host>`, TOKEN signed for one recipient's copy
(core/tokens.py). A reply names them in `In-Reply-To` / `References`; a delivery status
notification (RFC 3464) carries the original message's headers. This module only reads the
message; checking the tokens' signatures and recording is the shell's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from .compose import html_to_text

REPLY, AUTO_REPLY, BOUNCE = "reply", "auto_reply", "bounce"
OUR_ID = re.compile(r"<lf\.([A-Za-z0-9_-]{15,40})@[^<>\s]+>")
EXCERPT_LINES = 3
EXCERPT_CHARS = 300

# Auto-replies (RFC 3834 and what mail systems actually send), checked in order: (header, test, reason).
AUTO_HEADERS = (
    ("auto-submitted", lambda v: v.strip().lower() != "no", "Auto-Submitted: {v}"),
    ("precedence", lambda v: v.strip().lower() in ("bulk", "list", "junk", "auto_reply"), "Precedence: {v}"),
    ("x-autoreply", lambda v: True, "X-Autoreply"),
    ("x-autorespond", lambda v: True, "X-Autorespond"),
    ("x-auto-response-suppress", lambda v: "oof" in v.lower() or v.strip().lower() == "all", "X-Auto-Response-Suppress: {v}"),
)
OUT_OF_OFFICE = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|autoreply|out of (the )?office|ooo\b|abwesenheitsnotiz|"
    r"automatische antwort|r[ée]ponse automatique|absence|respuesta autom[aá]tica)",
    re.IGNORECASE,
)
_QUOTE_START = re.compile(
    r"^(>|On .{3,200}wrote:?\s*$|Le .{3,200}a [ée]crit\s*:?\s*$|Am .{3,200}schrieb .*$|-{2,}\s*Original Message\s*-{2,}|"
    r"_{10,}\s*$|From:\s.+|De\s*:\s.+|Von:\s.+|Sent from my )",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Bounce:
    recipient: str | None  # the address that failed
    status: str | None  # "5.1.1"
    hard: bool  # permanent (5.x.x or Action: failed) or not (4.x.x, delayed)
    reason: str  # the diagnostic, one line


def sender_is_plausible(sender: str, *, recipient: str, addressed: set[str]) -> bool:
    """Whether a reply could come from `sender`: the person written to, anyone the email was
    addressed to (To or Cc), or someone at the recipient's domain (a colleague). Anyone else who
    quotes our Message-ID (it travels in every reply and forward) is an unknown sender."""
    return sender == recipient or sender in addressed or sender.rpartition("@")[2] == recipient.rpartition("@")[2]


@dataclass(frozen=True)
class Inbound:
    kind: str  # reply | auto_reply | bounce
    tokens: tuple[str, ...]  # our Message-ID tokens referenced, the most specific first
    sender: str  # lower-case address
    cc: tuple[str, ...]
    subject: str
    excerpt: str  # the first lines of the new text (quoted text cut)
    auto_reason: str | None = None
    bounce: Bounce | None = None
    message_id: str = ""  # the inbound message's own Message-ID: the same message twice records once


class Unreadable(ValueError):
    """A message the parser cannot follow (MIME nested thousands deep): refused for good (SMTP 550),
    never retried."""


def read_message(raw: bytes) -> Inbound | None:
    """What an inbound message is, or None when it names none of LiveFeed's Message-IDs;
    Unreadable for a message no mail client would produce."""
    try:
        return _read(raw)
    except RecursionError:
        raise Unreadable("the message's MIME parts are nested too deeply") from None


def _read(raw: bytes) -> Inbound | None:
    message = message_from_bytes(raw, policy=policy.default)
    sender = parseaddr(str(message.get("from", "")))[1].lower()
    cc = tuple(a.lower() for _, a in getaddresses([str(v) for v in message.get_all("cc", [])]) if a)
    subject = _one_line(str(message.get("subject", "")))
    own_id = _one_line(str(message.get("message-id", "")))[:300]
    report = _delivery_report(message)
    if report is not None:
        tokens = _tokens_in_report(message)
        return Inbound(BOUNCE, tokens, sender, cc, subject, "", bounce=report, message_id=own_id) if tokens else None
    # In-Reply-To names the message answered; References lists the thread, oldest first.
    references = str(message.get("in-reply-to", "")) + " " + " ".join(reversed(str(message.get("references", "")).split()))
    tokens = tuple(dict.fromkeys(OUR_ID.findall(references)))
    if not tokens:
        return None
    auto = auto_reply_reason(message, subject)
    return Inbound(
        AUTO_REPLY if auto else REPLY, tokens, sender, cc, subject, excerpt(message), auto_reason=auto, message_id=own_id
    )


def auto_reply_reason(message: Message, subject: str) -> str | None:
    for name, test, reason in AUTO_HEADERS:
        value = message.get(name)
        if value is not None and test(str(value)):
            return reason.format(v=_one_line(str(value))[:60])
    if OUT_OF_OFFICE.match(subject):
        return f"Out-of-office subject: {subject[:60]}"
    return None


def excerpt(message: EmailMessage) -> str:
    """The first lines the sender wrote (quoted history, signatures' "Sent from my…" cut)."""
    part = message.get_body(("plain", "html")) if hasattr(message, "get_body") else None
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, UnicodeError, AttributeError):
        return ""
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()):
            break
        if line.strip():
            lines.append(" ".join(line.split()))
        if len(lines) == EXCERPT_LINES:
            break
    return " / ".join(lines)[:EXCERPT_CHARS]


def _delivery_report(message: Message) -> Bounce | None:
    """The first failed (or delayed) recipient of an RFC 3464 report, or None if it is not one."""
    if message.get_content_type() != "multipart/report" or str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks[1:] if isinstance(blocks, list) else ():
            if not isinstance(block, Message):
                continue
            action = str(block.get("action", "")).strip().lower()
            if action not in ("failed", "delayed"):
                continue
            status: str | None = str(block.get("status", "")).strip() or None
            named = str(block.get("final-recipient", "") or block.get("original-recipient", ""))
            recipient = named.split(";", 1)[-1].strip().lower() or None
            diagnostic = _one_line(str(block.get("diagnostic-code", ""))).split(";", 1)[-1].strip()
            hard = action == "failed" and not (status or "").startswith("4")
            return Bounce(recipient, status, hard, (diagnostic or f"{action} ({status})")[:300])
    return None


def _tokens_in_report(message: Message) -> tuple[str, ...]:
    """Our Message-IDs in the returned original (its headers, or the whole message)."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/rfc822-headers", "message/rfc822"):
            payload = part.get_payload()
            text = (
                payload[0].as_string()
                if isinstance(payload, list) and payload and isinstance(payload[0], Message)
                else str(payload)
            )
            found += OUR_ID.findall(text)
    return tuple(dict.fromkeys(found))


def _one_line(value: str) -> str:
    return " ".join(value.split())
