"""The JSON API under /api/v1 (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .. import actions
from ..db import queries
from .auth import api_user, runtime

router = APIRouter(prefix="/api/v1")
MAX_ID = 2**63 - 1  # ids are 64-bit: anything larger is no id of ours (422, never an overflow in the database)
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="An id")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class EmailIn(BaseModel):
    to: list[str] = Field(..., description="Recipient addresses", max_length=1000)
    cc: list[str] = Field(default_factory=list, max_length=1000)
    subject: str
    html: str | None = Field(None, description="May use {{first_name}}, {{last_name}}, {{name}}, {{company}}, {{title}}, {{email}}, {{sender_name}}")
    text: str | None = None
    track_opens: bool = Field(True, description="Add the open pixel")
    track_clicks: bool = Field(True, description="Send links through the click redirect")


class RecipientOut(BaseModel):
    address: str
    field: str
    person_id: int
    recipient_id: int


class EmailOut(BaseModel):
    id: int
    status: str
    recipients: list[RecipientOut]


class Me(BaseModel):
    id: int
    email: str
    name: str
    timezone: str
    workspace_id: int
    salesforce_user_id: str | None = None
    role: str = "rep"


def error_422(field: str, message: str, where: str = "body") -> JSONResponse:
    """The same shape FastAPI uses for validation errors, so clients handle one format."""
    return JSONResponse({"detail": [{"loc": [where, *field.replace("]", "").split("[")], "msg": message, "type": "value_error"}]}, 422)


@router.get("/health", summary="Who answers here (public; the browser extension checks its server URL with it)")
async def health(request: Request, probe: str | None = Query(None, max_length=40, description="A probe this server signed: echoed back when the signature holds")):
    from .. import __version__
    from ..core.tokens import PROBE

    answer = {"product": "LiveFeed", "version": __version__}
    if probe is not None:
        answer["probe"] = runtime(request).signer.verify(PROBE, probe)  # None: not ours
    return JSONResponse(answer, headers={"access-control-allow-origin": "*"})


@router.get("/me", response_model=Me, summary="The signed-in rep")
async def me(user=Depends(api_user)):
    return Me(**{k: user[k] for k in Me.model_fields})


@router.post("/emails", status_code=201, response_model=EmailOut, summary="Send a tracked email",
             responses={422: {"description": "Invalid input; `detail[].loc` names the field"},
                        202: {"description": "Stored and queued: the mail server could not take it yet; it is retried with backoff"},
                        502: {"description": "The SMTP server refused for good; the email is stored as failed"}})
async def send_email(body: EmailIn, request: Request, user=Depends(api_user)):
    try:
        draft = actions.validate_draft(to=body.to, cc=body.cc, subject=body.subject, html=body.html, text=body.text,
                                       track_opens=body.track_opens, track_clicks=body.track_clicks)
        sent = await runtime(request).sender.send_email(user, draft)  # a recipient missing a field: 422, nothing stored
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    if sent.status == "failed":
        return JSONResponse({"detail": f"The mail server refused: {sent.error}", "id": sent.email_id, "status": "failed"}, 502)
    answer = EmailOut(id=sent.email_id, status=sent.status, recipients=[RecipientOut(**r) for r in sent.recipients])
    if sent.status == "sending":  # stored and queued: the server could not take it yet, it is retried
        return JSONResponse({**answer.model_dump(), "detail": f"Not sent yet, retrying: {sent.error}"}, 202)
    return answer


@router.post("/emails/preview", summary="Each recipient's copy with the personal fields filled (nothing is stored or sent)",
             responses={422: {"description": "As sending would answer: `loc` names the field or the recipient"}})
async def preview_email(body: EmailIn, request: Request, user=Depends(api_user)):
    try:
        draft = actions.validate_draft(to=body.to, cc=body.cc, subject=body.subject, html=body.html, text=body.text,
                                       track_opens=body.track_opens, track_clicks=body.track_clicks)
        copies = await asyncio.to_thread(actions.preview, runtime(request).engine, user, draft)
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    return {"copies": copies, "tracking": {"opens": draft.track_opens, "clicks": draft.track_clicks}}


class ArchiveIn(BaseModel):
    archived: bool = Field(..., description="true: tracking off (the pixel and links still answer, nothing is recorded)")


@router.patch("/emails/{email_id}", summary="Archive or unarchive an email (turns its tracking off or on)",
              responses={404: {"description": "No such email of yours"}})
async def archive_email(email_id: IdPath, body: ArchiveIn, request: Request, user=Depends(api_user)):
    found = await asyncio.to_thread(actions.set_archived, runtime(request).engine, user, email_id, body.archived)
    if not found:
        return JSONResponse({"detail": "No such email"}, 404)
    return {"id": email_id, "archived": body.archived}


@router.get("/feed", summary="The rep's engagement events, newest first")
async def feed(request: Request, user=Depends(api_user),
               limit: int = Query(50, ge=1, le=500), before: IdQuery = None):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return queries.feed_page(conn, workspace_id=user["workspace_id"], user_id=user["id"], limit=limit, before=before)

    rows = await asyncio.to_thread(read)
    events = [queries.event_view(row) for row in rows]
    return {"events": events, "next_before": events[-1]["id"] if len(events) == limit else None}


