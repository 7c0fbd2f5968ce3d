"""People, their owners and lead scores: upsert (API), patch, and CSV import — all one path.

Every score change is kept in `score_changes` (time, old, new, source). A score that rises from an
earlier value is announced to the person's owner as a feed event ("Score rose from 40 to 65");
a person's first score is recorded but not announced. A person enters the owner's Target list
once their score has risen (a first score counts as rising from nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, String, any_, bindparam, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from ..core.contacts import Rejected, display_name, read_csv, tel_url
from ..core.model import SCORE, Invalid, iso_z
from ..db.bulk import Bulk
from ..db.eventlog import EventLog, event_row
from ..db.sql import like_literal, new_id
from ..db.tables import people, score_changes, users
from ..live.postgres import commit_notices
from .changes import Changes, after_commit

SOURCES = ("api", "import", "marketo", "salesforce")
ADDING = ("api", "import", "salesforce")  # known to sales; marketing sources only make people known
CHUNK = 900  # rows per IN (…) lookup: under SQLite's old 999-variable limit
# The columns an upsert may change, besides the email and the times.
PERSON_COLUMNS = (
    "first_name",
    "last_name",
    "name",
    "title",
    "company",
    "phone",
    "linkedin_url",
    "owner_id",
    "lead_score",
    "score_source",
    "score_changed_at",
    "last_increase_at",
    "updated_at",
    "added_at",
    "marketo_id",
    "salesforce_id",
    "fields_at",
)
PLAIN_FIELDS = ("first_name", "last_name", "title", "company", "phone", "linkedin_url", "marketo_id", "salesforce_id")


KEEP = object()  # "this record leaves the field as it is" (absent from the JSON or the CSV row)


class Rejection(Exception):
    """Rows were rejected and the file is applied all-or-nothing: nothing was written."""

    def __init__(self, rejected: list[Rejected]):
        super().__init__(f"{len(rejected)} rows rejected")
        self.rejected = rejected


@dataclass
class Applied:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # email → person id
    owners: set[int] = field(default_factory=set)  # reps whose Target list may have changed
    rises: int = 0  # score rises announced as feed events


class NotYours(Exception):
    """A rep tried to change a person another rep owns: only the owner or an admin may."""


def may_change(actor: Mapping | None, owner_id: int | None) -> bool:
    """Who changes a person (fields, owner, do-not-track): an admin, its owner, anyone while it has
    no owner; the operator's imports and the connectors (no actor) always."""
    return actor is None or actor["role"] == "admin" or owner_id is None or owner_id == actor["id"]


def apply_people(
    conn: Connection,
    *,
    workspace_id: int,
    records: list[tuple[int, dict]],
    source: str,
    now: datetime,
    partial: bool = False,
    existing: dict[str, dict] | None = None,
    actor: Mapping | None = None,
) -> tuple[Applied, list[dict]]:
    """Upsert people by email in one transaction; return what happened and the score-rise events
    to append. A row whose owner is not a rep of the workspace is rejected; unless `partial`, any
    rejection raises Rejection before anything is written. NotYours when `actor` (a rep) changes
    someone another rep owns."""
    applied = Applied(rejected=[])
    reps = dict(conn.execute(select(users.c.email, users.c.id).where(users.c.workspace_id == workspace_id)).all())
    if existing is None:
        existing = existing_people(conn, workspace_id, [record["email"] for _, record in records])
    inserts: list[dict] = []
    updates: list[dict] = []
    changes: list[tuple[str, tuple]] = []
    rises: list[tuple[Mapping, dict, tuple]] = []
    for line, record in records:
        owner = record.get("owner_email", KEEP)
        if owner is not KEEP and owner is not None and owner not in reps:
            applied.rejected.append(Rejected(line, record["email"], "owner_email", f"no rep {owner} in this workspace"))
            continue
        current = existing.get(record["email"])
        if current is not None and not may_change(actor, current["owner_id"]):
            raise NotYours(record["email"])
        if current is not None:
            applied.ids[record["email"]] = current["id"]
        values, change = merge(current, record, owner_id=KEEP if owner is KEEP else reps.get(owner), source=source, now=now)
        if current is None:
            inserts.append({**values, "workspace_id": workspace_id, "email": record["email"], "created_at": now})
        elif values:
            updates.append({**{c: current[c] for c in PERSON_COLUMNS}, **values, "id": current["id"]})
            applied.owners.update(o for o in (current["owner_id"], values.get("owner_id", current["owner_id"])) if o)
        else:
            applied.unchanged += 1
            continue
        if change:
            changes.append((record["email"], change))
            if current is not None and change[0] is not None and change[1] is not None and change[1] > change[0]:
                rises.append((current, values, change))
    if applied.rejected and not partial:
        raise Rejection(applied.rejected)
    bulk = Bulk(conn)
    applied.owners.update(row["owner_id"] for row in inserts if row["owner_id"] and row["last_increase_at"])
    if inserts:
        columns = ["workspace_id", "email", "created_at", *PERSON_COLUMNS]
        if bulk.postgres:  # COPY the rows with ids reserved from the sequence
            for row, person_id in zip(inserts, bulk.new_ids(people, len(inserts))):
                row["id"] = applied.ids[row["email"]] = person_id
            bulk.insert(people, ["id", *columns], inserts)
        else:  # SQLite: the lookup is served by the (workspace_id, email) index
            bulk.insert(people, columns, inserts)
            found = existing_people(conn, workspace_id, [r["email"] for r in inserts])
            applied.ids.update((email, row["id"]) for email, row in found.items())
    bulk.update(people, PERSON_COLUMNS, updates)
    bulk.insert(
        score_changes,
        ("workspace_id", "person_id", "at", "old", "new", "source"),
        [
            {"workspace_id": workspace_id, "person_id": applied.ids[email], "at": now, "old": old, "new": new, "source": source}
            for email, (old, new) in changes
        ],
    )
    events = [
        _rise_event(workspace_id, current, values, change, now)
        for current, values, change in rises
        if values.get("owner_id", current["owner_id"])
    ]  # a rise with no owner has nobody to tell
    applied.created, applied.updated, applied.rises = len(inserts), len(updates), len(events)
    return applied, events


