"""The web app's People pages: search and list, and one person's page (details, score history
chart, timeline of the rep's events with class and reason, website visits, tasks, quick actions,
do-not-track); and the saved templates page."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select, update

from .. import email_templates
from .. import people as people_actions
from .. import tasks as task_actions
from ..core import scoring, taskdates
from ..db import queries
from ..db.tables import page_views, people, score_changes, users
from .api import IdPath
from .auth import check_csrf, runtime
from .pages import render, signed_in_rep

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/app/people")
async def people_list(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)
    q = request.query_params.get("q", "").strip()[:100]
    scope = request.query_params.get("show", "all")

    def read():
        query = (select(people.c.id, people.c.email, people.c.name, people.c.company, people.c.title, people.c.lead_score,
                        people.c.owner_id, people.c.added_at)
                 .where(people.c.workspace_id == user["workspace_id"]))
        if q:  # as the API's search: the email's start, or any word of the name or company
            query = query.where(people_actions.matching(q))
        if scope == "mine":
            query = query.where(people.c.owner_id == user["id"])
        elif scope == "new":
            query = query.where(people.c.added_at.is_(None))
        with rt.engine.connect() as conn:
            return list(conn.execute(query.order_by(people.c.lead_score.desc().nulls_last(), people.c.email).limit(PAGE)).mappings())

    found = await asyncio.to_thread(read)
    return render(request, "people.html", user=user, people=found, q=q, show=scope, limit=PAGE)


@router.get("/app/people/{person_id}")
async def person_page(request: Request, person_id: IdPath, user=Depends(signed_in_rep)):
    rt = runtime(request)
    now = rt.clock()
    tz = taskdates.zone(user["timezone"])
    team = request.query_params.get("team") == "1" and user["role"] == "admin"  # every rep's events: admins only

    def read():
        with rt.engine.connect() as conn:
            person = people_actions.person(conn, workspace_id=user["workspace_id"], person_id=person_id)
            if person is None:
                return None
            rows = queries.person_events(conn, workspace_id=user["workspace_id"], user_id=None if team else user["id"],
                                         person_id=person_id, limit=200)
            reps = {row.id: row.name for row in conn.execute(select(users.c.id, users.c.name).where(users.c.workspace_id == user["workspace_id"]))} if team else {}
            timeline = [{**queries.event_view(row), "rep": reps.get(row["user_id"])} for row in rows]
            changes = list(conn.execute(select(score_changes.c.at, score_changes.c.new).where(
                score_changes.c.person_id == person_id, score_changes.c.new.is_not(None)).order_by(score_changes.c.at)))
            visits = list(conn.execute(select(page_views.c.at, page_views.c.url, page_views.c.title).where(
                page_views.c.workspace_id == user["workspace_id"], page_views.c.person_id == person_id)
                .order_by(page_views.c.at.desc()).limit(50)).mappings())
            open_tasks = task_actions.list_tasks(conn, user, assignee_id=user["id"], tz=tz, window=None, status="open",
                                                 overdue=False, now=now, limit=100, person_id=person_id)
        return person, timeline, changes, visits, open_tasks

    found = await asyncio.to_thread(read)
    if found is None:
        return render(request, "person.html", status=404, user=user, person=None)
    person, timeline, changes, visits, person_tasks = found
    points = scoring.chart_points([(c.at.timestamp(), c.new) for c in changes])
    chart = {"points": " ".join(f"{x},{y}" for x, y in points),
             "first": changes[0].at if changes else None, "last": changes[-1].at if changes else None,
             "low": min((c.new for c in changes), default=None), "high": max((c.new for c in changes), default=None)}
    return render(request, "person.html", user=user, person=person, timeline=timeline, chart=chart, visits=visits,
                  tasks=person_tasks, local=lambda at: _local(at, tz), team=team)


@router.post("/app/people/{person_id}/add")
async def person_add(request: Request, person_id: IdPath, csrf: str = Form(""), user=Depends(signed_in_rep)):
    check_csrf(request, csrf)
    rt = runtime(request)
    now = rt.clock()

    def write():
        with rt.engine.begin() as conn:
            conn.execute(update(people).where(people.c.workspace_id == user["workspace_id"], people.c.id == person_id,
                                              people.c.added_at.is_(None)).values(added_at=now, updated_at=now))
    await asyncio.to_thread(write)
    if rt.services is not None:
        await rt.services.refresh_person(user["workspace_id"], person_id)
    return RedirectResponse(f"/app/people/{person_id}", status_code=303)


@router.post("/app/people/{person_id}/tracking")
async def person_tracking(request: Request, person_id: IdPath, csrf: str = Form(""), track: str = Form(""),
                          user=Depends(signed_in_rep)):
    """Mark a person do-not-track (track=off) or trackable again (track=on)."""
    check_csrf(request, csrf)
    if track not in ("on", "off"):
        return render(request, "person.html", status=422, user=user, person=None)
    rt = runtime(request)

    def write():
        with rt.engine.begin() as conn:
            conn.execute(update(people).where(people.c.workspace_id == user["workspace_id"], people.c.id == person_id)
                         .values(do_not_track=track == "off", updated_at=rt.clock()))
    await asyncio.to_thread(write)
    return RedirectResponse(f"/app/people/{person_id}", status_code=303)


def _local(at, tz) -> str:
    """An ISO time (or a datetime) shown in the rep's zone."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


# --- saved templates --------------------------------------------------------------------------

@router.get("/app/templates")
async def templates_page(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return email_templates.list_templates(conn, user)

    return render(request, "templates.html", user=user, templates=await asyncio.to_thread(read))


@router.post("/app/templates/{template_id}/{action}")
async def template_action(request: Request, template_id: IdPath, action: str, csrf: str = Form(""), shared: str = Form(""),
                          user=Depends(signed_in_rep)):
    """Share / stop sharing, or delete, one template (its author, or an admin once shared)."""
    check_csrf(request, csrf)
    if action not in ("share", "delete"):
        return Response("No such action", status_code=404)
    rt = runtime(request)

    def write():
        with rt.engine.begin() as conn:
            if action == "delete":
                return email_templates.remove(conn, user, template_id)
            return email_templates.change(conn, user, template_id, {"shared": shared == "1"}, now=rt.clock())

    outcome = await asyncio.to_thread(write)
    if outcome in ("missing", "forbidden"):
        return Response("No such template of yours", status_code=404 if outcome == "missing" else 403)
    return RedirectResponse("/app/templates", status_code=303)
