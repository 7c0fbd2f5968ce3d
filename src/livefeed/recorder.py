"""Record opens and clicks: classify, enrich, commit in groups, then publish.

Hits queue up while the previous batch commits; the single writer thread takes everything queued
in one transaction (group commit), the callers are answered only after that commit, and only then
are the events published to the hub. A fixed wait would only add latency, so there is none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, insert, select, update

from .agents import AgentParser
from .core import forwarding
from .core.classify import Facts, ScannerWatch, classify
from .core.model import CLICK, MACHINE, OPEN, PROXY, ForwardState, Hit, Location, Verdict
from .db.queries import event_view
from .db.tables import emails, events, links, people, recipients, user_ips
from .geo import GeoLocator
from .live.hub import Hub, Message, sse_frame

log = logging.getLogger(__name__)

HIDDEN_BY = {"Gmail": "Location hidden by Gmail", "Yahoo": "Location hidden by Yahoo", "Apple": "Location hidden by Apple"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a hit became: the stored event id (None when nothing was recorded) and a click's URL."""

    event_id: int | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """A scanner burst found: these events' verdict changes to `verdict`."""

    user_id: int
    event_ids: tuple[int, ...]
    verdict: Verdict

_CONTEXT = (
    select(
        recipients.c.id, recipients.c.email_id, recipients.c.person_id, recipients.c.forward_state,
        emails.c.workspace_id, emails.c.user_id, emails.c.subject, emails.c.sent_at, emails.c.archived,
        people.c.email.label("person_email"), people.c.name.label("person_name"),
    )
    .join(emails, emails.c.id == recipients.c.email_id)
    .join(people, people.c.id == recipients.c.person_id)
    .where(recipients.c.id.in_(bindparam("ids", expanding=True)))
)
_LINKS = select(links.c.id, links.c.recipient_id, links.c.url).where(links.c.id.in_(bindparam("ids", expanding=True)))
_REP_IPS = select(user_ips.c.user_id, user_ips.c.ip).where(user_ips.c.ip.in_(bindparam("ips", expanding=True)))
_INSERT = insert(events).returning(events.c.id, sort_by_parameter_order=True)
_SAVE_FORWARD = update(recipients).where(recipients.c.id == bindparam("rid")).values(forward_state=bindparam("state"))


def hidden_location(verdict: Verdict) -> Location | None:
    """Proxies and Apple's prefetch hide the reader: say so instead of the proxy's city."""
    if verdict.cls not in (PROXY, MACHINE):
        return None
    for who, note in HIDDEN_BY.items():
        if who in verdict.reason:
            return Location(note=note)
    return Location(note="Location hidden (fetched by a machine)") if verdict.cls == MACHINE else None


