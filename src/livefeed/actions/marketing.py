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

from ..core.model import MARKETING, Activity
from ..db.eventlog import event_row
from ..db.sql import utc
from ..db.tables import emails, people, recipients, users
from . import people as people_actions
from .changes import Changes, after_commit

log = logging.getLogger(__name__)


@dataclass
class Result:
    event_id: int | None = None
    duplicate: bool = False
    unassigned: bool = False
    person_id: int | None = None
    row: int | None = None  # the index of its event row in the job's rows


def apply_activities(conn: Connection, activities: list[Activity], now: datetime) -> tuple[list[Result], list[dict], set[int]]:
    """Upsert the people, route each activity to a rep; the results, the event rows (in order:
    score rises first) and the reps whose Target list changed. A group costs a few statements
    whatever its size: the people are read once, and only new or changed ones are written."""
    rows: list[dict] = []
    owners: set[int] = set()
    facts: dict[tuple[int, str], dict] = {}
    for workspace_id in sorted({a.workspace_id for a in activities}):
        records: dict[str, dict] = {}
        # each activity's lead data as of its own time, oldest first: the newest one wins
        for activity in sorted((a for a in activities if a.workspace_id == workspace_id), key=lambda a: a.at):
            email = _address(activity)
            if activity.person:
                records.setdefault(email, {"email": email}).update(activity.person, as_of=activity.at)
            else:
                records.setdefault(email, {"email": email})
        existing = _people(conn, workspace_id, list(records))
        changing = [
            (line, record) for line, record in enumerate(records.values()) if _changes(existing.get(record["email"]), record, now)
        ]
        written: set[int] = set()
        if changing:  # new people, or Marketo changed a field or the score: the full upsert
            applied, rises = people_actions.apply_people(
                conn, workspace_id=workspace_id, source="marketo", now=now, records=changing, partial=True
            )
            rows += rises
            owners |= applied.owners
            written = {applied.ids[record["email"]] for _, record in changing if record["email"] in applied.ids}
        for email, current in existing.items():
            facts[(workspace_id, email)] = {
                "id": current["id"],
                "owner": current["owner_id"],
                "name": current["name"],
                "added_at": current["added_at"],
            }
        if written:  # read what they are now
            query = select(people.c.id, people.c.email, people.c.owner_id, people.c.name, people.c.added_at).where(
                people.c.id.in_(written)
            )
            for row in conn.execute(query):
                facts[(workspace_id, row.email)] = {
                    "id": row.id,
                    "owner": row.owner_id,
                    "name": row.name,
                    "added_at": row.added_at,
                }
    _last_emailers(conn, [f for f in facts.values() if f["owner"] is None])
    routed = []
    for activity in activities:
        fact = facts.get((activity.workspace_id, _address(activity)))
        owner = (fact["owner"] or _named_owner(conn, activity)) if fact and activity.kind is not None else None
        routed.append((activity, fact, owner))
    seen = _seen_keys(conn, [(owner, activity.key) for activity, _, owner in routed if owner and activity.key])
    results = []
    for activity, fact, owner in routed:
        result = Result(person_id=fact["id"] if fact else None)
        results.append(result)
        if fact is None or activity.kind is None:
            continue
        if owner is None:
            result.unassigned = True
            continue
        if activity.key is not None and (owner, activity.key) in seen:
            result.duplicate = True
            continue
        if activity.key is not None:
            seen.add((owner, activity.key))
        result.row = len(rows)
        rows.append(
            event_row(
                workspace_id=activity.workspace_id,
                user_id=owner,
                person_id=fact["id"],
                kind=activity.kind,
                cls=MARKETING,
                reason=activity.reason[:300],
                at=activity.at,
                detail=activity.detail[:1000] or None,
                url=activity.url,
                idempotency_key=activity.key,
                visit_id=activity.visit_id,
                # for the live frame
                person_email=activity.email,
                person_name=fact["name"],
                person_added_at=fact["added_at"],
                subject=None,
                link_url=None,
                forward_state=None,
            )
        )
    return results, rows, owners


