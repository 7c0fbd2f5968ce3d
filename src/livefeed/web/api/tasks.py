"""JSON API: tasks, with due windows computed in the assignee's time zone."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...actions import tasks as task_actions
from ...actions.changes import commit
from ...core import taskdates
from ...core.model import Invalid
from ..auth import api_user, runtime
from . import INVALID, documented
from .feed import MAX_ID, IdPath, error_422

router = APIRouter(prefix="/api/v1")
NOT_FOUND = documented(404, "No such task in your workspace")


class TaskPatch(BaseModel):
    """Fields of a task; on PATCH, absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = Field(None, description="call, email, linkedin or custom")
    title: str | None = Field(None, description="At most 500 characters")
    person_id: int | None = None
    due_date: str | None = Field(None, description="YYYY-MM-DD, a day in the assignee's time zone")
    due_time: str | None = Field(None, description="HH:MM in the assignee's time zone; null for the whole day")
    priority: str | None = Field(None, description="low, normal (default) or high")
    notes: str | None = None
    status: str | None = Field(None, description="open (default) or done")
    assignee_id: int | None = Field(None, description="A rep of the workspace; the creating rep by default")


class TaskIn(TaskPatch):
    type: str
    title: str
    due_date: str


async def _transaction(request: Request, fn):
    """fn(conn, now, changes) in one transaction; the Tasks tabs it names are told after the commit."""
    rt = runtime(request)
    return await commit(rt, lambda conn, changes: fn(conn, rt.clock(), changes))


async def _view(request: Request, user, task_id: int):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return task_actions.get_task(conn, user, task_id, now=rt.clock())

    return await asyncio.to_thread(read)


@router.post("/tasks", status_code=201, summary="Create a task", responses=INVALID)
async def create_task(body: TaskIn, request: Request, user=Depends(api_user)):
    fields = body.model_dump(exclude_unset=True)
    try:
        task_id = await _transaction(
            request, lambda conn, now, ch: task_actions.create_task(conn, user, fields, now=now, changes=ch)
        )
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    return await _view(request, user, task_id)


@router.get("/tasks", summary="List tasks (by default: yours, open, any date)", responses=INVALID)
async def list_tasks(
    request: Request,
    user=Depends(api_user),
    due: Literal["today", "tomorrow", "today_and_tomorrow", "next_7_days"] | None = Query(
        None, description="A window of days in the assignee's time zone"
    ),
    from_: str | None = Query(None, alias="from", description="YYYY-MM-DD, inclusive"),
    to: str | None = Query(None, description="YYYY-MM-DD, inclusive"),
    status: Literal["open", "done", "all"] = "open",
    overdue: bool = Query(False, description="Only open tasks whose due time has passed"),
    assignee_id: int | None = Query(None, ge=1, le=MAX_ID, description="Another rep of the workspace (admins; default: you)"),
    limit: int = Query(200, ge=1, le=task_actions.MAX_LIST),
):
    rt = runtime(request)
    now = rt.clock()
    try:
        if due and (from_ or to):
            raise Invalid("due", "use either due or from/to, not both")
        if bool(from_) != bool(to):
            raise Invalid("to" if from_ else "from", "from and to go together")

        def read():
            with rt.engine.connect() as conn:
                assignee, tz = task_actions.assignee_zone(conn, user, assignee_id)
                window = taskdates.due_window(due, now, tz) if due else taskdates.range_window(from_, to, tz) if from_ else None
                found = task_actions.list_tasks(
                    conn, user, assignee_id=assignee, tz=tz, window=window, status=status, overdue=overdue, now=now, limit=limit
                )
                return {
                    "tasks": found,
                    "window": window.to_json() if window else None,
                    "today": taskdates.local_today(now, tz).isoformat(),
                    "timezone": tz.key,
                    "truncated": len(found) == limit,
                }

        # json.dumps straight to bytes (FastAPI's encoder would walk every value again)
        body = await asyncio.to_thread(read)
        return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), media_type="application/json")
    except Invalid as exc:
        return error_422(exc.field, exc.message, where="query")
    except PermissionError as exc:
        return JSONResponse({"detail": f"Not allowed: {exc}"}, 403)


@router.get("/tasks/{task_id}", summary="One task", responses=NOT_FOUND)
async def get_task(task_id: IdPath, request: Request, user=Depends(api_user)):
    view = await _view(request, user, task_id)
    return view if view is not None else JSONResponse({"detail": "No such task"}, 404)


@router.patch("/tasks/{task_id}", summary="Change a task (status done completes it)", responses={**INVALID, **NOT_FOUND})
async def patch_task(task_id: IdPath, body: TaskPatch, request: Request, user=Depends(api_user)):
    fields = body.model_dump(exclude_unset=True)
    try:
        changed = await _transaction(
            request, lambda conn, now, ch: task_actions.update_task(conn, user, task_id, fields, now=now, changes=ch)
        )
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    if changed is None:
        return JSONResponse({"detail": "No such task"}, 404)
    view = await _view(request, user, task_id)
    return view if view is not None else {"id": task_id, "detail": "Reassigned: the task is no longer yours"}


@router.delete("/tasks/{task_id}", status_code=204, summary="Delete a task", responses=NOT_FOUND)
async def delete_task(task_id: IdPath, request: Request, user=Depends(api_user)):
    assignee = await _transaction(request, lambda conn, now, ch: task_actions.delete_task(conn, user, task_id, changes=ch))
    if assignee is None:
        return JSONResponse({"detail": "No such task"}, 404)
    return Response(status_code=204)
