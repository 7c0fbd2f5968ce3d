"""Tasks: a rep's to-do list. Create, change, complete, delete, and list by due window.

Every query is scoped to the workspace; the due date is a day in the assignee's time zone
(core/taskdates.py decides which days a filter covers).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime, time

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from ..core import taskdates
from ..core.contacts import tel_url
from ..core.model import Invalid, iso_z
from ..db.sql import new_id
from ..db.tables import people, tasks, users
from .changes import Changes

TYPES = ("call", "email", "linkedin", "custom")
TYPE_LABELS = {"call": "Call", "email": "Email", "linkedin": "LinkedIn", "custom": "To-do"}  # one name everywhere
PRIORITIES = ("low", "normal", "high")
STATUSES = ("open", "done")
MAX_TITLE = 500
MAX_NOTES = 10_000
MAX_LIST = 1000


def task_fields(data: Mapping, *, creating: bool) -> dict:
    """Validate the given fields of a task (all required ones when creating); raise Invalid."""
    fields: dict = {}
    if creating:
        for name in ("type", "title", "due_date"):
            if data.get(name) in (None, ""):
                raise Invalid(name, "is required")
    for name, value in data.items():
        if name == "type":
            if value not in TYPES:
                raise Invalid("type", f"must be one of {', '.join(TYPES)}")
        elif name == "priority":
            if value not in PRIORITIES:
                raise Invalid("priority", f"must be one of {', '.join(PRIORITIES)}")
        elif name == "status":
            if value not in STATUSES:
                raise Invalid("status", f"must be one of {', '.join(STATUSES)}")
        elif name == "title":
            value = (value or "").strip()
            if not value:
                raise Invalid("title", "must not be empty")
            if len(value) > MAX_TITLE:
                raise Invalid("title", f"at most {MAX_TITLE} characters")
        elif name == "notes":
            value = value or ""
            if len(value) > MAX_NOTES:
                raise Invalid("notes", f"at most {MAX_NOTES} characters")
        elif name == "due_date":
            value = taskdates.parse_date(value, "due_date")
        elif name == "due_time":
            value = None if value in (None, "") else taskdates.parse_time(value, "due_time")
        elif name in ("person_id", "assignee_id"):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise Invalid(name, "must be a positive integer id")
            if name == "assignee_id" and value is None:
                raise Invalid(name, "must be a rep of the workspace")
        else:
            raise Invalid(name, "unknown field")
        fields[name] = value
    return fields


def _check_refs(conn: Connection, workspace_id: int, fields: Mapping) -> None:
    """A person or assignee from another workspace (or none at all) is bad input, not a 404."""
    if fields.get("person_id") is not None:
        found = conn.execute(
            select(people.c.id).where(people.c.id == fields["person_id"], people.c.workspace_id == workspace_id)
        ).scalar()
        if found is None:
            raise Invalid("person_id", f"no person {fields['person_id']} in this workspace")
    if fields.get("assignee_id") is not None:
        found = conn.execute(
            select(users.c.id).where(users.c.id == fields["assignee_id"], users.c.workspace_id == workspace_id)
        ).scalar()
        if found is None:
            raise Invalid("assignee_id", f"no rep {fields['assignee_id']} in this workspace")


def visible_to(user: Mapping):
    """The tasks a user sees and changes: a rep those assigned to them or that they created (and
    so assigned); an admin every task of the workspace."""
    clause = tasks.c.workspace_id == user["workspace_id"]
    if user["role"] != "admin":
        clause = and_(clause, or_(tasks.c.assignee_id == user["id"], tasks.c.created_by == user["id"]))
    return clause


def create_task(conn: Connection, user: Mapping, data: Mapping, *, now: datetime, changes: Changes) -> int:
    """The new task's id; the assignee's Tasks tab is told after the commit."""
    fields = task_fields(data, creating=True)
    _check_refs(conn, user["workspace_id"], fields)
    status = fields.get("status", "open")
    changes.tasks_of(fields.get("assignee_id") or user["id"])
    return new_id(
        conn.execute(
            insert(tasks).values(
                workspace_id=user["workspace_id"],
                assignee_id=fields.get("assignee_id") or user["id"],
                created_by=user["id"],
                person_id=fields.get("person_id"),
                type=fields["type"],
                title=fields["title"],
                notes=fields.get("notes") or "",
                priority=fields.get("priority", "normal"),
                status=status,
                due_date=fields["due_date"],
                due_time=fields.get("due_time"),
                created_at=now,
                updated_at=now,
                completed_at=now if status == "done" else None,
            )
        )
    )


def update_task(
    conn: Connection, user: Mapping, task_id: int, data: Mapping, *, now: datetime, changes: Changes
) -> tuple[int, int] | None:
    """Change the given fields; (old assignee, new assignee), or None when there is no such task.
    Both assignees' Tasks tabs are told after the commit."""
    fields = task_fields(data, creating=False)
    current = conn.execute(select(tasks.c.assignee_id, tasks.c.status).where(tasks.c.id == task_id, visible_to(user))).first()
    if current is None:
        return None
    _check_refs(conn, user["workspace_id"], fields)
    if "status" in fields and fields["status"] != current.status:
        fields["completed_at"] = now if fields["status"] == "done" else None
    if "notes" in fields:
        fields["notes"] = fields["notes"] or ""
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(**fields, updated_at=now))
    changes.tasks_of(current.assignee_id, fields.get("assignee_id", current.assignee_id))
    return current.assignee_id, fields.get("assignee_id", current.assignee_id)


