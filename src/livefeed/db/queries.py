"""Read queries, always scoped to a workspace and a rep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, func, or_, select

from ..core import places
from ..core.model import ALERTING, ITEM, MARKETING, NOTICE, SCORE, Location, iso_z
from ..core.replies import BOUNCE
from .sql import like_literal
from .tables import emails, events, links, outbox, people, recipients, smtp_accounts, users, workspaces

# One projection for the feed, used by the API, the stream's replay and the live path alike.
FEED_COLUMNS = (
    events,
    func.coalesce(recipients.c.subject, emails.c.subject).label("subject"),  # each copy's own, fields filled
    emails.c.shared_with,
    people.c.email.label("person_email"),
    people.c.name.label("person_name"),
    people.c.added_at.label("person_added_at"),
    links.c.url.label("link_url"),
    recipients.c.forward_state,
)


def _feed_select():
    return (
        select(*FEED_COLUMNS)
        .select_from(events)
        .outerjoin(people, people.c.id == events.c.person_id)  # a notice is about no person
        .outerjoin(emails, emails.c.id == events.c.email_id)  # a score rise has no email
        .outerjoin(recipients, recipients.c.id == events.c.recipient_id)
        .outerjoin(links, links.c.id == events.c.link_id)
    )


def feed_page(conn: Connection, *, workspace_id: int, user_id: int, limit: int, before: int | None = None) -> list[Mapping]:
    """The rep's events, newest first, optionally older than `before`."""
    query = _feed_select().where(events.c.workspace_id == workspace_id, events.c.user_id == user_id)
    if before is not None:
        query = query.where(events.c.id < before)
    return list(conn.execute(query.order_by(events.c.id.desc()).limit(limit)).mappings())


def person_events(conn: Connection, *, workspace_id: int, user_id: int | None, person_id: int, limit: int) -> list[Mapping]:
    """The rep's events about one person, newest first (the person page's timeline); `user_id`
    None: every rep's in the workspace (the admin's team view)."""
    query = _feed_select().where(events.c.workspace_id == workspace_id, events.c.person_id == person_id)
    if user_id is not None:
        query = query.where(events.c.user_id == user_id)
    return list(conn.execute(query.order_by(events.c.id.desc()).limit(limit)).mappings())


def feed_after(conn: Connection, *, workspace_id: int, user_id: int, after: int, limit: int) -> list[Mapping]:
    """The rep's events with id > `after`, oldest first (replay after a reconnect)."""
    query = _feed_select().where(events.c.workspace_id == workspace_id, events.c.user_id == user_id, events.c.id > after)
    return list(conn.execute(query.order_by(events.c.id).limit(limit)).mappings())


def log_after(
    conn: Connection, *, after: int, limit: int | None = None, upto: int | None = None, users: list[int] | None = None
) -> list[Mapping]:
    """Every rep's (or these reps') events with after < id ≤ upto, oldest first. Internal to
    fan-out (each row goes only to its own rep's streams); the one query not scoped to a workspace."""
    query = _feed_select().where(events.c.id > after)
    if upto is not None:
        query = query.where(events.c.id <= upto)
    if users is not None:
        query = query.where(events.c.user_id.in_(users))
    return list(conn.execute(query.order_by(events.c.id).limit(limit)).mappings())


def event_by_id(conn: Connection, *, workspace_id: int, user_id: int, event_id: int) -> Mapping | None:
    query = _feed_select().where(events.c.workspace_id == workspace_id, events.c.user_id == user_id, events.c.id == event_id)
    return conn.execute(query).mappings().first()


def workspace_id_by_name(conn: Connection, name: str) -> int | None:
    return conn.execute(select(workspaces.c.id).where(workspaces.c.name == name)).scalar()


def newest_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar() or 0


