"""Website page views: visitors, identification, visits, and the purple "visited" rows.

The beacon (web/beacon.py) hands page views here; they are written in groups through the
recorder's writer. A visitor is created on first sight; a valid identification makes it a person
and gives that person the visitor's earlier page views. A known person's page view is a feed row
for their rep (marketing.apply_activities routes it), carrying the visit's id: the window shows
one row per visit with its pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from ..core.model import VISIT, Activity
from ..core.website import PageView, same_visit
from ..db.bulk import Bulk
from ..db.sql import utc
from ..db.tables import page_views, people, visitors
from .marketing import apply_activities

CHUNK = 500  # keys per IN (…) lookup


@dataclass
class View:
    workspace_id: int
    page: PageView
    person_id: int | None  # from a valid identification
    ip: str | None
    at: datetime


@dataclass
class Seen:
    recorded: bool = False
    visitor_id: int | None = None
    person_id: int | None = None
    event_id: int | None = None
    row: int | None = None


def apply_views(conn: Connection, views: list[View], now: datetime) -> tuple[list[Seen], list[dict]]:
    """Write a group of page views with a handful of statements, whatever its size (the beacon
    must keep up with the pixel): one lookup of the visitors, one of their latest page views,
    ids reserved up front (the writer holds the write lock), then bulk inserts."""
    bulk = Bulk(conn)
    results = [Seen() for _ in views]
    known = _visitors(conn, {(v.workspace_id, v.page.visitor) for v in views})
    claimed = {v.person_id for v in views if v.person_id is not None}
    person_workspace = (
        dict(_rows(conn, "SELECT id, workspace_id FROM people WHERE id IN ({})", (), sorted(claimed))) if claimed else {}
    )
    latest = _latest_views(conn, [each["id"] for each in known.values()])
    for each in known.values():
        each["last"] = latest.get(each["id"])
    new_visitors: list[dict[str, Any]] = []
    identified: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for view, seen in zip(views, results):
        state: dict[str, Any] | None = known.get((view.workspace_id, view.page.visitor))
        person_id = state["person_id"] if state else None
        if view.person_id is not None and person_workspace.get(view.person_id) == view.workspace_id:
            person_id = view.person_id
        if person_id is None and view.page.private:
            continue  # Do-Not-Track / GPC: an anonymous visitor is not tracked at all
        if state is None:
            state = known[(view.workspace_id, view.page.visitor)] = {"id": None, "person_id": person_id, "last": None}
            new_visitors.append(
                {
                    "workspace_id": view.workspace_id,
                    "key": view.page.visitor,
                    "person_id": person_id,
                    "created_at": view.at,
                    "identified_at": view.at if person_id else None,
                    "state": state,
                }
            )
        elif person_id != state["person_id"]:  # identified now: earlier views join the person's timeline
            state["person_id"] = person_id
            if state["id"] is not None:
                identified.append({"id": state["id"], "person_id": person_id, "identified_at": view.at})
        previous = state["last"]
        row = {
            "workspace_id": view.workspace_id,
            "state": state,
            "person_id": person_id,
            "at": view.at,
            "url": view.page.url,
            "title": view.page.title,
            "referrer": view.page.referrer,
            "ip": view.ip,
            "visit_of": previous if previous and same_visit(previous["at"], view.at) else None,
        }
        state["last"] = row
        rows.append(row)
        seen.recorded, seen.person_id = True, person_id
    for row, visitor_id in zip(new_visitors, _new_ids(bulk, visitors, len(new_visitors))):
        row["id"] = row["state"]["id"] = visitor_id
    bulk.insert(visitors, ("id", "workspace_id", "key", "person_id", "created_at", "identified_at"), new_visitors)
    for change in identified:
        conn.execute(
            update(visitors)
            .where(visitors.c.id == change["id"])
            .values(person_id=change["person_id"], identified_at=change["identified_at"])
        )
        conn.execute(update(page_views).where(page_views.c.visitor_id == change["id"]).values(person_id=change["person_id"]))
    for row, view_id in zip(rows, _new_ids(bulk, page_views, len(rows))):
        row["id"], row["visitor_id"] = view_id, row["state"]["id"]
        row["visit_id"] = row["visit_of"]["visit_id"] if row["visit_of"] else view_id
    bulk.insert(
        page_views, ("id", "workspace_id", "visitor_id", "person_id", "visit_id", "at", "url", "title", "referrer", "ip"), rows
    )
    recorded = iter(r for r in rows)
    for seen in results:
        if seen.recorded:
            seen.visitor_id = next(recorded)["visitor_id"]
    return results, _visit_rows(conn, views, results, rows, now)


def _visit_rows(conn: Connection, views: list[View], results: list[Seen], rows: list[dict], now: datetime) -> list[dict]:
    """A known person's page views become purple feed rows for their rep."""
    mine = [(seen, row) for seen, row in zip((s for s in results if s.recorded), rows) if row["person_id"] is not None]
    if not mine:
        return []
    emails = dict(
        conn.execute(select(people.c.id, people.c.email).where(people.c.id.in_({r["person_id"] for _, r in mine}))).all()
    )
    activities = [
        Activity(
            email=emails[row["person_id"]],
            marketo_id=None,
            kind=VISIT,
            at=row["at"],
            reason="Visited your website",
            detail=row["title"] or row["url"],
            url=row["url"],
            workspace_id=row["workspace_id"],
            visit_id=row["visit_id"],
        )
        for _, row in mine
    ]
    placed, event_rows, _ = apply_activities(conn, activities, now)
    for (seen, _), result in zip(mine, placed):
        seen.row = result.row
    return event_rows


