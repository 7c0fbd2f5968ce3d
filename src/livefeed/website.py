"""Website page views: visitors, identification, visits, and the purple "visited" rows.

The beacon (web/beacon.py) hands page views here; they are written in groups through the
recorder's writer. A visitor is created on first sight; a valid identification makes it a person
and gives that person the visitor's earlier page views. A known person's page view is a feed row
for their rep (marketing.apply_activities routes it), carrying the visit's id: the window shows
one row per visit with its pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from .core.marketo import Engagement
from .core.model import VISIT
from .core.website import PageView, same_visit
from .db.tables import page_views, people, visitors
from .marketing import apply_activities


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
    results, engagements, owners_of = [], [], []
    for view in views:
        seen = Seen()
        results.append(seen)
        visitor = conn.execute(select(visitors.c.id, visitors.c.person_id).where(
            visitors.c.workspace_id == view.workspace_id, visitors.c.key == view.page.visitor)).first()
        person_id = visitor.person_id if visitor else None
        if view.person_id is not None and _in_workspace(conn, view.person_id, view.workspace_id):
            person_id = view.person_id
        if person_id is None and view.page.private:
            continue  # Do-Not-Track / GPC: an anonymous visitor is not tracked at all
        if visitor is None:
            visitor_id = conn.execute(insert(visitors).values(
                workspace_id=view.workspace_id, key=view.page.visitor, person_id=person_id, created_at=view.at,
                identified_at=view.at if person_id else None)).inserted_primary_key[0]
        else:
            visitor_id = visitor.id
            if person_id != visitor.person_id:  # identified now: earlier views join the person's timeline
                conn.execute(update(visitors).where(visitors.c.id == visitor_id).values(person_id=person_id, identified_at=view.at))
                conn.execute(update(page_views).where(page_views.c.visitor_id == visitor_id).values(person_id=person_id))
        previous = conn.execute(select(page_views.c.at, page_views.c.visit_id).where(page_views.c.visitor_id == visitor_id)
                                .order_by(page_views.c.at.desc(), page_views.c.id.desc()).limit(1)).first()
        visit_id = previous.visit_id if previous and same_visit(previous.at, view.at) else None
        view_id = conn.execute(insert(page_views).values(
            workspace_id=view.workspace_id, visitor_id=visitor_id, person_id=person_id, visit_id=visit_id or 0,
            at=view.at, url=view.page.url, title=view.page.title, referrer=view.page.referrer, ip=view.ip)).inserted_primary_key[0]
        if visit_id is None:
            visit_id = view_id
            conn.execute(update(page_views).where(page_views.c.id == view_id).values(visit_id=visit_id))
        seen.recorded, seen.visitor_id, seen.person_id = True, visitor_id, person_id
        if person_id is not None:
            email = conn.execute(select(people.c.email).where(people.c.id == person_id)).scalar()
            engagements.append(Engagement(email=email, marketo_id=None, kind=VISIT, at=view.at,
                                          reason="Visited your website", detail=view.page.title or view.page.url,
                                          url=view.page.url, workspace_id=view.workspace_id, visit_id=visit_id))
            owners_of.append(seen)
    rows: list[dict] = []
    if engagements:
        placed, rows, _ = apply_activities(conn, engagements, now)
        for seen, result in zip(owners_of, placed):
            seen.row = result.row
    return results, rows


def _in_workspace(conn: Connection, person_id: int, workspace_id: int) -> bool:
    return conn.execute(select(people.c.id).where(people.c.id == person_id, people.c.workspace_id == workspace_id)).first() is not None


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
