"""Rows pushed into a rep's feed through the API (a call logged elsewhere, a note from a script):
idempotent by the caller's key, recorded through the writer like every other feed event."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from ..core.model import ITEM
from ..db.eventlog import event_row
from ..db.tables import events
from . import people as people_actions


def _existing(conn: Connection, user_id: int, key: str) -> int | None:
    return conn.execute(select(events.c.id).where(events.c.user_id == user_id, events.c.idempotency_key == key)).scalar()


async def push_item(
    rt, user: Mapping, *, email: str, message: str, at: datetime, url: str | None, key: str | None, now: datetime
) -> tuple[int, bool]:
    """(the event id, whether the key was used before: the original item's id then)."""

    def job(conn):
        if key is not None and (found := _existing(conn, user["id"], key)) is not None:
            return found, []
        person_id = people_actions.ensure_person(conn, user["workspace_id"], email, now)
        person = people_actions.person(conn, workspace_id=user["workspace_id"], person_id=person_id)
        row = event_row(
            workspace_id=user["workspace_id"], user_id=user["id"], person_id=person_id, kind=ITEM, cls=ITEM,
            reason="Pushed through the API", at=at, detail=message, url=url, idempotency_key=key,
            # for the live frame
            subject=None, person_email=email, person_name=person["name"], link_url=url, forward_state=None,
        )  # fmt: skip
        return None, [row]

    try:
        existing, ids = await rt.recorder.write_events(job)
    except IntegrityError:  # the same key stored meanwhile by another worker
        assert key is not None
        existing, ids = await asyncio.to_thread(_lookup, rt, user["id"], key), []
    return (existing or ids[0]), existing is not None


def _lookup(rt, user_id: int, key: str) -> int | None:
    with rt.engine.connect() as conn:
        return _existing(conn, user_id, key)