def verdicts(conn: Connection, *, workspace_id: int, user_id: int, ids: list[int]) -> dict[tuple[str, str], list[int]]:
    """The current class and reason of these events, grouped: {(cls, reason): [ids]}."""
    query = select(events.c.id, events.c.cls, events.c.reason).where(
        events.c.workspace_id == workspace_id, events.c.user_id == user_id, events.c.id.in_(ids)
    )
    grouped: dict[tuple[str, str], list[int]] = {}
    for row in conn.execute(query):
        grouped.setdefault((row.cls, row.reason), []).append(row.id)
    return grouped


def event_view(row: Mapping) -> dict:
    """The JSON shape of one feed event (API, stream and window)."""
    if row["kind"] == NOTICE:  # about the rep's own account: no person, a message and where to act
        return {
            "id": row["id"],
            "at": iso_z(row["at"]),
            "kind": NOTICE,
            "class": NOTICE,
            "alert": True,
            "reason": row["reason"],
            "email": None,
            "person": None,
            "message": row["detail"],
            "link_url": row["url"],
            "device": None,
            "location": None,
            "forwarded": False,
            "forward_evidence": [],
            "detail": None,
        }
    if row["kind"] == ITEM:
        return {
            "id": row["id"],
            "at": row["at"].isoformat().replace("+00:00", "Z"),
            "kind": ITEM,
            "class": ITEM,
            "alert": True,
            "reason": row["reason"],
            "email": None,
            "person": {"id": row["person_id"], "email": row["person_email"], "name": row["person_name"]},
            "message": row["detail"],
            "link_url": row["url"],
            "idempotency_key": row["idempotency_key"],
            "device": None,
            "location": None,
            "forwarded": False,
            "forward_evidence": [],
            "detail": None,
        }
    if row["cls"] == MARKETING:
        return {
            "id": row["id"],
            "at": iso_z(row["at"]),
            "kind": row["kind"],
            "class": MARKETING,
            "alert": True,
            "reason": row["reason"],
            "email": None,
            "person": {
                "id": row["person_id"],
                "email": row["person_email"],
                "name": row["person_name"],
                "in_livefeed": row.get("person_added_at") is not None,
            },
            "message": row["detail"],
            "link_url": row["url"],
            "visit_id": row.get("visit_id"),
            "device": None,
            "location": None,
            "forwarded": False,
            "forward_evidence": [],
            "detail": None,
        }
    if row["kind"] == SCORE:
        return {
            "id": row["id"],
            "at": row["at"].isoformat().replace("+00:00", "Z"),
            "kind": SCORE,
            "class": SCORE,
            "alert": True,
            "reason": row["reason"],
            "email": None,
            "person": {"id": row["person_id"], "email": row["person_email"], "name": row["person_name"]},
            "score": {"old": row["score_old"], "new": row["score_new"]},
            "link_url": None,
            "device": None,
            "location": None,
            "forwarded": False,
            "forward_evidence": [],
        }
    state = row.get("forward_state") or {}
    location = Location(
        city=row["city"],
        region=row["region"],
        country=row["country"],
        country_code=row["country_code"],
        radius_km=row["radius_km"],
        note=row["location_note"],
    )
    return {
        "id": row["id"],
        "at": row["at"].isoformat().replace("+00:00", "Z"),
        "kind": row["kind"],
        "class": row["cls"],
        "alert": row["cls"] in ALERTING or row["kind"] == BOUNCE,  # a bounce is news, though no person sent it
        "reason": row["reason"],
        # shared_with N: one body Gmail sent to N recipients; the person is the first of them
        "email": {"id": row["email_id"], "subject": row["subject"], "shared_with": row.get("shared_with")},
        "person": {"id": row["person_id"], "email": row["person_email"], "name": row["person_name"]},
        "link_url": row["link_url"],
        "device": row["client"] and " · ".join(p for p in (row["client"], row["device"]) if p),
        "location": {
            "label": location.label,
            "city": row["city"],
            "region": row["region"],
            "country": row["country"],
            "country_code": row["country_code"],
            "radius_km": row["radius_km"],
            "hidden": row["location_note"],
            "caveat": places.caveat(row["person_email"], located=bool(row["city"] or row["country"])),
        },
        "forwarded": bool(state.get("evidence")),
        "forward_evidence": list(state.get("evidence") or ()),
        "detail": row.get("detail"),  # a reply's first lines, a bounce's diagnostic
    }


