"""Marketing engagement — the purple side of the feed: Marketo Interesting Moments, marketing email
opens and clicks, form fills, website visits — recorded as feed events for the person's owner.

Everyone it names becomes a person (new ones "not in LiveFeed": `added_at` empty, until a rep adds
them with the down-arrow). The event goes to the person's owner (Salesforce assignment), else the
rep named with it (a webhook's `owner_email`), else the rep who last emailed them; with none of
these it is not shown in any feed (counted `unassigned`). A key per activity (Marketo's activity
id, the webhook's) makes a replay record nothing. Score changes go through people.apply_people
(history, rises announced, the Target list). Requests are written in groups (one transaction
for everything queued meanwhile) through the recorder's writer, in id order with the hits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from . import people as people_actions
from .core.marketo import Engagement
from .core.model import MARKETING
from .db.eventlog import event_row
from .db.tables import emails, events, people, recipients, users

log = logging.getLogger(__name__)


@dataclass
class Result:
    event_id: int | None = None
    duplicate: bool = False
    unassigned: bool = False
    person_id: int | None = None
    row: int | None = None  # the index of its event row in the job's rows


def apply_activities(conn: Connection, activities: list[Engagement], now: datetime) -> tuple[list[Result], list[dict], set[int]]:
    """Upsert the people, route each activity to a rep; the results, the event rows (in order:
    score rises first) and the reps whose Target list changed."""
    rows: list[dict] = []
    owners: set[int] = set()
    ids: dict[tuple[int, str], int] = {}
    for workspace_id in sorted({a.workspace_id for a in activities}):
        group = [a for a in activities if a.workspace_id == workspace_id]
        records = {}
        for activity in group:
            records.setdefault(activity.email, {"email": activity.email}).update(activity.person)
        applied, rises = people_actions.apply_people(conn, workspace_id=workspace_id, source="marketo", now=now,
                                                     records=list(enumerate(records.values())), partial=True)
        rows += rises
        owners |= applied.owners
        ids.update(((workspace_id, email), person_id) for email, person_id in applied.ids.items())
    facts = _facts(conn, ids)
    seen = _seen_keys(conn, [a.key for a in activities])
    results = []
    for activity in activities:
        person_id = ids.get((activity.workspace_id, activity.email))
        result = Result(person_id=person_id)
        results.append(result)
        if person_id is None or activity.kind is None:
            continue
        fact = facts[person_id]
        owner = fact["owner"] or _named_owner(conn, activity)
        if owner is None:
            result.unassigned = True
            continue
        if activity.key is not None and (owner, activity.key) in seen:
            result.duplicate = True
            continue
        if activity.key is not None:
            seen.add((owner, activity.key))
        result.row = len(rows)
        rows.append(event_row(
            workspace_id=activity.workspace_id, user_id=owner, person_id=person_id, kind=activity.kind, cls=MARKETING,
            reason=activity.reason[:300], at=activity.at, detail=activity.detail[:1000] or None, url=activity.url,
            idempotency_key=activity.key, visit_id=activity.visit_id,
            # for the live frame
            person_email=activity.email, person_name=fact["name"], person_added_at=fact["added_at"], subject=None,
            link_url=None, forward_state=None))
    return results, rows, owners


def _facts(conn: Connection, ids: dict) -> dict[int, dict]:
    """person id → name, added_at and the rep: the owner, else the rep who last emailed them."""
    person_ids = sorted(set(ids.values()))
    if not person_ids:
        return {}
    query = select(people.c.id, people.c.owner_id, people.c.name, people.c.added_at).where(people.c.id.in_(person_ids))
    facts = {row.id: {"owner": row.owner_id, "name": row.name, "added_at": row.added_at} for row in conn.execute(query)}
    missing = [pid for pid, fact in facts.items() if fact["owner"] is None]
    if missing:
        latest = (select(recipients.c.person_id, func.max(recipients.c.id).label("rid"))
                  .where(recipients.c.person_id.in_(missing)).group_by(recipients.c.person_id).subquery())
        query = (select(latest.c.person_id, emails.c.user_id).join(recipients, recipients.c.id == latest.c.rid)
                 .join(emails, emails.c.id == recipients.c.email_id))
        for person_id, user_id in conn.execute(query):
            facts[person_id]["owner"] = user_id
    return facts


def _named_owner(conn: Connection, activity: Engagement) -> int | None:
    if not activity.owner_email:
        return None
    return conn.execute(select(users.c.id).where(users.c.workspace_id == activity.workspace_id,
                                                 users.c.email == activity.owner_email)).scalar()


def _seen_keys(conn: Connection, keys: list[str | None]) -> set[tuple[int, str]]:
    keys = sorted({key for key in keys if key})
    if not keys:
        return set()
    query = select(events.c.user_id, events.c.idempotency_key).where(events.c.idempotency_key.in_(keys))
    return {(row.user_id, row.idempotency_key) for row in conn.execute(query)}


async def record_activities(rt, activities: list[Engagement]) -> list[Result]:
    """Write activities through the recorder (one transaction), then refresh Target lists."""
    now = rt.clock()
    results_box: list = []

    def job(conn):
        results, rows, owners = apply_activities(conn, activities, now)
        results_box.append((results, owners))
        return None, rows

    _, ids = await rt.recorder.write_events(job)
    results, owners = results_box[0]
    for result in results:
        if result.row is not None:
            result.event_id = ids[result.row]
    if owners:
        for workspace_id in {a.workspace_id for a in activities}:
            rt.tiers.forget(workspace_id)
        rt.target_lists.forget(owners)
        await rt.hub.signal(owners, "targets")
    return results


class Batcher:
    """Callers submit one item and wait; everything queued while the previous group was written
    is handed to `run` as one group (one transaction: group commit, as the tracking hits)."""

    def __init__(self, run: Callable[[list], Awaitable[list]], *, max_group: int = 500):
        self._run, self._max = run, max_group
        self._queue: list[tuple[object, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def submit(self, item):
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="livefeed-batcher")
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        return await future

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group, self._queue = self._queue[:self._max], self._queue[self._max:]
                try:
                    results = await self._run([item for item, _ in group])
                except Exception as exc:  # nothing of the group is stored: every caller learns it
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(group, results):
                    if not future.done():
                        future.set_result(result)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
