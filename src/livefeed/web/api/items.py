"""POST /api/v1/feed/items: another system pushes a row into the calling rep's feed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...actions import items
from ...core.compose import address_problem, clean_url
from ...core.model import Invalid
from ...db import queries
from ..auth import api_user, runtime
from .feed import error_422

router = APIRouter(prefix="/api/v1")
MAX_FUTURE = timedelta(minutes=5)


class FeedItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_email: str = Field(..., description="Who it is about (added as a person when unknown)")
    message: str = Field(..., min_length=1, max_length=1000, description="Plain text, shown as text")
    occurred_at: datetime | None = Field(None, description="ISO 8601 with a time zone; default: now")
    url: str | None = Field(None, max_length=2000, description="An http(s) link shown with the row")
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=200, description="The same key again answers 200 with the original item"
    )


def _check(body: FeedItemIn, now: datetime) -> tuple[str, str, datetime, str | None]:
    email = body.person_email.strip().lower()
    if problem := address_problem(email):
        raise Invalid("person_email", problem)
    message = body.message.strip()
    if not message:
        raise Invalid("message", "must not be empty")
    at = body.occurred_at or now
    if at.tzinfo is None:
        raise Invalid("occurred_at", "needs a time zone (…Z or …+01:00)")
    if at - now > MAX_FUTURE:
        raise Invalid("occurred_at", "is in the future")
    url = None
    if body.url:
        url = clean_url(body.url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid("url", "must be an http(s) URL")
    return email, message, at, url


@router.post(
    "/feed/items",
    status_code=201,
    summary="Push a row into your feed (idempotent with idempotency_key)",
    responses={
        200: {"description": "The same idempotency_key was used before: the original item"},
        422: {"description": "Invalid input; `detail[].loc` names the field"},
    },
)
async def push_item(body: FeedItemIn, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    now = rt.clock()
    try:
        email, message, at, url = _check(body, now)
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    event_id, existed = await items.push_item(
        rt, user, email=email, message=message, at=at, url=url, key=body.idempotency_key, now=now
    )

    def read():
        with rt.engine.connect() as conn:
            return queries.event_view(
                queries.event_by_id(conn, workspace_id=user["workspace_id"], user_id=user["id"], event_id=event_id)
            )

    return JSONResponse(await asyncio.to_thread(read), status_code=200 if existed else 201)
