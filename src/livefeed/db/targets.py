"""The Target list: the 50 people a rep owns, highest lead score first, with stars, flames and reasons.

The list itself is one indexed query (ix_people_owner_score); the workspace-wide cut points that
turn scores into stars and rises into flames need a scan of the workspace, so they are computed in
the background and cached for TIERS_TTL seconds (a request never waits for a stale cache; only the
very first request of a workspace computes them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, or_, select

from ..core import scoring
from ..core.contacts import tel_url
from ..core.model import ALERTING, SCORE, iso_z
from .sql import utc
from .tables import events, people, score_changes, workspaces

log = logging.getLogger(__name__)

LIMIT = 50
REASONS = 3
TIERS_TTL = 60.0
ENGAGEMENT_STAR_CUTS = scoring.Cuts((3.0, 10.0, 25.0))  # about one click; a reply; a hot week
VERBS = {"open": "Opened", "click": "Clicked a link in", "reply": "Replied to", "visit": "Visited"}


@dataclass(frozen=True, slots=True)
class Tiers:
    method: str
    stars: scoring.Cuts
    flames: scoring.Cuts
    engagement_ranking: bool

    def to_json(self) -> dict:
        def points(cuts: scoring.Cuts):
            return [p if p != float("inf") else None for p in cuts.points]

        return {
            "method": self.method,
            "stars": points(self.stars),
            "flames": points(self.flames),
            "engagement_ranking": self.engagement_ranking,
        }


def workspace_tiers(conn: Connection, workspace_id: int, now: datetime) -> Tiers:
    ws = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).mappings().one()
    if ws["tier_method"] == "fixed":
        stars = scoring.fixed_cuts(
            scoring.parse_thresholds(ws["star_thresholds"], "star_thresholds")
            if ws["star_thresholds"]
            else scoring.DEFAULT_STAR_THRESHOLDS
        )
        flames = scoring.fixed_cuts(
            scoring.parse_thresholds(ws["flame_thresholds"], "flame_thresholds")
            if ws["flame_thresholds"]
            else scoring.DEFAULT_FLAME_THRESHOLDS
        )
    else:
        scores = conn.execute(
            select(people.c.lead_score, func.count())
            .where(people.c.workspace_id == workspace_id, people.c.lead_score > 0)
            .group_by(people.c.lead_score)
        ).all()
        rise = func.sum(score_changes.c.new - score_changes.c.old)
        rises = conn.execute(
            select(rise)
            .where(
                score_changes.c.workspace_id == workspace_id,
                score_changes.c.at >= now - timedelta(days=scoring.FLAME_DAYS),
                score_changes.c.old.is_not(None),
                score_changes.c.new.is_not(None),
            )
            .group_by(score_changes.c.person_id)
        ).all()
        histogram: dict[int, int] = {}
        for (value,) in rises:
            histogram[value] = histogram.get(value, 0) + 1
        stars = scoring.percentile_cuts(dict(scores), scoring.STAR_PERCENTILES)
        flames = scoring.percentile_cuts(histogram, scoring.FLAME_PERCENTILES)
    return Tiers(ws["tier_method"], stars, flames, bool(ws["engagement_ranking"]))


class TierCache:
    """Per-workspace tiers, refreshed in the background once older than `ttl` seconds."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime], ttl: float = TIERS_TTL):
        self._engine, self._clock, self._ttl = engine, clock, ttl
        self._cache: dict[int, tuple[datetime, Tiers]] = {}
        self._refreshing: dict[int, asyncio.Task] = {}

    async def get(self, workspace_id: int) -> Tiers:
        cached = self._cache.get(workspace_id)
        if cached is None:
            return await self._refresh(workspace_id)
        at, tiers = cached
        if (self._clock() - at).total_seconds() > self._ttl and workspace_id not in self._refreshing:
            self._refreshing[workspace_id] = asyncio.create_task(self._refresh(workspace_id))
        return tiers

    def forget(self, workspace_id: int) -> None:
        """A setting changed: the next request recomputes."""
        self._cache.pop(workspace_id, None)

    async def _refresh(self, workspace_id: int) -> Tiers:
        try:
            now = self._clock()
            tiers = await asyncio.to_thread(self._compute, workspace_id, now)
            self._cache[workspace_id] = (now, tiers)
            return tiers
        finally:
            self._refreshing.pop(workspace_id, None)

    def _compute(self, workspace_id: int, now: datetime) -> Tiers:
        with self._engine.connect() as conn:
            return workspace_tiers(conn, workspace_id, now)

    async def close(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ListCache:
    """Each rep's built list (the JSON body), kept until something it shows may have changed.

    The hub tells it of every committed event of a rep (an engagement hit adds a reason; a score
    rise moves the rep's list) and of every "targets changed" signal (a person's owner or score
    changed, from any worker); the API's own people writes drop it at once. What no signal covers
    (the workspace's tier cut points moving, the 7-day flame window sliding, a first score from
    `livefeed import` on SQLite) is at most `ttl` seconds old."""

    MAX = 10_000

    def __init__(self, *, clock: Callable[[], datetime], ttl: float = 30.0):
        self._clock, self._ttl = clock, timedelta(seconds=ttl)
        self._lists: OrderedDict[int, tuple[datetime, bytes]] = OrderedDict()
        self._forgotten = 0  # bumped by every forget: a list built across one is not kept
        self.hits = self.misses = 0

    def version(self) -> int:
        return self._forgotten

    def get(self, user_id: int) -> bytes | None:
        found = self._lists.get(user_id)
        if found is None or self._clock() - found[0] >= self._ttl:
            self.misses += 1
            return None
        self.hits += 1
        return found[1]

    def put(self, user_id: int, built_at: datetime, body: bytes, version: int) -> None:
        """Keep a list built from data read after `version()` returned `version`."""
        if version != self._forgotten:
            return  # something changed while it was being built
        self._lists[user_id] = (built_at, body)
        self._lists.move_to_end(user_id)
        while len(self._lists) > self.MAX:
            self._lists.popitem(last=False)

    def forget(self, user_ids: Iterable[int]) -> None:
        self._forgotten += 1
        for user_id in user_ids:
            self._lists.pop(user_id, None)

    def forget_all(self) -> None:
        self._forgotten += 1
        self._lists.clear()


# --- the list ----------------------------------------------------------------------------------
# The list is read on every open of the Target tab and after every score rise, so its three reads
# are plain SQL built once per dialect (SQLAlchemy Core costs more than the queries themselves).

PERSON_COLUMNS = (
    "id",
    "email",
    "name",
    "title",
    "company",
    "phone",
    "linkedin_url",
    "lead_score",
    "score_source",
    "last_increase_at",
)
PERSON_FIELDS = tuple(people.c[name] for name in PERSON_COLUMNS)


class ListSql:
    """The Target list's statements for one dialect ("?" marks for SQLite, "%s" for psycopg)."""

    def __init__(self, dialect: str):
        self.sqlite = dialect == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        m = self.mark
        # Served by ix_people_owner_score, read backwards (tests/test_people.py checks the plan).
        self.ranked = (
            f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE owner_id = {m} AND last_increase_at IS NOT NULL "
            f"AND workspace_id = {m} ORDER BY lead_score DESC, last_increase_at DESC LIMIT {LIMIT}"
        )
        self._changes = (
            "SELECT person_id, at, old, new, source, rise FROM (SELECT person_id, at, old, new, source, "
            "ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY at DESC, id DESC) AS n, "
            f"SUM(CASE WHEN at >= {m} AND old IS NOT NULL AND new IS NOT NULL THEN new - old ELSE 0 END) "
            "OVER (PARTITION BY person_id) AS rise FROM score_changes WHERE person_id IN ({ids})) AS t "
            f"WHERE n <= {REASONS} ORDER BY person_id, n"
        )
        self._hits = (
            "SELECT person_id, kind, at, subject FROM (SELECT e.person_id, e.kind, e.at, m.subject, "
            "ROW_NUMBER() OVER (PARTITION BY e.person_id ORDER BY e.id DESC) AS n FROM events e "
            "LEFT JOIN emails m ON m.id = e.email_id WHERE e.person_id IN ({ids}) "
            f"AND e.workspace_id = {m} AND e.user_id = {m} AND e.kind <> '{SCORE}' "
            f"AND e.cls IN ({', '.join(repr(c) for c in sorted(ALERTING))})) AS t WHERE n <= {REASONS}"
        )

    def changes(self, ids: list[int]) -> str:
        return self._changes.format(ids=", ".join([self.mark] * len(ids)))

    def hits(self, ids: list[int]) -> str:
        return self._hits.format(ids=", ".join([self.mark] * len(ids)))

    def time(self, value):
        """A bound time as each driver compares it (SQLite: the stored text form)."""
        if self.sqlite:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value


_SQL: dict[str, ListSql] = {}


def list_sql(dialect: str) -> ListSql:
    sql = _SQL.get(dialect)
    if sql is None:
        sql = _SQL[dialect] = ListSql(dialect)
    return sql


def target_list(conn: Connection, *, workspace_id: int, user_id: int, tiers: Tiers, now: datetime) -> list[dict]:
    sql = list_sql(conn.dialect.name)
    rows = [dict(zip(PERSON_COLUMNS, row)) for row in conn.exec_driver_sql(sql.ranked, (user_id, workspace_id))]
    if tiers.engagement_ranking:
        rows = _with_engagement(conn, rows, workspace_id=workspace_id, user_id=user_id, now=now)
    ids = [row["id"] for row in rows]
    changes: dict[int, list] = {}
    hits: dict[int, list] = {}
    if ids:
        since = sql.time(now - timedelta(days=scoring.FLAME_DAYS))
        for person_id, at, old, new, source, rise in conn.exec_driver_sql(sql.changes(ids), (since, *ids)):
            changes.setdefault(person_id, []).append(
                {"at": utc(at), "old": old, "new": new, "source": source, "rise": max(int(rise or 0), 0)}
            )
        for person_id, kind, at, subject in conn.exec_driver_sql(sql.hits(ids), (*ids, workspace_id, user_id)):
            hits.setdefault(person_id, []).append({"kind": kind, "at": utc(at), "subject": subject})
    result = []
    for rank, row in enumerate(rows, 1):
        mine = changes.get(row["id"], [])
        rise = mine[0]["rise"] if mine else 0
        engagement = row["score_source"] == "engagement"
        reasons = sorted(
            [_change_reason(c) for c in mine] + [_hit_reason(h) for h in hits.get(row["id"], [])],
            key=lambda r: r["at"],
            reverse=True,
        )[:REASONS]
        last = mine[0] if mine else None
        result.append(
            {
                "rank": rank,
                "id": row["id"],
                "email": row["email"],
                "name": row["name"],
                "title": row["title"],
                "company": row["company"],
                "phone": row["phone"],
                "tel_url": tel_url(row["phone"]),
                "linkedin_url": row["linkedin_url"],
                "score": row["lead_score"],
                "score_source": row["score_source"],
                "stars": (ENGAGEMENT_STAR_CUTS if engagement else tiers.stars).tier(row["lead_score"]),
                "flames": 0 if engagement else tiers.flames.tier(rise),
                "rise_7d": rise,
                "last_change": {"at": iso_z(last["at"]), "old": last["old"], "new": last["new"], "source": last["source"]}
                if last
                else None,
                "reasons": [{"at": iso_z(r["at"]), "kind": r["kind"], "text": r["text"]} for r in reasons],
            }
        )
    return result


def _with_engagement(conn: Connection, rows: list[dict], *, workspace_id: int, user_id: int, now: datetime) -> list[dict]:
    """Merge in people without a lead score, ranked by LiveFeed's engagement score (marked so)."""
    since = now - timedelta(days=scoring.ENGAGEMENT_WINDOW_DAYS)
    query = (
        select(events.c.person_id, events.c.kind, events.c.cls, events.c.at)
        .join(people, people.c.id == events.c.person_id)
        .where(
            events.c.workspace_id == workspace_id,
            events.c.user_id == user_id,
            events.c.at >= since,
            events.c.cls.in_(sorted(ALERTING)),
            events.c.kind != SCORE,
            people.c.lead_score.is_(None),
            or_(people.c.owner_id == user_id, people.c.owner_id.is_(None)),
        )
    )
    hits: dict[int, list] = {}
    for person_id, kind, cls, at in conn.execute(query):
        hits.setdefault(person_id, []).append((kind, cls, at))
    scored = sorted(((scoring.engagement_score(h, now), pid) for pid, h in hits.items()), reverse=True)
    scored = [(score, pid) for score, pid in scored if score > 0][:LIMIT]
    if not scored:
        return rows
    found = {
        row["id"]: dict(row)
        for row in conn.execute(select(*PERSON_FIELDS).where(people.c.id.in_([pid for _, pid in scored]))).mappings()
    }
    extra = [{**found[pid], "lead_score": score, "score_source": "engagement"} for score, pid in scored if pid in found]
    merged = sorted(rows + extra, key=lambda r: r["lead_score"], reverse=True)
    return merged[:LIMIT]


def _change_reason(change: Mapping) -> dict:
    old, new = change["old"], change["new"]
    if new is None:
        text = f"Score cleared ({change['source']})"
    elif old is None:
        text = f"Scored {new} ({change['source']})"
    else:
        text = f"Score {'rose' if new > old else 'fell'} from {old} to {new} ({change['source']})"
    return {"at": change["at"], "kind": "score", "text": text}


def _hit_reason(hit: Mapping) -> dict:
    subject = f" “{hit['subject']}”" if hit["subject"] else ""
    return {"at": hit["at"], "kind": hit["kind"], "text": f"{VERBS.get(hit['kind'], hit['kind'])}{subject}"}