# The fast path's lookup, in the driver's SQL (SQLAlchemy Core costs ≈ 50 µs a statement, and
# this runs for every group of webhook requests and page views): what merge() compares, the
# facts a row needs, and `added` as a flag (marketing never sets it).
_PEOPLE_COLUMNS = (
    "id",
    "email",
    "owner_id",
    "name",
    "first_name",
    "last_name",
    "title",
    "company",
    "phone",
    "linkedin_url",
    "marketo_id",
    "salesforce_id",
    "lead_score",
    "fields_at",
)


def _people(conn: Connection, workspace_id: int, addresses: list[str]) -> dict[str, dict]:
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    found = {}
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        sql = (
            f"SELECT {', '.join(_PEOPLE_COLUMNS)}, added_at IS NOT NULL FROM people "
            f"WHERE workspace_id = {mark} AND email IN ({', '.join([mark] * len(chunk))})"
        )
        for row in conn.exec_driver_sql(sql, (workspace_id, *chunk)):
            person = dict(zip(_PEOPLE_COLUMNS, row))
            person["added_at"] = True if row[-1] else None
            person["fields_at"] = utc(person["fields_at"])  # SQLite keeps times as text
            found[person["email"]] = person
    return found


def _changes(current, record: dict, now: datetime) -> bool:
    if current is None:
        return True
    values, change = people_actions.merge(current, record, owner_id=people_actions.KEEP, source="marketo", now=now)
    return bool(values or change)


def _last_emailers(conn: Connection, unowned: list[dict]) -> None:
    """People without an owner go to the rep who last emailed them (set in place)."""
    if not unowned:
        return
    by_id = {fact["id"]: fact for fact in unowned}
    latest = (
        select(recipients.c.person_id, func.max(recipients.c.id).label("rid"))
        .where(recipients.c.person_id.in_(list(by_id)))
        .group_by(recipients.c.person_id)
        .subquery()
    )
    query = (
        select(latest.c.person_id, emails.c.user_id)
        .join(recipients, recipients.c.id == latest.c.rid)
        .join(emails, emails.c.id == recipients.c.email_id)
    )
    for person_id, user_id in conn.execute(query):
        by_id[person_id]["owner"] = user_id


def _address(activity: Activity) -> str:
    """The person's address: the edges look up Marketo's lead before an activity is recorded."""
    if activity.email is None:
        raise ValueError(f"activity {activity.key or activity.marketo_id} reached the database without an address")
    return activity.email


def _named_owner(conn: Connection, activity: Activity) -> int | None:
    if not activity.owner_email:
        return None
    return conn.execute(
        select(users.c.id).where(users.c.workspace_id == activity.workspace_id, users.c.email == activity.owner_email)
    ).scalar()


def _seen_keys(conn: Connection, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (rep, key) pairs are recorded already (the unique (user_id, idempotency_key) index)."""
    if not pairs:
        return set()
    reps, keys = sorted({rep for rep, _ in pairs}), sorted({key for _, key in pairs})
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (
        f"SELECT user_id, idempotency_key FROM events WHERE user_id IN ({', '.join([mark] * len(reps))}) "
        f"AND idempotency_key IN ({', '.join([mark] * len(keys))})"
    )
    return set(map(tuple, conn.exec_driver_sql(sql, (*reps, *keys)))) & set(pairs)


async def record_activities(rt, activities: list[Activity]) -> list[Result]:
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
        changes = Changes().targets_of(owners)
        for workspace_id in {a.workspace_id for a in activities}:
            changes.scores_in(workspace_id)
        await after_commit(rt, changes)
    return results


class Batcher:
    """Callers submit one item and wait; everything queued while the previous group was written
    is handed to `run` as one group (one transaction: group commit, as the tracking hits)."""

    def __init__(self, run: Callable[[list], Awaitable[list]], *, max_group: int = 500, name: str = "batcher"):
        self._run, self._max, self.name = run, max_group, name
        self.groups = self.items = 0
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
                group, self._queue = self._queue[: self._max], self._queue[self._max :]
                self.groups += 1
                self.items += len(group)
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
        if self.groups:
            log.info("%s: %d items in %d groups (%.1f a group)", self.name, self.items, self.groups, self.items / self.groups)
