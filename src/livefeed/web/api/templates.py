"""JSON API: saved email templates (the rep's own and the workspace's shared ones)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...actions import templates as email_templates
from ...actions.changes import commit
from ...core.model import Invalid
from ..auth import api_user, runtime
from . import INVALID, documented
from .feed import IdPath, error_422

router = APIRouter(prefix="/api/v1")
NOT_YOURS = documented(403, "Someone else's template (an admin may change a shared one)") | documented(
    404, "No such template visible to you"
)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., max_length=email_templates.MAX_NAME)
    subject: str = Field(..., description="May use the personal fields, e.g. {{first_name}}")
    html: str = Field(..., description="The body; cleaned to paragraphs, emphasis, lists, quotes, headings and links")
    shared: bool = Field(False, description="Every rep of the workspace can use it")


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=email_templates.MAX_NAME)
    subject: str | None = None
    html: str | None = None
    shared: bool | None = None


def _in_transaction(request: Request, job):
    """Run `job(conn, now)` through the one way in for changes (actions/changes.commit): a
    template's change declares nothing for the windows, but it commits where every change does."""
    rt = runtime(request)
    return commit(rt, lambda conn, changes: job(conn, rt.clock()))


def _refusal(outcome: str) -> JSONResponse | None:
    if outcome == "missing":
        return JSONResponse({"detail": "No such template"}, 404)
    if outcome == "forbidden":
        return JSONResponse({"detail": "Only its author can change this template (or an admin, once it is shared)"}, 403)
    return None


@router.get("/templates", summary="Your templates and the workspace's shared ones, by name")
async def list_templates(request: Request, user=Depends(api_user)):
    return {"templates": await _in_transaction(request, lambda conn, now: email_templates.list_templates(conn, user))}


@router.post("/templates", status_code=201, summary="Save a template", responses=INVALID)
async def create_template(body: TemplateIn, request: Request, user=Depends(api_user)):
    def job(conn, now):
        template_id = email_templates.create(conn, user, body.model_dump(), now=now)
        return email_templates.get_template(conn, user, template_id)

    try:
        return JSONResponse(await _in_transaction(request, job), status_code=201)
    except Invalid as exc:
        return error_422(exc.field, exc.message)


@router.get("/templates/{template_id}", summary="One template", responses=NOT_YOURS)
async def get_template(template_id: IdPath, request: Request, user=Depends(api_user)):
    found = await _in_transaction(request, lambda conn, now: email_templates.get_template(conn, user, template_id))
    return found if found is not None else _refusal("missing")


@router.patch("/templates/{template_id}", summary="Change a template", responses={**INVALID, **NOT_YOURS})
async def patch_template(template_id: IdPath, body: TemplatePatch, request: Request, user=Depends(api_user)):
    given = body.model_dump(exclude_unset=True)
    for name, value in given.items():
        if value is None:
            return error_422(name, "must not be null")

    def job(conn, now):
        outcome = email_templates.change(conn, user, template_id, given, now=now)
        return outcome, email_templates.get_template(conn, user, template_id)

    try:
        outcome, found = await _in_transaction(request, job)
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    return _refusal(outcome) or found


@router.delete("/templates/{template_id}", status_code=204, summary="Delete a template", responses=NOT_YOURS)
async def delete_template(template_id: IdPath, request: Request, user=Depends(api_user)):
    outcome = await _in_transaction(request, lambda conn, now: email_templates.remove(conn, user, template_id))
    return _refusal(outcome) or Response(status_code=204)
