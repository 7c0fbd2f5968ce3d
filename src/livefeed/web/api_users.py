"""The workspace's people who use LiveFeed: list (any rep), add and change (admins only).

Adding a user answers with a 15-minute sign-in link for the admin to hand over (no password is
ever sent by LiveFeed). A workspace always keeps at least one admin."""

from __future__ import annotations

import asyncio
import re
import zoneinfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update

from .. import actions
from ..core import compose
from ..core.model import Invalid
from ..db.tables import users, workspaces
from .api import IdPath, error_422
from .auth import admin_user, api_user, credentials, runtime

router = APIRouter(prefix="/api/v1")
COLUMNS = (users.c.id, users.c.email, users.c.name, users.c.timezone, users.c.role, users.c.salesforce_user_id, users.c.disabled_at)
SALESFORCE_ID = re.compile(r"005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


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
    disabled: bool | None = Field(None, description="true: signed out everywhere, API tokens and the mailbox watcher stop; "
                                                    "the workspace's last admin cannot be disabled")


def _view(row) -> dict:
    out = {k: v for k, v in dict(row).items() if k != "disabled_at"}
    out["disabled"] = row["disabled_at"] is not None
    return out


def list_users(conn, workspace_id: int) -> list[dict]:
    return [_view(row) for row in conn.execute(select(*COLUMNS).where(users.c.workspace_id == workspace_id).order_by(users.c.email)).mappings()]


@router.get("/users", summary="The workspace's reps and admins")
async def get_users(request: Request, user=Depends(api_user)):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return list_users(conn, user["workspace_id"])
    return {"users": await asyncio.to_thread(read)}


def create_user(rt, admin, *, email: str, name: str, timezone: str, role: str, salesforce_user_id: str | None) -> tuple[int, str]:
    """Add a user to the admin's workspace: (id, a 15-minute sign-in link). ActionError on bad input."""
    from .pages import signin_url

    with rt.engine.connect() as conn:
        workspace = conn.execute(select(workspaces.c.name).where(workspaces.c.id == admin["workspace_id"])).scalar()
    user_id = actions.add_user(rt.engine, email=email, name=name, timezone=timezone, workspace=workspace,
                               salesforce_user_id=salesforce_user_id or None, role=role, now=rt.clock())
    return user_id, signin_url(rt.signer, rt.settings.public_url, user_id=user_id, now=rt.clock())


def change_user(rt, admin, user_id: int, values: dict) -> dict | None:
    """Change a user of the admin's workspace (None: no such user); Invalid on bad input or when
    it would leave the workspace without an admin."""
    values = dict(values)
    disabled = values.pop("disabled", None)
    check_user_values(values)
    if disabled is not None:
        if not actions.set_disabled(rt.engine, user_id=user_id, disabled=disabled, now=rt.clock(), workspace_id=admin["workspace_id"]):
            return None
    with rt.engine.begin() as conn:
        found = conn.execute(select(users.c.role).where(users.c.id == user_id, users.c.workspace_id == admin["workspace_id"])).first()
        if found is None:
            return None
        if values.get("role") == "rep" and found.role == "admin":
            admins = conn.execute(select(func.count()).select_from(users).where(
                users.c.workspace_id == admin["workspace_id"], users.c.role == "admin", users.c.disabled_at.is_(None))).scalar()
            if admins <= 1:
                raise Invalid("role", "the workspace needs at least one admin: make someone else admin first")
        if values:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))
        changed = _view(conn.execute(select(*COLUMNS).where(users.c.id == user_id)).mappings().one())
    credentials(rt).clear()  # the role (and being enabled) is part of the remembered credentials
    return changed


@router.post("/users", status_code=201, summary="Add a rep or an admin (answers with a 15-minute sign-in link)",
             responses={422: {"description": "Invalid; `loc` names the field"}, 403: {"description": "Not an admin"}})
async def add_user(body: UserIn, request: Request, user=Depends(admin_user)):
    rt = runtime(request)
    try:
        user_id, link = await asyncio.to_thread(create_user, rt, user, email=body.email, name=body.name, timezone=body.timezone,
                                                role=body.role, salesforce_user_id=body.salesforce_user_id)
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    return JSONResponse({"id": user_id, "email": body.email.strip().lower(), "role": body.role, "signin_link": link}, 201)


@router.patch("/users/{user_id}", summary="Change a user's role, name, time zone or Salesforce id, or disable them",
              responses={404: {"description": "No such user in your workspace"}, 403: {"description": "Not an admin"}})
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


async def user_access_changed(rt, user_id: int, *, disabled: bool) -> None:
    """After disabling or enabling: the mailbox watcher stops or starts, and a disabled user's open
    live streams in this process end (they reconnect, and are refused)."""
    if rt.services is not None:
        await rt.services.changed_mailbox(user_id)
    if disabled:
        for subscription in rt.hub.subscriptions(user_id):
            subscription.close()


def check_user_values(values: dict) -> None:
    if "role" in values and values["role"] not in actions.ROLES:
        raise Invalid("role", f"must be one of {', '.join(actions.ROLES)}")
    if values.get("timezone") is not None:
        try:
            zoneinfo.ZoneInfo(values["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise Invalid("timezone", f"{values['timezone']!r} is not an IANA time zone") from None
    if values.get("salesforce_user_id") and not SALESFORCE_ID.fullmatch(values["salesforce_user_id"]):
        raise Invalid("salesforce_user_id", "is a Salesforce User id: 15 or 18 characters starting with 005")
    for name in ("role", "name", "timezone"):
        if name in values and values[name] is None:
            raise Invalid(name, "must not be null")
    if values.get("name") is not None and (problem := compose.header_problem(values["name"])):
        raise Invalid("name", problem)  # it becomes the From header of the rep's mail
