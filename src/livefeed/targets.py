"""The Target list: the 50 people a rep owns, highest lead score first, with stars, flames and reasons.

The list itself is one indexed query (ix_people_owner_score); the workspace-wide cut points that
turn scores into stars and rises into flames need a scan of the workspace, so they are computed in
the background and cached for TIERS_TTL seconds (a request never waits for a stale cache; only the
very first request of a workspace computes them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, case, func, or_, select

from .core import scoring
from .core.model import iso_z, ALERTING, SCORE
from .core.contacts import tel_url
from .db.tables import emails, events, people, score_changes, workspaces

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
        return {"method": self.method, "stars": points(self.stars), "flames": points(self.flames),
                "engagement_ranking": self.engagement_ranking}


def workspace_tiers(conn: Connection, workspace_id: int, now: datetime) -> Tiers:
    ws = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).mappings().one()
    if ws["tier_method"] == "fixed":
        stars = scoring.fixed_cuts(scoring.parse_thresholds(ws["star_thresholds"], "star_thresholds")
                                   if ws["star_thresholds"] else scoring.DEFAULT_STAR_THRESHOLDS)
        flames = scoring.fixed_cuts(scoring.parse_thresholds(ws["flame_thresholds"], "flame_thresholds")
                                    if ws["flame_thresholds"] else scoring.DEFAULT_FLAME_THRESHOLDS)
    else:
        scores = conn.execute(select(people.c.lead_score, func.count()).where(
            people.c.workspace_id == workspace_id, people.c.lead_score > 0).group_by(people.c.lead_score)).all()
        rise = func.sum(score_changes.c.new - score_changes.c.old)
        rises = conn.execute(select(rise).where(
            score_changes.c.workspace_id == workspace_id, score_changes.c.at >= now - timedelta(days=scoring.FLAME_DAYS),
            score_changes.c.old.is_not(None), score_changes.c.new.is_not(None)).group_by(score_changes.c.person_id)).all()
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


# --- the list ----------------------------------------------------------------------------------

PERSON_FIELDS = (people.c.id, people.c.email, people.c.name, people.c.title, people.c.company, people.c.phone,
                 people.c.linkedin_url, people.c.lead_score, people.c.score_source, people.c.last_increase_at)


def ranked_query(*, workspace_id: int, user_id: int, limit: int = LIMIT):
    """The rep's people whose score has risen, highest first (served by ix_people_owner_score)."""
    return (select(*PERSON_FIELDS)
            .where(people.c.owner_id == user_id, people.c.last_increase_at.is_not(None), people.c.workspace_id == workspace_id)
            .order_by(people.c.lead_score.desc(), people.c.last_increase_at.desc())
            .limit(limit))


def target_list(conn: Connection, *, workspace_id: int, user_id: int, tiers: Tiers, now: datetime) -> list[dict]:
    rows = [dict(row) for row in conn.execute(ranked_query(workspace_id=workspace_id, user_id=user_id)).mappings()]
    if tiers.engagement_ranking:
        rows = _with_engagement(conn, rows, workspace_id=workspace_id, user_id=user_id, now=now)
    ids = [row["id"] for row in rows]
    changes = _score_changes(conn, ids, now)
    hits = _recent_hits(conn, ids, workspace_id=workspace_id, user_id=user_id)
    result = []
    for rank, row in enumerate(rows, 1):
        mine = changes.get(row["id"], [])
        rise = mine[0]["rise"] if mine else 0
        engagement = row["score_source"] == "engagement"
        reasons = sorted([_change_reason(c) for c in mine] + [_hit_reason(h) for h in hits.get(row["id"], [])],
                         key=lambda r: r["at"], reverse=True)[:REASONS]
        result.append({
            "rank": rank, "id": row["id"], "email": row["email"], "name": row["name"], "title": row["title"],
            "company": row["company"], "phone": row["phone"], "tel_url": tel_url(row["phone"]),
            "linkedin_url": row["linkedin_url"], "score": row["lead_score"], "score_source": row["score_source"],
            "stars": (ENGAGEMENT_STAR_CUTS if engagement else tiers.stars).tier(row["lead_score"]),
            "flames": 0 if engagement else tiers.flames.tier(rise),
            "rise_7d": rise,
            "last_change": {k: mine[0][k] for k in ("at", "old", "new", "source")} | {"at": iso_z(mine[0]["at"])} if mine else None,
            "reasons": [{"at": iso_z(r["at"]), "kind": r["kind"], "text": r["text"]} for r in reasons],
        })
    return result


