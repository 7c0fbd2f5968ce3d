"""Replies, auto-replies and bounces arriving by mail, recorded as feed events on the right copy.

`record_inbound` is the one way in (the inbound SMTP server below; an IMAP watcher next). Only
Message-IDs LiveFeed issued count: a token whose signature does not verify, mail naming none of
ours, the rep's own messages in the thread and archived emails record nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core import forwarding, replies
from ..core.model import HUMAN, MACHINE, ForwardState
from ..core.tokens import MESSAGE
from ..db.eventlog import EventLog, event_row
from ..db.tables import events, people, recipients, users
from .people import ensure_person

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


async def record_inbound(rt, raw: bytes) -> str | None:
    """Record one inbound message; the kind recorded (reply, auto_reply, bounce) or None."""
    inbound = await asyncio.to_thread(replies.read_message, raw)
    if inbound is None:
        return None
    copies = [rid for rid in (rt.signer.verify(MESSAGE, token) for token in inbound.tokens) if rid is not None]
    if not copies:
        return None  # not ours, or forged in our format
    now, log_ = rt.clock(), EventLog(rt.engine.dialect.name)
    # The same message read twice (the mailbox and a BCC to `livefeed smtpd`, a watcher restarted
    # before it saved its place, two workers) records once: the rep's events are unique by key.
    key = (f"mail:{copies[0]}:" + hashlib.sha256(inbound.message_id.encode()).hexdigest()[:40]) if inbound.message_id else None

    def job(conn):
        context = log_.contexts(conn, copies[:1]).get(copies[0])  # the message answered, or bounced
        if context is None or context["archived"]:
            return None, []
        if (
            key is not None
            and conn.execute(
                select(events.c.id).where(events.c.user_id == context["user_id"], events.c.idempotency_key == key)
            ).first()
        ):
            return None, []
        rep_email = conn.execute(select(users.c.email).where(users.c.id == context["user_id"])).scalar()
        if inbound.sender == rep_email:
            return None, []  # the rep's own message in the thread
        address = conn.execute(select(recipients.c.address).where(recipients.c.id == context["id"])).scalar()
        addressed = set(conn.execute(select(recipients.c.address).where(recipients.c.email_id == context["email_id"])).scalars())
        state = ForwardState.from_json(context["forward_state"])
        evidence = list(state.evidence)
        row = _event_row(
            inbound,
            context,
            address,
            state,
            now,
            known=replies.sender_is_plausible(inbound.sender, recipient=address, addressed=addressed),
        )
        row["idempotency_key"] = key
        if row["cls"] == HUMAN and inbound.sender and inbound.sender != address:
            # someone else answered (a colleague, someone copied): the row is theirs, with the evidence
            person_id = ensure_person(conn, context["workspace_id"], inbound.sender, now)
            found = conn.execute(select(people.c.name).where(people.c.id == person_id)).scalar()
            row.update(person_id=person_id, person_email=inbound.sender, person_name=found)
        if state.evidence != evidence:
            log_.save_forward_states(conn, {context["id"]: state.to_json()})
        return row["kind"], [row]

    try:
        return await rt.recorder.write(job)
    except IntegrityError:  # recorded meanwhile by another process
        return None


def _event_row(inbound: replies.Inbound, context: dict, address: str, state: ForwardState, now, *, known: bool = True) -> dict:
    if inbound.kind == replies.BOUNCE:
        bounce = inbound.bounce
        assert bounce is not None  # a bounce is read with its report
        cls, reason = MACHINE, f"{'Hard' if bounce.hard else 'Soft'} bounce{' ' + bounce.status if bounce.status else ''}"
        if bounce.recipient:
            reason += f" for {bounce.recipient}"
        detail = bounce.reason
    elif inbound.kind == replies.AUTO_REPLY:
        cls, reason, detail = MACHINE, f"Auto-reply ({inbound.auto_reason})", inbound.excerpt
    elif not known:  # kept, greyed and not counted: a Message-ID is no proof of who writes
        cls, detail = MACHINE, inbound.excerpt
        reason = f"Reply from an unknown sender, {inbound.sender or 'no address'}: not on the email nor at {address.rpartition('@')[2]}"
    else:
        cls, reason, detail = HUMAN, f"Reply from {inbound.sender}", inbound.excerpt
        colleague = inbound.sender.rpartition("@")[2] == address.rpartition("@")[2]
        copying = address in inbound.cc  # someone else answered, copying the person we wrote to
        if inbound.sender != address and (colleague or copying):
            reason += f", a colleague of {address}" if colleague else f", copying {address}"
            state.evidence.append(
                f"{now:%Y-%m-%d %H:%M} UTC: {inbound.sender} replied to the copy sent to {address}"
                + ("" if colleague else f", with {address} in CC")
            )
            del state.evidence[: -forwarding.MAX_KEPT]
    return event_row(
        workspace_id=context["workspace_id"], user_id=context["user_id"], email_id=context["email_id"],
        recipient_id=context["id"], person_id=context["person_id"], kind=inbound.kind, cls=cls, reason=reason[:300],
        at=now, location_note="Sent by mail", forwarded=state.forwarded, detail=detail[:1000] or None,
        # for the live frame
        subject=context["subject"], person_email=context["person_email"], person_name=context["person_name"],
        link_url=None, forward_state=state.to_json(),
    )  # fmt: skip


# --- the inbound SMTP server (`livefeed smtpd`) --------------------------------------------------

# 120 messages a minute from one client address: far above a mail server relaying replies to a
# team, far below a flood; past it the client is told to slow down (4xx: real servers retry later).
MESSAGES_PER_MINUTE = 120


class ClientLimit:
    """Messages per client address in fixed one-minute windows, by the injected clock."""

    def __init__(self, clock, limit: int = MESSAGES_PER_MINUTE):
        self.clock, self.limit = clock, limit
        self._window: int | None = None
        self._counts: dict[str, int] = {}

    def allow(self, client: str) -> bool:
        window = int(self.clock().timestamp() // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        self._counts[client] = self._counts.get(client, 0) + 1
        return self._counts[client] <= self.limit


class InboundHandler:
    """aiosmtpd handler: every message delivered here is read; the answer waits for the commit."""

    def __init__(self, rt, *, limit: int = MESSAGES_PER_MINUTE):
        self.rt = rt
        self.limit = ClientLimit(rt.clock, limit)

    async def handle_DATA(self, server, session, envelope) -> str:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        if not self.limit.allow(peer):
            log.warning("inbound SMTP: over %d messages a minute from %s", self.limit.limit, peer)
            return "421 4.7.0 Too many messages from your address, try again later"
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await record_inbound(self.rt, raw)
        except replies.Unreadable as exc:  # the same bytes would fail the same way: refuse for good
            log.warning("inbound message refused: %s", exc)
            return "550 5.6.0 Message not readable: MIME parts nested too deeply"
        except Exception:  # not stored: the sending server keeps it and retries
            log.exception("inbound message not recorded")
            return "451 4.3.0 Not stored, try again later"
        return "250 2.0.0 Accepted"


async def serve_smtp(rt, host: str, port: int, *, handler: InboundHandler | None = None):
    """Start the inbound SMTP server on the running loop; returns the asyncio server."""
    from aiosmtpd.smtp import SMTP

    handler = handler or InboundHandler(rt)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True, hostname="livefeed"), host, port
    )
