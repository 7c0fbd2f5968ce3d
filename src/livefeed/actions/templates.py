"""Saved email templates: a rep's own, or shared with the workspace.

A template is a name, a subject and an HTML body that may use the personal fields
({{first_name}}…). It is checked when saved (an unknown field, a header-breaking subject) and its
body is cleaned (richtext.clean_html). Every rep of the workspace sees the shared ones; only the
author changes or deletes a template, or an admin a shared one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from ..core import compose
from ..core.model import Invalid, iso_z
from ..db.sql import new_id
from ..db.tables import templates, users
from ..pipeline.richtext import clean_html, is_blank

MAX_NAME = 200
MAX_TEMPLATES = 500  # per rep: a library, not a store
FIELDS = ("name", "subject", "html", "shared")


def check(values: Mapping) -> dict:
    """The validated fields given (a partial set for a change); raise Invalid naming the bad one."""
    clean: dict = {}
    if "name" in values:
        name = (values["name"] or "").strip()
        if not name or len(name) > MAX_NAME or compose.header_problem(name):
            raise Invalid("name", f"must be one line of 1 to {MAX_NAME} characters")
        clean["name"] = name
    if "subject" in values:
        subject = (values["subject"] or "").strip()
        if not subject:
            raise Invalid("subject", "is required")
        if problem := compose.header_problem(subject):
            raise Invalid("subject", problem)
        if len(subject) > compose.MAX_SUBJECT:
            raise Invalid("subject", f"at most {compose.MAX_SUBJECT} characters")
        clean["subject"] = subject
    if "html" in values:
        html = values["html"] or ""
        if len(html.encode()) > compose.MAX_BODY_BYTES:
            raise Invalid("html", f"the body is over {compose.MAX_BODY_BYTES // (1024 * 1024)} MB")
        if is_blank(html):
            raise Invalid("html", "is required")
        clean["html"] = clean_html(html)
    if "shared" in values:
        if not isinstance(values["shared"], bool):
            raise Invalid("shared", "must be true or false")
        clean["shared"] = values["shared"]
    for name in ("subject", "html"):
        if name in clean:
            try:
                compose.fields_used(clean[name])
            except ValueError as exc:
                raise Invalid(name, str(exc)) from None
    return clean


def visible(user):
    """The templates `user` may see: their own and the workspace's shared ones."""
    return (templates.c.workspace_id == user["workspace_id"]) & or_(templates.c.user_id == user["id"], templates.c.shared)


def list_templates(conn: Connection, user) -> list[dict]:
    query = (
        select(templates, users.c.name.label("author_name"))
        .join(users, users.c.id == templates.c.user_id)
        .where(visible(user))
        .order_by(templates.c.name, templates.c.id)
    )
    return [view(row, user) for row in conn.execute(query).mappings()]


def get_template(conn: Connection, user, template_id: int) -> dict | None:
    row = (
        conn.execute(
            select(templates, users.c.name.label("author_name"))
            .join(users, users.c.id == templates.c.user_id)
            .where(visible(user), templates.c.id == template_id)
        )
        .mappings()
        .first()
    )
    return view(row, user) if row else None


def create(conn: Connection, user, values: Mapping, *, now: datetime) -> int:
    clean = check({"shared": False, **values})
    for name in ("name", "subject", "html"):
        if name not in clean:
            raise Invalid(name, "is required")
    if (
        conn.execute(select(func.count()).select_from(templates).where(templates.c.user_id == user["id"])).scalar_one()
        >= MAX_TEMPLATES
    ):
        raise Invalid("name", f"at most {MAX_TEMPLATES} templates each: delete some first")
    return new_id(
        conn.execute(
            insert(templates).values(
                workspace_id=user["workspace_id"], user_id=user["id"], created_at=now, updated_at=now, **clean
            )
        )
    )


def may_change(user, found: Mapping) -> bool:
    return found["mine"] or (found["shared"] and user["role"] == "admin")


def change(conn: Connection, user, template_id: int, values: Mapping, *, now: datetime) -> str:
    """'changed', 'missing' (not visible) or 'forbidden' (someone else's); Invalid for bad values."""
    found = get_template(conn, user, template_id)
    if found is None:
        return "missing"
    if not may_change(user, found):
        return "forbidden"
    clean = check(values)
    if clean:
        conn.execute(update(templates).where(templates.c.id == template_id).values(updated_at=now, **clean))
    return "changed"


def remove(conn: Connection, user, template_id: int) -> str:
    found = get_template(conn, user, template_id)
    if found is None:
        return "missing"
    if not may_change(user, found):
        return "forbidden"
    conn.execute(delete(templates).where(templates.c.id == template_id))
    return "deleted"


def view(row: Mapping, user) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "subject": row["subject"],
        "html": row["html"],
        "shared": bool(row["shared"]),
        "author": {"id": row["user_id"], "name": row["author_name"]},
        "mine": row["user_id"] == user["id"],
        "fields": compose.fields_used(row["subject"], row["html"]),
        "created_at": iso_z(row["created_at"]),
        "updated_at": iso_z(row["updated_at"]),
    }