# The lookups run for every group of page views: in the driver's SQL (SQLAlchemy Core costs
# ≈ 50 µs a statement, as much as the rest of a page view).


def _rows(conn: Connection, sql: str, params: tuple, values: list) -> list[tuple]:
    """Run `sql` with its "{}" filled by placeholders for `values`, in chunks of CHUNK."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    found: list[tuple] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        found += conn.exec_driver_sql(sql.replace("?", mark).format(", ".join([mark] * len(chunk))), (*params, *chunk)).all()
    return found


def _visitors(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], dict]:
    found = {}
    for workspace_id in {w for w, _ in keys}:
        wanted = sorted(k for w, k in keys if w == workspace_id)
        for visitor_id, key, person_id in _rows(
            conn, "SELECT id, key, person_id FROM visitors WHERE workspace_id = ? AND key IN ({})", (workspace_id,), wanted
        ):
            found[(workspace_id, key)] = {"id": visitor_id, "person_id": person_id}
    return found


def _latest_views(conn: Connection, visitor_ids: list[int]) -> dict[int, dict]:
    """Each visitor's latest page view (its time and visit)."""
    sql = (
        "SELECT visitor_id, at, visit_id FROM page_views WHERE id IN "
        "(SELECT MAX(id) FROM page_views WHERE visitor_id IN ({}) GROUP BY visitor_id)"
    )
    return {visitor_id: {"at": utc(at), "visit_id": visit_id} for visitor_id, at, visit_id in _rows(conn, sql, (), visitor_ids)}


def _new_ids(bulk: Bulk, table, count: int) -> list[int]:
    """Ids for rows about to be inserted: from the sequence (PostgreSQL), or after the largest
    (SQLite: the writer holds the database's write lock, nobody else inserts meanwhile)."""
    if not count:
        return []
    if bulk.postgres:
        return bulk.new_ids(table, count)
    first = (bulk.conn.exec_driver_sql(f"SELECT MAX(id) FROM {table.name}").scalar() or 0) + 1
    return list(range(first, first + count))


async def record_views(rt, views: list[View]) -> list[Seen]:
    now = rt.clock()
    box: list = []

    def job(conn):
        results, rows = apply_views(conn, views, now)
        box.append(results)
        return None, rows

    _, ids = await rt.recorder.write_events(job)
    for seen in box[0]:
        if seen.row is not None:
            seen.event_id = ids[seen.row]
    return box[0]


def person_visits(conn: Connection, workspace_id: int, person_id: int, *, limit: int = 50) -> list[Mapping]:
    """A known person's page views, newest first (the person page)."""
    return list(
        conn.execute(
            select(page_views.c.at, page_views.c.url, page_views.c.title)
            .where(page_views.c.workspace_id == workspace_id, page_views.c.person_id == person_id)
            .order_by(page_views.c.at.desc())
            .limit(limit)
        ).mappings()
    )
