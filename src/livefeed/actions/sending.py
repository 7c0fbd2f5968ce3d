"""The send queue: every recipient's copy is stored before it is sent and settled after.

At least once, never silently lost: a copy is queued in the transaction that stores the email,
claimed by whoever sends it (the request that sent the email, or after a crash or a transient
failure the background sender) for `claim_seconds`, and settled by its outcome — sent; queued
again with backoff after a transient failure (4xx, no connection); failed with the server's words
after a permanent refusal (5xx) or the last attempt. A copy whose sender died while it was being
sent is sent again once its claim runs out, with the same Message-ID, so a receiving server (and
a reader) can recognise the repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_string, policy

from sqlalchemy import Connection, Engine, func, select, update

from ..db.tables import emails, mail_connections, send_queue, smtp_accounts, users
from ..integrations.smtp import MailError, Outgoing

QUEUED, SENT, FAILED = "queued", "sent", "failed"


@dataclass(frozen=True)
class Retry:
    """How copies are retried (injected: tests shorten it)."""

    claim_seconds: float = 300.0  # a sender holds a copy this long; a crashed one's copies come back after it
    backoff_seconds: tuple[float, ...] = (60, 300, 900, 3600, 3 * 3600)  # after the 1st, 2nd… failure
    max_attempts: int = 6  # then the copy fails for good
    batch: int = 100  # copies claimed by one background pass


def queue_rows(copies: Sequence[Outgoing], *, now: datetime, retry: Retry) -> list[dict]:
    """The rows that queue `copies`, claimed by the sender about to try them."""
    claimed = now + timedelta(seconds=retry.claim_seconds)
    return [
        {
            "recipient_id": c.recipient_id,
            "email_id": c.email_id,
            "workspace_id": c.workspace_id,
            "user_id": c.user_id,
            "rcpt": c.rcpt,
            "raw": c.message.as_string(),
            "status": QUEUED,
            "attempts": 0,
            "next_attempt_at": claimed,
            "error": None,
            "updated_at": now,
        }
        for c in copies
    ]


def settle(
    engine: Engine, copies: Sequence[Outgoing], outcomes: Sequence[MailError | None], *, now: datetime, retry: Retry
) -> dict[int, tuple[str, str | None]]:
    """Record each copy's outcome, then each email's status; {email id: (status, error)}."""
    with engine.begin() as conn:
        for copy, outcome in zip(copies, outcomes):
            conn.execute(
                update(send_queue)
                .where(send_queue.c.recipient_id == copy.recipient_id)
                .values(**_settled(conn, copy.recipient_id, outcome, now, retry))
            )
        return {email_id: _email_status(conn, email_id, now) for email_id in dict.fromkeys(c.email_id for c in copies)}


def _settled(conn: Connection, recipient_id: int, outcome: MailError | None, now: datetime, retry: Retry) -> dict:
    if outcome is None:
        return {"status": SENT, "raw": None, "error": None, "updated_at": now}
    attempts = conn.execute(select(send_queue.c.attempts).where(send_queue.c.recipient_id == recipient_id)).scalar_one() + 1
    if outcome.permanent or attempts >= retry.max_attempts:
        return {"status": FAILED, "attempts": attempts, "error": str(outcome)[:2000], "updated_at": now}
    wait = max(
        retry.backoff_seconds[min(attempts, len(retry.backoff_seconds)) - 1], outcome.retry_after or 0
    )  # the server's Retry-After
    return {
        "status": QUEUED,
        "attempts": attempts,
        "error": str(outcome)[:2000],
        "updated_at": now,
        "next_attempt_at": now + timedelta(seconds=wait),
    }


def _email_status(conn: Connection, email_id: int, now: datetime) -> tuple[str, str | None]:
    """sent once every copy is; sending while any is queued; else failed, with the first error."""
    counts: dict[str, int] = dict(
        conn.execute(
            select(send_queue.c.status, func.count()).where(send_queue.c.email_id == email_id).group_by(send_queue.c.status)
        ).all()
    )
    error = conn.execute(
        select(send_queue.c.error)
        .where(send_queue.c.email_id == email_id, send_queue.c.error.is_not(None))
        .order_by(send_queue.c.recipient_id)
        .limit(1)
    ).scalar()
    if counts.get(QUEUED):
        status = "sending"
    elif counts.get(FAILED):
        status = "failed"
    else:
        status, error = "sent", None
    conn.execute(
        update(emails)
        .where(emails.c.id == email_id)
        .values(status=status, error=error, sent_at=now if status == "sent" else None)
    )
    return status, error


@dataclass(frozen=True)
class Claimed:
    """Copies of one rep's taken from the queue, ready to send."""

    sender: str  # the rep's address (the envelope sender)
    account: dict | None  # the rep's own SMTP account, if any
    copies: list[Outgoing]
    connection: dict | None = None  # the rep's connected Google or Microsoft account, if any (it comes first)


def claim_due(engine: Engine, *, now: datetime, retry: Retry) -> list[Claimed]:
    """Take the copies due now (claimed for `claim_seconds`), grouped by rep."""
    until = now + timedelta(seconds=retry.claim_seconds)
    with engine.begin() as conn:
        due = (
            conn.execute(
                select(send_queue)
                .where(send_queue.c.status == QUEUED, send_queue.c.next_attempt_at <= now)
                .order_by(send_queue.c.next_attempt_at)
                .limit(retry.batch)
            )
            .mappings()
            .all()
        )
        mine = []
        for row in due:  # taken only if nobody took it meanwhile (another worker, the request itself)
            taken = conn.execute(
                update(send_queue)
                .where(
                    send_queue.c.recipient_id == row["recipient_id"],
                    send_queue.c.status == QUEUED,
                    send_queue.c.next_attempt_at == row["next_attempt_at"],
                )
                .values(next_attempt_at=until)
            ).rowcount
            if taken:
                mine.append(row)
        groups: dict[int, Claimed] = {}
        for row in mine:
            if row["user_id"] not in groups:
                sender = conn.execute(select(users.c.email).where(users.c.id == row["user_id"])).scalar_one()
                account = conn.execute(select(smtp_accounts).where(smtp_accounts.c.user_id == row["user_id"])).mappings().first()
                connection = (
                    conn.execute(select(mail_connections).where(mail_connections.c.user_id == row["user_id"])).mappings().first()
                )
                groups[row["user_id"]] = Claimed(
                    sender, dict(account) if account else None, [], dict(connection) if connection else None
                )
            message = message_from_string(row["raw"], policy=policy.default)
            thread_id = conn.execute(select(emails.c.thread_id).where(emails.c.id == row["email_id"])).scalar()
            groups[row["user_id"]].copies.append(
                Outgoing(
                    row["workspace_id"], row["user_id"], row["email_id"], row["recipient_id"], row["rcpt"], message, thread_id
                )
            )
        return list(groups.values())