async def upsert_people(
    rt, *, workspace_id: int, records: list[tuple[int, dict]], source: str, before=None, actor: Mapping | None = None
) -> Applied:
    """Apply person records through the recorder's writer (score rises become feed events, in id
    order with the hits), then drop the affected Target lists and tell the owners' windows.
    `before(conn)` runs first in the same transaction. Raise Invalid for a rejected record."""
    now = rt.clock()

    def job(conn):
        if before is not None:
            before(conn)
        return apply_people(conn, workspace_id=workspace_id, records=records, source=source, now=now, actor=actor)

    try:
        applied = await rt.recorder.write(job)
    except Rejection as exc:
        raise Invalid(exc.rejected[0].field, exc.rejected[0].message) from None
    changes = Changes().targets_of(applied.owners)
    if applied.owners or applied.rises:
        changes.scores_in(workspace_id)  # this process's next list uses the new scores
    await after_commit(rt, changes)
    return applied


def merge(current: Mapping | None, record: Mapping, *, owner_id, source: str, now: datetime) -> tuple[dict, tuple | None]:
    """The column values that change (all of them for a new person) and the score change (old,
    new) if any. `owner_id` is KEEP when the record leaves the owner as it is."""
    before = current or {}
    values: dict = {}
    # A record may carry its source's own time ("as_of": a webhook's activity time, a CRM's
    # modification stamp, the API's or a CSV's as_of). Older than the delivery that last changed
    # the lead fields (a replayed or late webhook, an older page): those fields stay as they are.
    as_of = record.get("as_of")
    if as_of is not None and before.get("fields_at") is not None and as_of < before["fields_at"]:
        record = {k: v for k, v in record.items() if k not in PLAIN_FIELDS and k != "lead_score" and k != "owner_email"}
        owner_id = KEEP
    for name in PLAIN_FIELDS:
        if name in record and record[name] != before.get(name):
            values[name] = record[name]
    if owner_id is not KEEP and owner_id != before.get("owner_id"):
        values["owner_id"] = owner_id
    if "first_name" in values or "last_name" in values:
        full = display_name(values.get("first_name", before.get("first_name")), values.get("last_name", before.get("last_name")))
        if full and full != before.get("name"):
            values["name"] = full
    change = None
    if "lead_score" in record and record["lead_score"] != before.get("lead_score"):
        old, new = before.get("lead_score"), record["lead_score"]
        change = (old, new)
        values.update(lead_score=new, score_source=source, score_changed_at=now)
        if new is None:
            values["last_increase_at"] = None  # no score, no place on the Target list
        elif old is None or new > old:
            values["last_increase_at"] = now
    if as_of is not None and (values or change) and (before.get("fields_at") is None or as_of > before["fields_at"]):
        values["fields_at"] = as_of
    if source in ADDING and before.get("added_at") is None:
        values["added_at"] = now
    if values:
        values["updated_at"] = now
    if current is None:
        values = {c: values.get(c) for c in PERSON_COLUMNS} | {"updated_at": now}
    return values, change


