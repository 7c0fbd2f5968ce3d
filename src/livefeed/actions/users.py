"""The workspace's users: list them, add one (with a sign-in link to hand over), change one
(role, name, zone, Salesforce id, disabled). A workspace always keeps at least one admin."""

from __future__ import annotations

import re
import zoneinfo

from sqlalchemy import func, select, update

from .. import actions
from ..core import compose
from ..core.model import Invalid
from ..db.tables import users, workspaces
from .sessions import signin_url

COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.timezone,
    users.c.role,
    users.c.salesforce_user_id,
    users.c.disabled_at,
)
SALESFORCE_ID = re.compile(r"005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


def _view(row) -> dict:
    out = {k: v for k, v in dict(row).items() if k != "disabled_at"}
    out["disabled"] = row["disabled_at"] is not None
    return out


def list_users(conn, workspace_id: int) -> list[dict]:
    return [
        _view(row)
        for row in conn.execute(select(*COLUMNS).where(users.c.workspace_id == workspace_id).order_by(users.c.email)).mappings()
    ]


def create_user(rt, admin, *, email: str, name: str, timezone: str, role: str, salesforce_user_id: str | None) -> tuple[int, str]:
    """Add a user to the admin's workspace: (id, a 15-minute sign-in link). ActionError on bad input."""
    with rt.engine.connect() as conn:
        workspace = conn.execute(select(workspaces.c.name).where(workspaces.c.id == admin["workspace_id"])).scalar()
    user_id = actions.add_user(
        rt.engine,
        email=email,
        name=name,
        timezone=timezone,
        workspace=workspace,
        salesforce_user_id=salesforce_user_id or None,
        role=role,
        now=rt.clock(),
    )
    return user_id, signin_url(rt.signer, rt.settings.public_url, user_id=user_id, now=rt.clock())


def change_user(rt, admin, user_id: int, values: dict) -> dict | None:
    """Change a user of the admin's workspace (None: no such user); Invalid on bad input or when
    it would leave the workspace without an admin."""
    values = dict(values)
    disabled = values.pop("disabled", None)
    check_user_values(values)
    if disabled is not None:
        if not actions.set_disabled(
            rt.engine, user_id=user_id, disabled=disabled, now=rt.clock(), workspace_id=admin["workspace_id"]
        ):
            return None
    with rt.engine.begin() as conn:
        found = conn.execute(
            select(users.c.role).where(users.c.id == user_id, users.c.workspace_id == admin["workspace_id"])
        ).first()
        if found is None:
            return None
        if values.get("role") == "rep" and found.role == "admin":
            admins = conn.execute(
                select(func.count())
                .select_from(users)
                .where(users.c.workspace_id == admin["workspace_id"], users.c.role == "admin", users.c.disabled_at.is_(None))
            ).scalar()
            if admins <= 1:
                raise Invalid("role", "the workspace needs at least one admin: make someone else admin first")
        if values:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))
        changed = _view(conn.execute(select(*COLUMNS).where(users.c.id == user_id)).mappings().one())
    if rt.credentials is not None:
        rt.credentials.clear()  # the role (and being enabled) is part of the remembered credentials
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