class Recorder:
    """The one way in for tracking hits (record_open, record_click)."""

    def __init__(self, engine: Engine, *, hub: Hub, agents: AgentParser, geo: GeoLocator, scanners: ScannerWatch | None = None):
        self._engine, self._hub, self._agents, self._geo = engine, hub, agents, geo
        self._scanners = scanners or ScannerWatch()
        self._pending: list[tuple[Hit, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livefeed-writer")
        self._task: asyncio.Task | None = None
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="livefeed-recorder")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            while self._pending:
                await asyncio.sleep(0)
                self._wake.set()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def record_open(self, hit: Hit) -> Outcome:
        return await self._submit(hit)

    async def record_click(self, hit: Hit) -> Outcome:
        return await self._submit(hit)

    async def _submit(self, hit: Hit) -> Outcome:
        if self._task is None or self._task.done():
            raise RuntimeError("recorder is not running")
        future = asyncio.get_running_loop().create_future()
        self._pending.append((hit, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                outcomes, messages = await loop.run_in_executor(self._executor, self._write, [hit for hit, _ in batch])
            except Exception as exc:  # the batch is not durable: every caller learns it
                log.exception("writing %d hits failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            for (_, future), outcome in zip(batch, outcomes):
                if not future.done():
                    future.set_result(outcome)
            if messages:
                try:
                    await self._hub.publish(messages)
                except Exception:  # the events are durable; streams catch up by id on reconnect
                    log.exception("publishing %d messages failed", len(messages))

    # --- the writer thread -------------------------------------------------------------------

    def _write(self, hits: list[Hit]) -> tuple[list[Outcome], list[Message]]:
        with self._engine.begin() as conn:
            link_rows = self._fetch(conn, _LINKS, "ids", {h.target_id for h in hits if h.kind == CLICK})
            copy_of = {h: (h.target_id if h.kind == OPEN else (link_rows.get(h.target_id) or {}).get("recipient_id")) for h in hits}
            contexts = self._fetch(conn, _CONTEXT, "ids", {c for c in copy_of.values() if c is not None})
            rep_ips = {(r.user_id, r.ip) for r in conn.execute(_REP_IPS, {"ips": sorted({h.ip for h in hits if h.ip})})}
            rows, placed, states = [], [], {}
            for index, hit in enumerate(hits):
                context = contexts.get(copy_of[hit])
                if context is None or context["archived"]:
                    continue
                state = states.setdefault(context["id"], ForwardState.from_json(context["forward_state"]))
                rows.append(self._event_row(hit, context, state, link_rows, rep_ips))
                placed.append(index)
            if not rows:
                return self._outcomes(hits, copy_of, contexts, link_rows, [], []), []
            ids = [row.id for row in conn.execute(_INSERT, rows)]
            revised = self._watch_scanners(conn, hits, placed, rows, ids)
            changed = [{"rid": rid, "state": state.to_json()} for rid, state in states.items()
                       if state != ForwardState.from_json(contexts[rid]["forward_state"])]
            if changed:
                conn.execute(_SAVE_FORWARD, changed)
        return self._outcomes(hits, copy_of, contexts, link_rows, placed, ids), self._messages(rows, ids, contexts, link_rows, states, revised)

    @staticmethod
    def _fetch(conn, query, name: str, keys: set) -> dict[int, Mapping]:
        if not keys:
            return {}
        return {row["id"]: row for row in conn.execute(query, {name: sorted(keys)}).mappings()}

    def _event_row(self, hit: Hit, context: Mapping, state: ForwardState, link_rows: Mapping, rep_ips: set) -> dict:
        agent = self._agents.describe(hit.user_agent)
        sent_at = context["sent_at"]
        facts = Facts(
            kind=hit.kind, agent=agent, ip=hit.ip,
            since_send=(hit.at - sent_at) if sent_at else None,
            rep_cookie=hit.rep_cookie == context["user_id"],
            rep_ip=(context["user_id"], hit.ip) in rep_ips,
            quarantined=hit.kind == CLICK and self._scanners.is_quarantined(hit.ip, agent.raw, hit.at),
        )
        verdict = classify(facts)
        location = hidden_location(verdict) or self._geo.locate(hit.ip)
        forwarding.observe(state, cls=verdict.cls, location=location, agent=agent, at=hit.at)
        return {
            "workspace_id": context["workspace_id"], "user_id": context["user_id"], "email_id": context["email_id"],
            "recipient_id": context["id"], "person_id": context["person_id"],
            "link_id": hit.target_id if hit.kind == CLICK else None,
            "kind": hit.kind, "cls": verdict.cls, "reason": verdict.reason[:300], "at": hit.at, "ip": hit.ip,
            "user_agent": agent.raw, "client": agent.client[:100] or None, "device": (agent.device or agent.os)[:100] or None,
            "city": location.city, "region": location.region, "country": location.country,
            "country_code": location.country_code, "radius_km": location.radius_km, "location_note": location.note,
            "forwarded": state.forwarded,
        }

    def _watch_scanners(self, conn, hits, placed, rows, ids) -> list[Revision]:
        """Feed clicks to the burst detector; revise the verdict of every click in a burst."""
        revisions = []
        for index, row, event_id in zip(placed, rows, ids):
            if row["kind"] != CLICK:
                continue
            burst = self._scanners.observe_click(copy_id=row["recipient_id"], link_id=row["link_id"], event_id=event_id,
                                                 ip=row["ip"], agent=row["user_agent"], at=hits[index].at)
            if burst:
                verdict = classify(Facts(kind=CLICK, agent=self._agents.describe(row["user_agent"]), ip=row["ip"], since_send=None, burst=True))
                revisions.append(Revision(row["user_id"], tuple(burst), verdict))
        if revisions:
            conn.execute(
                update(events).where(events.c.id == bindparam("eid")).values(cls=bindparam("c"), reason=bindparam("r")),
                [{"eid": eid, "c": r.verdict.cls, "r": r.verdict.reason} for r in revisions for eid in r.event_ids],
            )
        return revisions

    @staticmethod
    def _outcomes(hits, copy_of, contexts, link_rows, placed, ids) -> list[Outcome]:
        stored = dict(zip(placed, ids))
        outcomes = []
        for index, hit in enumerate(hits):
            url = link_rows[hit.target_id]["url"] if hit.kind == CLICK and copy_of[hit] in contexts else None
            outcomes.append(Outcome(stored.get(index), url))
        return outcomes

    @staticmethod
    def _messages(rows, ids, contexts, link_rows, states, revisions: list[Revision]) -> list[Message]:
        revised = {eid: r.verdict for r in revisions for eid in r.event_ids}
        messages = []
        for row, event_id in zip(rows, ids):
            context = contexts[row["recipient_id"]]
            verdict = revised.get(event_id, Verdict(row["cls"], row["reason"]))
            view = event_view({
                **row, "id": event_id, "cls": verdict.cls, "reason": verdict.reason, "subject": context["subject"],
                "person_email": context["person_email"], "person_name": context["person_name"],
                "link_url": (link_rows.get(row["link_id"]) or {}).get("url"),
                "forward_state": states[row["recipient_id"]].to_json(),
            })
            messages.append(Message(row["user_id"], event_id, sse_frame(event="hit", data=view, event_id=event_id)))
        # A burst's earlier clicks may have been streamed already as human: tell those streams.
        for r in revisions:
            data = {"ids": list(r.event_ids), "class": r.verdict.cls, "reason": r.verdict.reason}
            messages.append(Message(r.user_id, None, sse_frame(event="revise", data=data)))
        return messages