def _rise_event(workspace_id: int, current: Mapping, values: Mapping, change: tuple, now: datetime) -> dict:
    old, new = change
    return event_row(
        workspace_id=workspace_id, user_id=values.get("owner_id", current["owner_id"]), person_id=current["id"],
        kind=SCORE, cls=SCORE, reason=f"Score rose from {old} to {new}", at=now, score_old=old, score_new=new,
        # for the live frame (not stored with the event)
        person_email=current["email"], person_name=values.get("name", current["name"]), subject=None, link_url=None,
        forward_state=None,
    )  # fmt: skip


def existing_people(conn: Connection, workspace_id: int, emails: list[str]) -> dict[str, dict]:
    """The workspace's people with these addresses: email → their upsertable columns and id."""
    found: dict[str, dict] = {}
    columns = (people.c.id, people.c.email, *(people.c[c] for c in PERSON_COLUMNS))
    if conn.dialect.name == "postgresql" and emails:  # one round trip: email = ANY(array)
        query = select(*columns).where(
            people.c.workspace_id == workspace_id, people.c.email == any_(bindparam("emails", type_=ARRAY(String)))
        )
        return {row["email"]: dict(row) for row in conn.execute(query, {"emails": emails}).mappings()}
    for start in range(0, len(emails), CHUNK):
        chunk = emails[start : start + CHUNK]
        query = select(*columns).where(people.c.workspace_id == workspace_id, people.c.email.in_(chunk))
        for row in conn.execute(query).mappings():
            found[row["email"]] = dict(row)
    return found


# --- reading ---------------------------------------------------------------------------------


def person(conn: Connection, *, workspace_id: int, person_id: int, history: int = 0) -> dict | None:
    """One person of the workspace, as the API shows it (with the newest score changes)."""
    owner = users.alias("owner")
    query = (
        select(people, owner.c.email.label("owner_email"), owner.c.name.label("owner_name"))
        .outerjoin(owner, owner.c.id == people.c.owner_id)
        .where(people.c.workspace_id == workspace_id, people.c.id == person_id)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    view = person_view(row)
    if history:
        changes = conn.execute(
            select(score_changes)
            .where(score_changes.c.person_id == person_id)
            .order_by(score_changes.c.at.desc(), score_changes.c.id.desc())
            .limit(history)
        ).mappings()
        view["score_history"] = [{"at": iso_z(c["at"]), "old": c["old"], "new": c["new"], "source": c["source"]} for c in changes]
    return view


def person_view(row: Mapping) -> dict:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "title": row["title"],
        "company": row["company"],
        "phone": row["phone"],
        "linkedin_url": row["linkedin_url"],
        "tel_url": tel_url(row["phone"]),
        "owner": {"id": row["owner_id"], "email": row["owner_email"], "name": row["owner_name"]} if row["owner_id"] else None,
        "lead_score": row["lead_score"],
        "score_source": row["score_source"],
        "score_changed_at": iso_z(row["score_changed_at"]),
        "created_at": iso_z(row["created_at"]),
        "updated_at": iso_z(row["updated_at"]),
        "in_livefeed": row["added_at"] is not None,
        "added_at": iso_z(row["added_at"]),
        "marketo_id": row["marketo_id"],
        "salesforce_id": row["salesforce_id"],
        "do_not_track": bool(row["do_not_track"]),
    }


def ensure_person(
    conn: Connection, workspace_id: int, email: str, now: datetime, name: str | None = None, *, added: bool = True
) -> int:
    """The workspace's person with this address (created when unknown; a name fills an empty one).
    `added`: a rep's act (an email, a pushed item) adds them to LiveFeed; marketing only makes
    them known."""
    found = conn.execute(
        select(people.c.id, people.c.name, people.c.added_at).where(
            people.c.workspace_id == workspace_id, people.c.email == email
        )
    ).first()
    if found is None:
        return new_id(
            conn.execute(
                insert(people).values(
                    workspace_id=workspace_id,
                    email=email,
                    name=name,
                    created_at=now,
                    updated_at=now,
                    added_at=now if added else None,
                )
            )
        )
    changes: dict[str, object] = {}
    if name and not found.name:
        changes["name"] = name
    if added and found.added_at is None:
        changes["added_at"] = now  # a rep writes to or acts on someone known only from marketing
    if changes:
        conn.execute(update(people).where(people.c.id == found.id).values(**changes, updated_at=now))
    return found.id


def person_id_by_email(conn: Connection, workspace_id: int, email: str) -> int | None:
    return conn.execute(select(people.c.id).where(people.c.workspace_id == workspace_id, people.c.email == email)).scalar()


