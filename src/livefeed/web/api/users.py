"""The workspace's people who use LiveFeed: list (any rep), add and change (admins only).

Adding a user answers with a 15-minute sign-in link for the admin to hand over (no password is
ever sent by LiveFeed). A workspace always keeps at least one admin."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ... import actions
from ...actions.users import change_user, create_user, list_users, user_access_changed
from ...core.model import Invalid
from ..auth import admin_user, api_user, runtime
from .feed import IdPath, error_422

router = APIRouter(prefix="/api/v1")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    name: str = Field(..., min_length=1, max_length=200)
    timezone: str = Field("UTC", description="IANA time zone, e.g. Europe/Paris")
    role: str = Field("rep", description="admin or rep")
    salesforce_user_id: str | None = None


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    timezone: str | None = None
    salesforce_user_id: str | None = None
    disabled: bool | None = Field(
        None,
        description="true: signed out everywhere, API tokens and the mailbox watcher stop; "
        "the workspace's last admin cannot be disabled",
    )


@router.get("/users", summary="The workspace's reps and admins")
async def get_users(request: Request, user=Depends(api_user)):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return list_users(conn, user["workspace_id"])

    return {"users": await asyncio.to_thread(read)}


@router.post(
    "/users",
    status_code=201,
    summary="Add a rep or an admin (answers with a 15-minute sign-in link)",
    responses={422: {"description": "Invalid; `loc` names the field"}, 403: {"description": "Not an admin"}},
)
async def add_user(body: UserIn, request: Request, user=Depends(admin_user)):
    rt = runtime(request)
    try:
        user_id, link = await asyncio.to_thread(
            create_user,
            rt,
            user,
            email=body.email,
            name=body.name,
            timezone=body.timezone,
            role=body.role,
            salesforce_user_id=body.salesforce_user_id,
        )
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    return JSONResponse({"id": user_id, "email": body.email.strip().lower(), "role": body.role, "signin_link": link}, 201)


@router.patch(
    "/users/{user_id}",
    summary="Change a user's role, name, time zone or Salesforce id, or disable them",
    responses={404: {"description": "No such user in your workspace"}, 403: {"description": "Not an admin"}},
)
async def patch_user(user_id: IdPath, body: UserPatch, request: Request, user=Depends(admin_user)):
    rt = runtime(request)
    values = body.model_dump(exclude_unset=True)
    if "disabled" in values and values["disabled"] is None:
        return error_422("disabled", "must be true or false")
    try:
        changed = await asyncio.to_thread(change_user, rt, user, user_id, values)
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    if changed is None:
        return JSONResponse({"detail": "No such user"}, 404)
    if "disabled" in body.model_fields_set:
        await user_access_changed(rt, user_id, disabled=bool(body.disabled))
    return changed