def complete_task(conn: Connection, user: Mapping, task_id: int, *, now: datetime, changes: Changes) -> tuple[int, int] | None:
    return update_task(conn, user, task_id, {"status": "done"}, now=now, changes=changes)


def delete_task(conn: Connection, user: Mapping, task_id: int, *, changes: Changes) -> int | None:
    """Delete; the assignee, or None when there is no such task in the workspace."""
    assignee = conn.execute(select(tasks.c.assignee_id).where(tasks.c.id == task_id, visible_to(user))).scalar()
    if assignee is not None:
        conn.execute(delete(tasks).where(tasks.c.id == task_id))
        changes.tasks_of(assignee)
    return assignee


# --- reading ---------------------------------------------------------------------------------


def _build_select():
    """The task rows with their assignee and person (built once: statements are immutable)."""
    assignee = users.alias("assignee")
    return (
        select(
            tasks,
            assignee.c.name.label("assignee_name"),
            assignee.c.timezone.label("assignee_timezone"),
            people.c.email.label("person_email"),
            people.c.name.label("person_name"),
            people.c.phone.label("person_phone"),
            people.c.linkedin_url.label("person_linkedin_url"),
            people.c.company.label("person_company"),
        )
        .select_from(tasks)
        .join(assignee, assignee.c.id == tasks.c.assignee_id)
        .outerjoin(people, people.c.id == tasks.c.person_id)
    )


_SELECT = _build_select()


def get_task(conn: Connection, user: Mapping, task_id: int, *, now: datetime) -> dict | None:
    row = conn.execute(_SELECT.where(tasks.c.id == task_id, visible_to(user))).mappings().first()
    return task_view(row, now) if row else None


def assignee_zone(conn: Connection, user: Mapping, assignee_id: int | None) -> tuple[int, zoneinfo.ZoneInfo]:
    """The assignee whose tasks are listed (the rep by default) and their time zone."""
    if assignee_id is None or assignee_id == user["id"]:
        return user["id"], taskdates.zone(user["timezone"])
    if user["role"] != "admin":
        raise PermissionError("only an admin lists another rep's tasks")
    found = conn.execute(
        select(users.c.timezone).where(users.c.id == assignee_id, users.c.workspace_id == user["workspace_id"])
    ).scalar()
    if found is None:
        raise Invalid("assignee_id", f"no rep {assignee_id} in this workspace")
    return assignee_id, taskdates.zone(found)


def list_tasks(
    conn: Connection,
    user: Mapping,
    *,
    assignee_id: int,
    tz: zoneinfo.ZoneInfo,
    window: taskdates.Window | None,
    status: str,
    overdue: bool,
    now: datetime,
    limit: int,
    person_id: int | None = None,
) -> list[dict]:
    query = _SELECT.where(tasks.c.workspace_id == user["workspace_id"], tasks.c.assignee_id == assignee_id)
    if person_id is not None:
        query = query.where(tasks.c.person_id == person_id)
    if status != "all":
        query = query.where(tasks.c.status == status)
    if window is not None:
        query = query.where(tasks.c.due_date >= window.first, tasks.c.due_date <= window.last)
    if overdue:
        local = now.astimezone(tz)
        today, clock = local.date(), local.time().replace(tzinfo=None, microsecond=0)
        query = query.where(
            tasks.c.status == "open",
            or_(
                tasks.c.due_date < today,
                and_(tasks.c.due_date == today, tasks.c.due_time.is_not(None), tasks.c.due_time <= clock),
            ),
        )
    query = query.order_by(tasks.c.due_date, tasks.c.due_time.nulls_first(), tasks.c.id).limit(limit)
    return [task_view(row, now) for row in conn.execute(query).mappings()]


def task_view(row: Mapping, now: datetime) -> dict:
    tz = taskdates.zone(row["assignee_timezone"])
    due_date: date = row["due_date"]
    due_time: time | None = row["due_time"]
    person = None
    if row["person_id"] is not None:
        person = {
            "id": row["person_id"],
            "email": row["person_email"],
            "name": row["person_name"],
            "company": row["person_company"],
            "phone": row["person_phone"],
            "tel_url": tel_url(row["person_phone"]),
            "linkedin_url": row["person_linkedin_url"],
        }
    return {
        "id": row["id"],
        "type": row["type"],
        "title": row["title"],
        "notes": row["notes"],
        "priority": row["priority"],
        "status": row["status"],
        "due_date": due_date.isoformat(),
        "due_time": due_time.strftime("%H:%M") if due_time else None,
        "due_at": iso_z(taskdates.local_instant(due_date, due_time, tz)) if due_time else None,
        "overdue": row["status"] == "open" and taskdates.is_overdue(due_date, due_time, now, tz),
        "person": person,
        "person_id": row["person_id"],
        "assignee": {"id": row["assignee_id"], "name": row["assignee_name"], "timezone": row["assignee_timezone"]},
        "created_by": row["created_by"],
        "created_at": iso_z(row["created_at"]),
        "updated_at": iso_z(row["updated_at"]),
        "completed_at": iso_z(row["completed_at"]),
    }