def check_email_free(conn: Connection, workspace_id: int, email: str, person_id: int) -> None:
    other = person_id_by_email(conn, workspace_id, email)
    if other is not None and other != person_id:
        raise Invalid("email", f"{email} already belongs to person {other}")


# --- CSV import (the CLI) ----------------------------------------------------------------------

IMPORT_CHUNK = 5000
SQLITE_CHUNK = 2000  # ≈ 0.3 s of SQLite's write lock each
SQLITE_PAUSE_SECONDS = 0.03  # between SQLite chunks: long enough for a waiting writer's busy retry


def import_people(
    engine: Engine,
    *,
    workspace_id: int,
    text: str,
    partial: bool,
    now: datetime,
    progress: Callable[[int, int], None] = lambda done, total: None,
    pause: Callable[[], None] = lambda: time.sleep(SQLITE_PAUSE_SECONDS),
) -> Applied:
    """Import a people CSV. Every row is checked first; if any is rejected nothing is written
    (unless `partial`, which skips the rejected rows). Score rises become feed events.

    PostgreSQL writes the file in one transaction. SQLite has one writer at a time, so holding its
    lock for a 100,000-row file (≈ 8 s measured) would make tracking hits time out behind it: it
    writes chunks of SQLITE_CHUNK rows, each its own short transaction, and pauses between them so
    a waiting writer gets in. An import cut short there is finished by running it again (upserts
    of the same rows change nothing twice)."""
    records, rejected = read_csv(text)
    with engine.connect() as conn:
        reps = set(conn.execute(select(users.c.email).where(users.c.workspace_id == workspace_id)).scalars())
    unknown = [(line, r) for line, r in records if r.get("owner_email") is not None and r["owner_email"] not in reps]
    if unknown:
        rejected = sorted(
            rejected
            + [Rejected(line, r["email"], "owner_email", f"no rep {r['owner_email']} in this workspace") for line, r in unknown],
            key=lambda r: r.line,
        )
        records = [(line, r) for line, r in records if r.get("owner_email") is None or r["owner_email"] in reps]
    if rejected and not partial:
        raise Rejection(rejected)
    log_ = EventLog(engine.dialect.name)
    total = Applied(rejected=list(rejected))
    size = SQLITE_CHUNK if log_.sqlite else IMPORT_CHUNK
    chunks = [records[start : start + size] for start in range(0, len(records), size)]
    if log_.sqlite:
        for index, chunk in enumerate(chunks):
            with engine.begin() as conn:
                log_.lock(conn)
                applied, events = apply_people(
                    conn, workspace_id=workspace_id, records=chunk, source="import", now=now, partial=partial
                )
                if events:
                    log_.append(conn, events)  # a running server publishes them (its writer notices new ids)
            _add(total, applied)
            progress(min((index + 1) * size, len(records)), len(records))
            if index + 1 < len(chunks):
                pause()
        return _sorted(total)
    with engine.begin() as conn:
        rises: list[dict] = []
        # Every lookup before the first write, while the planner's statistics match the table.
        existing = existing_people(conn, workspace_id, [record["email"] for _, record in records])
        for index, chunk in enumerate(chunks):
            applied, events = apply_people(
                conn, workspace_id=workspace_id, records=chunk, source="import", now=now, partial=partial, existing=existing
            )
            _add(total, applied)
            rises += events
            progress(min((index + 1) * size, len(records)), len(records))
        if rises:
            log_.lock(conn)
        ids = log_.append(conn, rises) if rises else []
        # Other workers' streams learn of it on commit.
        log_.notify(conn, commit_notices([(r["user_id"], i) for r, i in zip(rises, ids)], targets_of=total.owners))
    return _sorted(total)


def _add(total: Applied, applied: Applied) -> None:
    for name in ("created", "updated", "unchanged", "rises"):
        setattr(total, name, getattr(total, name) + getattr(applied, name))
    total.rejected += applied.rejected
    total.owners |= applied.owners


def _sorted(total: Applied) -> Applied:
    total.rejected.sort(key=lambda r: r.line)
    return total


