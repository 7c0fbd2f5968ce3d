"""The web app's People pages: search and list, and one person's page (details, score history
chart, timeline of the rep's events with class and reason, website visits, tasks, quick actions,
do-not-track)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ...actions import people as people_actions
from ...actions import tasks as task_actions
from ...actions import website as website_actions
from ...core import scoring, taskdates
from ...db import queries
from ..api.feed import IdPath
from ..auth import check_csrf, runtime
from .app import render, signed_in_rep

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/app/people")
async def people_list(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)
    q = request.query_params.get("q", "").strip()[:100]
    scope = request.query_params.get("show", "all")

    def read():
        with rt.engine.connect() as conn:
            return people_actions.listed(conn, user, q=q, scope=scope, limit=PAGE)

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
            rows = queries.person_events(
                conn, workspace_id=user["workspace_id"], user_id=None if team else user["id"], person_id=person_id, limit=200
            )
            reps = people_actions.rep_names(conn, user["workspace_id"]) if team else {}
            timeline = [{**queries.event_view(row), "rep": reps.get(row["user_id"])} for row in rows]
            changes = people_actions.score_history(conn, person_id)
            visits = website_actions.person_visits(conn, user["workspace_id"], person_id)
            open_tasks = task_actions.list_tasks(
                conn,
                user,
                assignee_id=user["id"],
                tz=tz,
                window=None,
                status="open",
                overdue=False,
                now=now,
                limit=100,
                person_id=person_id,
            )
        return person, timeline, changes, visits, open_tasks

    found = await asyncio.to_thread(read)
    if found is None:
        return render(request, "person.html", status=404, user=user, person=None)
    person, timeline, changes, visits, person_tasks = found
    points = scoring.chart_points([(c.at.timestamp(), c.new) for c in changes])
    chart = {
        "points": " ".join(f"{x},{y}" for x, y in points),
        "first": changes[0].at if changes else None,
        "last": changes[-1].at if changes else None,
        "low": min((c.new for c in changes), default=None),
        "high": max((c.new for c in changes), default=None),
    }
    return render(
        request,
        "person.html",
        user=user,
        person=person,
        timeline=timeline,
        chart=chart,
        visits=visits,
        tasks=person_tasks,
        local=lambda at: _local(at, tz),
        team=team,
    )


@router.post("/app/people/{person_id}/add")
async def person_add(request: Request, person_id: IdPath, csrf: str = Form(""), user=Depends(signed_in_rep)):
    check_csrf(request, csrf)
    rt = runtime(request)
    now = rt.clock()

    await asyncio.to_thread(people_actions.add, rt, user["workspace_id"], person_id, now=now)
    if rt.services is not None:
        await rt.services.refresh_person(user["workspace_id"], person_id)
    return RedirectResponse(f"/app/people/{person_id}", status_code=303)


@router.post("/app/people/{person_id}/tracking")
async def person_tracking(
    request: Request, person_id: IdPath, csrf: str = Form(""), track: str = Form(""), user=Depends(signed_in_rep)
):
    """Mark a person do-not-track (track=off) or trackable again (track=on)."""
    check_csrf(request, csrf)
    if track not in ("on", "off"):
        return render(request, "person.html", status=422, user=user, person=None)
    rt = runtime(request)

    await asyncio.to_thread(people_actions.set_do_not_track, rt, user["workspace_id"], person_id, track == "off", now=rt.clock())
    return RedirectResponse(f"/app/people/{person_id}", status_code=303)


def _local(at, tz) -> str:
    """An ISO time (or a datetime) shown in the rep's zone."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
