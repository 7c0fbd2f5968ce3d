"""The web app's Templates page: the rep's saved templates and the shared ones; share, stop
sharing, delete."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from ...actions import templates as email_templates
from ...actions.changes import commit
from ..api.feed import IdPath
from ..auth import check_csrf, runtime
from .app import render, signed_in_rep

router = APIRouter(include_in_schema=False)


@router.get("/app/templates")
async def templates_page(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return email_templates.list_templates(conn, user)

    return render(request, "templates.html", user=user, templates=await asyncio.to_thread(read))


@router.post("/app/templates/{template_id}/{action}")
async def template_action(
    request: Request, template_id: IdPath, action: str, csrf: str = Form(""), shared: str = Form(""), user=Depends(signed_in_rep)
):
    """Share / stop sharing, or delete, one template (its author, or an admin once shared)."""
    check_csrf(request, csrf)
    if action not in ("share", "delete"):
        return Response("No such action", status_code=404)
    rt = runtime(request)

    def write(conn, changes):
        if action == "delete":
            return email_templates.remove(conn, user, template_id)
        return email_templates.change(conn, user, template_id, {"shared": shared == "1"}, now=rt.clock())

    outcome = await commit(rt, write)
    if outcome in ("missing", "forbidden"):
        return Response("No such template of yours", status_code=404 if outcome == "missing" else 403)
    return RedirectResponse("/app/templates", status_code=303)