def card(
    conn: Connection, user: Mapping, *, email: str, stars_of: Callable[[int | None], int], now: datetime, events_limit: int = 5
) -> dict:
    """What the rep sees beside a Gmail thread about the person they write to: the person (None
    when unknown in the workspace), their Target stars, this rep's newest rows about them and the
    rep's open tasks with them."""
    from ..core import taskdates
    from ..db import queries
    from . import tasks as task_actions

    found = conn.execute(
        select(people.c.id).where(people.c.workspace_id == user["workspace_id"], people.c.email == email)
    ).scalar()
    if found is None:
        return {"email": email, "person": None, "stars": 0, "recent": [], "open_tasks": []}
    view = person(conn, workspace_id=user["workspace_id"], person_id=found)
    if view is None:  # removed since the lookup above
        return {"email": email, "person": None, "stars": 0, "recent": [], "open_tasks": []}
    recent = [
        queries.event_view(row)
        for row in queries.person_events(
            conn, workspace_id=user["workspace_id"], user_id=user["id"], person_id=found, limit=events_limit
        )
    ]
    tz = taskdates.zone(user["timezone"])
    open_tasks = task_actions.list_tasks(
        conn, user, assignee_id=user["id"], tz=tz, window=None, status="open", overdue=False, now=now, limit=5, person_id=found
    )
    return {"email": email, "person": view, "stars": stars_of(view["lead_score"]), "recent": recent, "open_tasks": open_tasks}


def matching(text: str):
    """People whose email starts with `text`, or any word of whose name or company does ("smith"
    finds "Paul Smith", "labs" finds "Acme Labs"); %, _ and \\ match themselves."""
    escaped = like_literal(text.strip().lower())
    prefix, word = escaped + "%", "% " + escaped + "%"
    return or_(
        people.c.email.like(prefix, escape="\\"),
        people.c.last_name.ilike(prefix, escape="\\"),
        *(column.ilike(pattern, escape="\\") for column in (people.c.name, people.c.company) for pattern in (prefix, word)),
    )


# --- what the People pages and the API show and change ----------------------------------------


def find(conn: Connection, workspace_id: int, q: str, *, limit: int) -> list[dict]:
    """People by the start of their email or any word of their name or company (the API's search)."""
    query = (
        select(people.c.id, people.c.email, people.c.name, people.c.company)
        .where(people.c.workspace_id == workspace_id, matching(q))
        .order_by(people.c.email)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def listed(conn: Connection, user: Mapping, *, q: str, scope: str, limit: int) -> list[Mapping]:
    """The People page: highest score first; `scope` all, mine (owned by the rep) or new (known
    only from marketing, not added to LiveFeed)."""
    query = select(
        people.c.id, people.c.email, people.c.name, people.c.company, people.c.title, people.c.lead_score,
        people.c.owner_id, people.c.added_at,
    ).where(people.c.workspace_id == user["workspace_id"])  # fmt: skip
    if q:  # as the API's search: the email's start, or any word of the name or company
        query = query.where(matching(q))
    if scope == "mine":
        query = query.where(people.c.owner_id == user["id"])
    elif scope == "new":
        query = query.where(people.c.added_at.is_(None))
    return list(conn.execute(query.order_by(people.c.lead_score.desc().nulls_last(), people.c.email).limit(limit)).mappings())


def rep_names(conn: Connection, workspace_id: int) -> dict[int, str]:
    return {
        row.id: row.name for row in conn.execute(select(users.c.id, users.c.name).where(users.c.workspace_id == workspace_id))
    }


def score_history(conn: Connection, person_id: int) -> list:
    """(at, new score) of every change that left a score, oldest first (the person page's chart)."""
    return list(
        conn.execute(
            select(score_changes.c.at, score_changes.c.new)
            .where(score_changes.c.person_id == person_id, score_changes.c.new.is_not(None))
            .order_by(score_changes.c.at)
        )
    )


def add(rt, workspace_id: int, person_id: int, *, now: datetime) -> bool:
    """Add someone known only from marketing to LiveFeed; False when not such a person."""
    with rt.engine.begin() as conn:
        return bool(
            conn.execute(
                update(people)
                .where(people.c.workspace_id == workspace_id, people.c.id == person_id, people.c.added_at.is_(None))
                .values(added_at=now, updated_at=now)
            ).rowcount
        )


def set_do_not_track(rt, workspace_id: int, person_id: int, flag: bool, *, now: datetime) -> None:
    with rt.engine.begin() as conn:
        conn.execute(
            update(people)
            .where(people.c.workspace_id == workspace_id, people.c.id == person_id)
            .values(do_not_track=flag, updated_at=now)
        )


def rename(conn: Connection, workspace_id: int, person_id: int, *, email: str | None, do_not_track: bool | None) -> None:
    """A new email (refused when another person has it) and the do-not-track mark, in the caller's transaction."""
    if email is not None:
        check_email_free(conn, workspace_id, email, person_id)
        conn.execute(update(people).where(people.c.id == person_id).values(email=email))
    if do_not_track is not None:
        conn.execute(update(people).where(people.c.id == person_id).values(do_not_track=do_not_track))