def _score_changes(conn: Connection, ids: list[int], now: datetime) -> dict[int, list[dict]]:
    """Each person's newest REASONS score changes, each row carrying the person's 7-day rise."""
    if not ids:
        return {}
    since = now - timedelta(days=scoring.FLAME_DAYS)
    c = score_changes.c
    counted = and_(c.at >= since, c.old.is_not(None), c.new.is_not(None))
    inner = select(
        c.person_id, c.at, c.old, c.new, c.source,
        func.row_number().over(partition_by=c.person_id, order_by=(c.at.desc(), c.id.desc())).label("n"),
        func.sum(case((counted, c.new - c.old), else_=0)).over(partition_by=c.person_id).label("rise"),
    ).where(c.person_id.in_(ids)).subquery()
    found: dict[int, list[dict]] = {}
    for row in conn.execute(select(inner).where(inner.c.n <= REASONS).order_by(inner.c.person_id, inner.c.n)).mappings():
        found.setdefault(row["person_id"], []).append({**row, "rise": max(int(row["rise"] or 0), 0)})
    return found


def _recent_hits(conn: Connection, ids: list[int], *, workspace_id: int, user_id: int) -> dict[int, list[dict]]:
    """Each person's newest REASONS alerting hits on this rep's emails."""
    if not ids:
        return {}
    e = events.c
    inner = (select(e.person_id, e.kind, e.at, emails.c.subject,
                    func.row_number().over(partition_by=e.person_id, order_by=e.id.desc()).label("n"))
             .select_from(events).outerjoin(emails, emails.c.id == e.email_id)
             .where(e.person_id.in_(ids), e.workspace_id == workspace_id, e.user_id == user_id,
                    e.kind != SCORE, e.cls.in_(sorted(ALERTING)))
             .subquery())
    found: dict[int, list[dict]] = {}
    for row in conn.execute(select(inner).where(inner.c.n <= REASONS)).mappings():
        found.setdefault(row["person_id"], []).append(dict(row))
    return found


def _with_engagement(conn: Connection, rows: list[dict], *, workspace_id: int, user_id: int, now: datetime) -> list[dict]:
    """Merge in people without a lead score, ranked by LiveFeed's engagement score (marked so)."""
    since = now - timedelta(days=scoring.ENGAGEMENT_WINDOW_DAYS)
    query = (select(events.c.person_id, events.c.kind, events.c.cls, events.c.at)
             .join(people, people.c.id == events.c.person_id)
             .where(events.c.workspace_id == workspace_id, events.c.user_id == user_id, events.c.at >= since,
                    events.c.cls.in_(sorted(ALERTING)), events.c.kind != SCORE, people.c.lead_score.is_(None),
                    or_(people.c.owner_id == user_id, people.c.owner_id.is_(None))))
    hits: dict[int, list] = {}
    for person_id, kind, cls, at in conn.execute(query):
        hits.setdefault(person_id, []).append((kind, cls, at))
    scored = sorted(((scoring.engagement_score(h, now), pid) for pid, h in hits.items()), reverse=True)
    scored = [(score, pid) for score, pid in scored if score > 0][:LIMIT]
    if not scored:
        return rows
    found = {row["id"]: dict(row) for row in conn.execute(select(*PERSON_FIELDS).where(
        people.c.id.in_([pid for _, pid in scored]))).mappings()}
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