def sent_page(
    conn: Connection, *, workspace_id: int, user_id: int, q: str = "", before: int | None = None, limit: int
) -> tuple[list[dict], Sequence[Mapping], set[int], Sequence]:
    """The Sent page's reads: the rep's emails (newest first, older than `before`, matching `q` in
    the subject or a recipient's address), their copies, which of them only reached the local
    outbox, and the people's hits and replies (and bounces) per copy, kind and reason."""
    query = (
        select(
            emails.c.id,
            emails.c.subject,
            emails.c.status,
            emails.c.error,
            emails.c.created_at,
            emails.c.archived,
            emails.c.shared_with,
        )
        .where(emails.c.workspace_id == workspace_id, emails.c.user_id == user_id)
        .order_by(emails.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(emails.c.id < before)
    if q.strip():  # the subject, or any recipient's address
        pattern = "%" + like_literal(q.strip().lower()) + "%"
        to_them = select(recipients.c.email_id).where(recipients.c.address.like(pattern, escape="\\"))
        query = query.where(or_(func.lower(emails.c.subject).like(pattern, escape="\\"), emails.c.id.in_(to_them)))
    sent = [dict(row) for row in conn.execute(query).mappings()]
    ids = [e["id"] for e in sent]
    copies = (
        list(
            conn.execute(
                select(
                    recipients.c.id,
                    recipients.c.email_id,
                    recipients.c.address,
                    recipients.c.forward_state,
                    recipients.c.subject,
                )
                .where(recipients.c.email_id.in_(ids))
                .order_by(recipients.c.id)
            ).mappings()
        )
        if ids
        else []
    )
    # "delivered" means a mail server took it: not for copies that only reached the local outbox
    in_outbox = (
        set(conn.execute(select(outbox.c.email_id).where(outbox.c.email_id.in_(ids)).distinct()).scalars()) if ids else set()
    )
    counts = (
        conn.execute(
            select(
                events.c.recipient_id,
                events.c.kind,
                events.c.reason,
                func.count().label("n"),
                func.max(events.c.at).label("last"),
            )
            .where(
                events.c.user_id == user_id,
                events.c.email_id.in_(ids),
                or_(events.c.cls.in_(("human", "proxy")), events.c.kind == "bounce"),
            )
            .group_by(events.c.recipient_id, events.c.kind, events.c.reason)
        ).all()
        if ids
        else []
    )
    return sent, copies, in_outbox, counts


def active_user_email(conn: Connection, user_id: int) -> str | None:
    """A user's email, None when there is no such user or they are disabled."""
    return conn.execute(select(users.c.email).where(users.c.id == user_id, users.c.disabled_at.is_(None))).scalar()


def has_smtp_account(conn: Connection, user_id: int) -> bool:
    return conn.execute(select(smtp_accounts.c.user_id).where(smtp_accounts.c.user_id == user_id)).first() is not None


def outbox_page(conn: Connection, *, workspace_id: int, user_id: int, message_id: int | None = None) -> list[Mapping]:
    """The rep's local outbox, newest first (100); one message with its raw source when `message_id` is given."""
    columns = [outbox.c.id, outbox.c.rcpt, outbox.c.subject, outbox.c.created_at, recipients.c.field]
    if message_id is not None:
        columns.append(outbox.c.raw)  # up to 2 MB each: only for the one message shown
    query = (
        select(*columns)
        .join(recipients, recipients.c.id == outbox.c.recipient_id)
        .where(outbox.c.workspace_id == workspace_id, outbox.c.user_id == user_id)
    )
    if message_id is not None:
        query = query.where(outbox.c.id == message_id)
    return list(conn.execute(query.order_by(outbox.c.id.desc()).limit(100)).mappings())
