"""The JSON API under /api/v1 (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ... import actions
from ...actions import alerts as alert_settings
from ...db import queries
from ..auth import api_user, runtime

router = APIRouter(prefix="/api/v1")
MAX_ID = 2**63 - 1  # ids are 64-bit: anything larger is no id of ours (422, never an overflow in the database)
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="An id")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class EmailIn(BaseModel):
    to: list[str] = Field(..., description="Recipient addresses", max_length=1000)
    cc: list[str] = Field(default_factory=list, max_length=1000)
    subject: str
    html: str | None = Field(
        None, description="May use {{first_name}}, {{last_name}}, {{name}}, {{company}}, {{title}}, {{email}}, {{sender_name}}"
    )
    text: str | None = None
    track_opens: bool = Field(True, description="Add the open pixel")
    track_clicks: bool = Field(True, description="Send links through the click redirect")
    bcc: list[str] = Field(default_factory=list, max_length=1000, description="Each gets their own copy; never named in a header")
    in_reply_to: str | None = Field(None, max_length=520, description="The Message-ID replied to: `<id@host>`")
    references: str | None = Field(None, max_length=4000, description="Message-IDs of the thread, space-separated")
    thread_id: str | None = Field(
        None,
        max_length=32,
        description="Gmail's thread id of the conversation replied to "
        "(with a connected Google account: sent in that thread, In-Reply-To taken from it)",
    )

    def draft(self):
        return actions.validate_draft(
            to=self.to,
            cc=self.cc,
            bcc=self.bcc,
            subject=self.subject,
            html=self.html,
            text=self.text,
            track_opens=self.track_opens,
            track_clicks=self.track_clicks,
            in_reply_to=self.in_reply_to,
            references=self.references,
            thread_id=self.thread_id,
        )


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
    sends_with: str | None = Field(
        None,
        description="How mail leaves as this rep: `google` or `microsoft` (a connected "
        "account), `smtp` (their own server); null: no sending account of their own",
    )


def error_422(field: str, message: str, where: str = "body") -> JSONResponse:
    """The same shape FastAPI uses for validation errors, so clients handle one format."""
    return JSONResponse(
        {"detail": [{"loc": [where, *field.replace("]", "").split("[")], "msg": message, "type": "value_error"}]}, 422
    )


@router.get("/health", summary="Who answers here (public; the browser extension checks its server URL with it)")
async def health(
    request: Request,
    probe: str | None = Query(
        None, max_length=40, description="A probe this server signed: echoed back when the signature holds"
    ),
):
    from ... import __version__
    from ...core.tokens import PROBE

    answer = {"product": "LiveFeed", "version": __version__}
    if probe is not None:
        answer["probe"] = runtime(request).signer.verify(PROBE, probe)  # None: not ours
    return JSONResponse(answer, headers={"access-control-allow-origin": "*"})


@router.get("/me", response_model=Me, summary="The signed-in rep")
async def me(request: Request, user=Depends(api_user)):
    sends_with = await asyncio.to_thread(actions.sending_account, runtime(request).engine, user["id"])
    return Me(**{k: user[k] for k in Me.model_fields if k != "sends_with"}, sends_with=sends_with)


class AlertsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kinds: dict[str, bool] | None = Field(None, description="Which rows alert: open, click, reply, marketing (true/false)")
    quiet_until: datetime | None = Field(
        None, description="No alerts until then (ISO 8601 with a zone; at most 7 days); null ends quiet time"
    )


@router.get("/me/alerts", summary="Which rows alert you and until when you are quiet (the web app and the extension share them)")
async def my_alerts(request: Request, user=Depends(api_user)):
    rt = runtime(request)
    return await asyncio.to_thread(alert_settings.read, rt.engine, user["id"], now=rt.clock())


@router.put(
    "/me/alerts",
    summary="Change which rows alert you, or be quiet until a time",
    responses={422: {"description": "Invalid input; `detail[].loc` names the field"}},
)
async def change_my_alerts(body: AlertsIn, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    try:
        return await asyncio.to_thread(
            alert_settings.change,
            rt.engine,
            user["id"],
            kinds=body.kinds,
            quiet_until=body.quiet_until,
            clear_quiet="quiet_until" in body.model_fields_set and body.quiet_until is None,
            now=rt.clock(),
        )
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)


@router.post(
    "/emails",
    status_code=201,
    response_model=EmailOut,
    summary="Send a tracked email",
    responses={
        422: {"description": "Invalid input; `detail[].loc` names the field"},
        202: {"description": "Stored and queued: the mail server could not take it yet; it is retried with backoff"},
        502: {"description": "The SMTP server refused for good; the email is stored as failed"},
    },
)
async def send_email(body: EmailIn, request: Request, user=Depends(api_user)):
    try:
        sent = await runtime(request).sender.send_email(user, body.draft())  # a recipient missing a field: 422, nothing stored
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    if sent.status == "failed":
        return JSONResponse({"detail": f"The mail server refused: {sent.error}", "id": sent.email_id, "status": "failed"}, 502)
    answer = EmailOut(id=sent.email_id, status=sent.status, recipients=[RecipientOut(**r) for r in sent.recipients])
    if sent.status == "sending":  # stored and queued: the server could not take it yet, it is retried
        return JSONResponse({**answer.model_dump(), "detail": f"Not sent yet, retrying: {sent.error}"}, 202)
    return answer


@router.post(
    "/emails/preview",
    summary="Each recipient's copy with the personal fields filled (nothing is stored or sent)",
    responses={422: {"description": "As sending would answer: `loc` names the field or the recipient"}},
)
async def preview_email(body: EmailIn, request: Request, user=Depends(api_user)):
    try:
        draft = body.draft()
        copies = await asyncio.to_thread(actions.preview, runtime(request).engine, user, draft)
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    return {"copies": copies, "tracking": {"opens": draft.track_opens, "clicks": draft.track_clicks}}


@router.post(
    "/emails/tracked-body",
    status_code=201,
    summary="One tracked body for Gmail to send (the extension, without a sending account)",
    responses={
        201: {
            "description": "`html` to send as the message body: one pixel, links rewritten; the email "
            "and its recipients are recorded, opens count as `one of shared_with`"
        },
        422: {"description": "Invalid input; `detail[].loc` names the field"},
    },
)
async def tracked_body(body: EmailIn, request: Request, user=Depends(api_user)):
    try:
        if not (body.html and body.html.strip()):
            raise actions.ActionError("html", "Gmail sends the HTML body: it is required here")
        return await runtime(request).sender.track_for_gmail(user, body.draft())
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)


class ArchiveIn(BaseModel):
    archived: bool = Field(..., description="true: tracking off (the pixel and links still answer, nothing is recorded)")


@router.patch(
    "/emails/{email_id}",
    summary="Archive or unarchive an email (turns its tracking off or on)",
    responses={404: {"description": "No such email of yours"}},
)
async def archive_email(email_id: IdPath, body: ArchiveIn, request: Request, user=Depends(api_user)):
    found = await asyncio.to_thread(actions.set_archived, runtime(request).engine, user, email_id, body.archived)
    if not found:
        return JSONResponse({"detail": "No such email"}, 404)
    return {"id": email_id, "archived": body.archived}


@router.get("/feed", summary="The rep's engagement events, newest first")
async def feed(request: Request, user=Depends(api_user), limit: int = Query(50, ge=1, le=500), before: IdQuery = None):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return queries.feed_page(conn, workspace_id=user["workspace_id"], user_id=user["id"], limit=limit, before=before)

    rows = await asyncio.to_thread(read)
    events = [queries.event_view(row) for row in rows]
    return {"events": events, "next_before": events[-1]["id"] if len(events) == limit else None}
