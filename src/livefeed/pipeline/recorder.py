"""Record opens and clicks: classify, enrich, commit in groups, then publish.

Hits queue up while the previous batch commits; the single writer thread takes everything queued
in one transaction (group commit), the callers are answered only after that commit, and only then
are the events published to the hub. A fixed wait would only add latency, so there is none.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, select

from ..core import forwarding
from ..core.classify import Facts, ScannerWatch, classify
from ..core.model import CLICK, OPEN, SCANNER, ForwardState, Hit, Location, Verdict
from ..core.networks import NetworkTable
from ..db.engine import database_unavailable
from ..db.eventlog import EventLog
from ..db.queries import event_view, log_after, newest_id
from ..db.tables import events
from ..live.hub import Hub, Message, sse_frame
from .agents import AgentParser
from .geo import GeoLocator
from .networks import load as load_networks
from .spool import Spool, SpoolError

log = logging.getLogger(__name__)
LINK_CACHE = 100_000  # ≈ 20 MB at most: the links of the last emails, which are the ones clicked


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a hit became: the stored event id (None when nothing was recorded) and a click's URL."""

    event_id: int | None
    url: str | None = None
    person_id: int | None = None  # a click's: who clicked (the website identifies them on arrival)
    workspace_id: int | None = None
    spooled: bool = False  # kept on local disk while the database is away; recorded when it is back


@dataclass(frozen=True, slots=True)
class Revision:
    """A scanner burst found: these events' verdict changes to `verdict`."""

    user_id: int
    event_ids: tuple[int, ...]
    verdict: Verdict


class Recorder:
    """The one way in for tracking hits (record_open, record_click)."""

    def __init__(
        self,
        engine: Engine,
        *,
        hub: Hub,
        agents: AgentParser,
        geo: GeoLocator,
        scanners: ScannerWatch | None = None,
        spool: Spool | None = None,
        networks: NetworkTable | None = None,
    ):
        self._engine, self._hub, self._agents, self._geo = engine, hub, agents, geo
        self._spool = spool
        self._networks = networks or load_networks()  # known gateways and relays (data/networks.csv, var/networks.csv)
        # link id → (copy id, destination), immutable once written: lets a click redirect while the
        # database is away (bounded; the newest links are the ones being clicked)
        self._links: OrderedDict[int, tuple[int, str]] = OrderedDict()
        self._log = EventLog(engine.dialect.name)
        self._scanners = scanners or ScannerWatch()
        self._pending: list[tuple[Hit, asyncio.Future]] = []
        self._jobs: list[tuple[Callable, asyncio.Future]] = []
        self._last_id: int | None = None  # SQLite: the newest event id this process has published
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livefeed-writer")
        self._task: asyncio.Task | None = None
        self.batches = self.hits = 0
        self.refused = 0  # hits answered 503 since the database and the spool both failed

    async def start(self) -> None:
        if self._log.sqlite:
            self._last_id = await asyncio.get_running_loop().run_in_executor(self._executor, self._newest)
        self._task = asyncio.create_task(self._run(), name="livefeed-recorder")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            while self._pending or self._jobs:
                await asyncio.sleep(0)
                self._wake.set()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)
        if self._spool is not None:
            self._spool.close()
        if self.batches:
            log.info("recorder: %d hits in %d group commits (%.1f a commit)", self.hits, self.batches, self.hits / self.batches)

    async def record_open(self, hit: Hit) -> Outcome:
        return await self._submit(hit)

    async def record_click(self, hit: Hit) -> Outcome:
        return await self._submit(hit)

    async def write(self, job: Callable[[Connection], tuple[object, list[dict]]]):
        """Run `job(conn)` in the writer thread, in its own transaction, between hit batches.

        The job returns (result, event rows); the rows are appended to the event log in that
        transaction and published after its commit, in id order with the hits'. This is the way in
        for every other writer of feed events (a score rise from the API), so that in one process
        events reach the hub in the order of their ids."""
        result, _ = await self.write_events(job)
        return result

    def saw_head(self, hit: Hit) -> None:
        """A HEAD request for a link (answered, not recorded): remembered so the GET that follows is
        known for a checker's."""
        self._scanners.observe_head(link_id=hit.target_id, ip=hit.ip, agent=hit.user_agent, at=hit.at)

    async def write_events(self, job: Callable[[Connection], tuple[object, list[dict]]]) -> tuple[object, list[int]]:
        """As `write`, and also the ids the job's event rows got."""
        return await self._enqueue(self._jobs, job)

    async def catch_up(self) -> None:
        """Publish events other processes appended (SQLite: `livefeed import` beside the server)."""
        if self._log.sqlite:
            await self.write(lambda conn: (None, []))

    async def _submit(self, hit: Hit) -> Outcome:
        return await self._enqueue(self._pending, hit)

    async def _enqueue(self, queue: list, item):
        if self._task is None or self._task.done():
            raise RuntimeError("recorder is not running")
        future = asyncio.get_running_loop().create_future()
        queue.append((item, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._record(batch)
            jobs, self._jobs = self._jobs, []
            for job, future in jobs:
                await self._run_job(job, future)

    async def _run_job(self, job, future: asyncio.Future) -> None:
        try:
            result, messages = await asyncio.get_running_loop().run_in_executor(self._executor, self._execute, job)
        except Exception as exc:  # rolled back: the caller learns why
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
        await self._publish(messages)

    async def _publish(self, messages: list[Message]) -> None:
        if messages:
            # One turn of the loop first: the answers just resolved go out before the fan-out, which
            # writes to every stream of these reps in place (live/hub.py, Mailbox.sink).
            await asyncio.sleep(0)
            try:
                await self._hub.publish(messages)
            except Exception:  # the events are durable; streams catch up by id on reconnect
                log.exception("publishing %d messages failed", len(messages))

    async def _record(self, batch: list[tuple[Hit, asyncio.Future]]) -> None:
        try:
            outcomes, messages = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._write, [hit for hit, _ in batch]
            )
        except Exception as exc:  # not in the database: spooled when it is away, else every caller learns it
            if self._spool is not None and database_unavailable(exc):
                await self._spool_batch(batch, exc)
                return
            log.exception("writing %d hits failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.hits += len(batch)
        if self.refused:
            log.warning("the database takes hits again; %d were answered 503 meanwhile", self.refused)
            self.refused = 0
        for (_, future), outcome in zip(batch, outcomes):
            if not future.done():
                future.set_result(outcome)
        await self._publish(messages)

    async def _spool_batch(self, batch: list[tuple[Hit, asyncio.Future]], cause: Exception) -> None:
        """Keep the batch on local disk (fsync'd) and answer as stored; a click whose destination is
        not known here cannot be answered, so it is neither spooled nor acknowledged."""
        keep, refused = [], []
        for hit, future in batch:
            url = self._links.get(hit.target_id, (None, None))[1] if hit.kind == CLICK else None
            if hit.kind == OPEN or url is not None:
                keep.append((hit, future, url))
            else:
                refused.append((hit, future))
        assert self._spool is not None  # only called when there is one (_run)
        try:
            if keep:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._spool.append, [h for h, _, _ in keep])
        except SpoolError as exc:
            if not self.refused:  # once an outage, not once a batch: a full disk must not fill the log too
                log.error(
                    "neither the database (%s) nor the spool (%s) takes hits: answering 503 until one does",
                    cause.__class__.__name__,
                    exc,
                )
            self.refused += len(batch)
            refused = batch
            keep = []
        for _, future, url in keep:
            if not future.done():
                future.set_result(Outcome(None, url=url, spooled=True))
        for _, future in refused:
            if not future.done():
                future.set_exception(cause)

    async def replay_spool(self, chunk: int = 500) -> int:
        """Record the spooled hits now that the database answers; how many were replayed. Raises
        (and keeps the spool) while the database is still away."""
        if self._spool is None or not self._spool.pending():
            return 0
        loop = asyncio.get_running_loop()
        replayed = 0
        for path, hits in await loop.run_in_executor(self._executor, self._spool.take):
            for start in range(0, len(hits), chunk):
                _, messages = await loop.run_in_executor(self._executor, self._write, hits[start : start + chunk])
                await self._publish(messages)
            await loop.run_in_executor(self._executor, self._spool.done, path)
            replayed += len(hits)
        if replayed:
            log.warning("the database is back: %d spooled hits recorded", replayed)
        return replayed

    # --- the writer thread -------------------------------------------------------------------

    def _newest(self) -> int:
        with self._engine.connect() as conn:
            return newest_id(conn)

    def _execute(self, job) -> tuple[object, list[Message]]:
        log_ = self._log
        with self._engine.begin() as conn:
            if log_.sqlite:
                log_.lock(conn)
            result, rows = job(conn)
            if rows and not log_.sqlite:
                log_.lock(conn)
            ids = log_.append(conn, rows) if rows else []
            foreign, last = self._foreign(conn, ids)
            log_.notify(conn, self._hub.notices([Message(row["user_id"], event_id, b"") for row, event_id in zip(rows, ids)]))
        self._last_id = last
        return (result, ids), foreign + [self._frame({**row, "id": event_id}) for row, event_id in zip(rows, ids)]

    def _foreign(self, conn: Connection, ids: list[int]) -> tuple[list[Message], int | None]:
        """SQLite: the events another process appended since this one's last, for the local hub
        (ids are assigned under the database's write lock, so they fill the gap before `ids`)."""
        if self._last_id is None:
            return [], None
        upto = ids[0] - 1 if ids else newest_id(conn)
        users = [u for u in self._hub.users() if self._hub.wants(u)] if upto > self._last_id else []
        rows = log_after(conn, after=self._last_id, upto=upto, users=users) if users else []
        return [self._frame(row) for row in rows], max(ids[-1] if ids else upto, self._last_id)

    def _frame(self, row: Mapping) -> Message:
        if not self._hub.wants(row["user_id"]):
            return Message(row["user_id"], row["id"], b"")
        return Message(row["user_id"], row["id"], sse_frame(event="hit", data=event_view(row), event_id=row["id"]))

    def _write(self, hits: list[Hit]) -> tuple[list[Outcome], list[Message]]:
        log_ = self._log
        with self._engine.begin() as conn:
            if log_.sqlite:
                log_.lock(conn)  # BEGIN IMMEDIATE first: a read-then-write upgrade could fail with BUSY
            link_rows = log_.links(conn, (h.target_id for h in hits if h.kind == CLICK))
            self._remember_links(link_rows)
            copies = [h.target_id if h.kind == OPEN else (link_rows.get(h.target_id) or (None,))[0] for h in hits]
            contexts, rep_ips = log_.reads(conn, (c for c in copies if c is not None), (h.ip for h in hits if h.ip))
            rows: list[dict] = []
            placed: list[int] = []
            states: dict[int, ForwardState] = {}
            dirty: set[int] = set()
            for index, (hit, copy_id) in enumerate(zip(hits, copies)):
                context = contexts.get(copy_id) if copy_id is not None else None
                if copy_id is None or context is None or context["archived"] or context["do_not_track"]:
                    continue
                state = states.get(copy_id)
                if state is None:
                    state = states[copy_id] = ForwardState.from_json(context["forward_state"])
                row, changed = self._event_row(hit, context, state, rep_ips)
                rows.append(row)
                placed.append(index)
                if changed:
                    dirty.add(copy_id)
            if any(row["idempotency_key"] for row in rows):  # a replayed spool: what is in already stays once
                rows, placed = self._not_recorded(conn, rows, placed)
            with log_.pipelined(conn):  # PostgreSQL: lock and max(id) in one round trip, the rest in one more
                if not log_.sqlite:
                    log_.lock(conn)  # PostgreSQL: hold the id lock only for the insert and the commit
                ids = log_.append(conn, rows) if rows else []
                revisions = self._watch_scanners(conn, hits, placed, rows, ids)
                log_.save_forward_states(conn, {rid: states[rid].to_json() for rid in dirty})
                signals = [Message(row["user_id"], event_id, b"") for row, event_id in zip(rows, ids)]
                signals += [Message(r.user_id, None, b"", revised=r.event_ids) for r in revisions]
                # PostgreSQL delivers a NOTIFY only when the transaction commits: after the commit.
                log_.notify(conn, self._hub.notices(signals))
            foreign, last = self._foreign(conn, ids)
        self._last_id = last
        outcomes = self._outcomes(hits, copies, contexts, link_rows, placed, ids)
        return outcomes, foreign + self._messages(rows, ids, contexts, link_rows, states, revisions)

    def _event_row(self, hit: Hit, context: Mapping, state: ForwardState, rep_ips: set) -> tuple[dict, bool]:
        """The event row for one hit, and whether the copy's forward state changed."""
        agent = self._agents.describe(hit.user_agent)
        sent_at = context["sent_at"]
        network = self._networks.lookup(hit.ip)
        facts = Facts(
            kind=hit.kind,
            agent=agent,
            ip=hit.ip,
            since_send=max(hit.at - sent_at, timedelta(0)) if sent_at else None,
            rep_cookie=hit.rep_cookie == context["user_id"],
            rep_ip=(context["user_id"], hit.ip) in rep_ips,
            quarantined=self._scanners.is_quarantined(hit.ip, agent.raw, hit.at),  # opens too: the scanner fetches the pixel
            headed=hit.kind == CLICK and self._scanners.headed(link_id=hit.target_id, ip=hit.ip, agent=agent.raw, at=hit.at),
            network=(network.cls, network.label) if network else None,
            languages=hit.languages,
            recheck=hit.kind == CLICK and self._scanners.rechecking(copy_id=context["id"], at=hit.at),
        )
        verdict = classify(facts)
        if hit.kind == CLICK and verdict.cls == SCANNER:
            self._scanners.scanned(copy_id=context["id"], at=hit.at)
        location = Location(note=verdict.location_note) if verdict.location_note else self._geo.locate(hit.ip)
        # One body shared by several recipients (sent by Gmail): different places are different
        # recipients, not a forward.
        shared = (context.get("shared_with") or 1) > 1
        changed = False if shared else forwarding.observe(state, cls=verdict.cls, location=location, agent=agent, at=hit.at)
        return {
            "workspace_id": context["workspace_id"],
            "user_id": context["user_id"],
            "email_id": context["email_id"],
            "recipient_id": context["id"],
            "person_id": context["person_id"],
            "link_id": hit.target_id if hit.kind == CLICK else None,
            "kind": hit.kind,
            "cls": verdict.cls,
            "reason": verdict.reason[:300],
            "at": hit.at,
            "ip": hit.ip,
            "user_agent": agent.raw,
            "client": agent.client[:100] or None,
            "device": (agent.device or agent.os)[:100] or None,
            "city": location.city,
            "region": location.region,
            "country": location.country,
            "country_code": location.country_code,
            "radius_km": location.radius_km,
            "location_note": location.note,
            "forwarded": state.forwarded,
            "score_old": None,
            "score_new": None,
            "detail": None,
            "url": None,
            "idempotency_key": hit.key,
        }, changed

    def _remember_links(self, link_rows: Mapping[int, tuple[int, str]]) -> None:
        for link_id, found in link_rows.items():
            self._links[link_id] = found
            self._links.move_to_end(link_id)
        while len(self._links) > LINK_CACHE:
            self._links.popitem(last=False)

    @staticmethod
    def _not_recorded(conn: Connection, rows: list[dict], placed: list[int]) -> tuple[list[dict], list[int]]:
        """The rows whose idempotency key is not in the events yet (each spooled hit records once)."""
        keys = [row["idempotency_key"] for row in rows if row["idempotency_key"]]
        users = sorted({row["user_id"] for row in rows})
        found = set(
            conn.execute(
                select(events.c.idempotency_key).where(events.c.user_id.in_(users), events.c.idempotency_key.in_(keys))
            ).scalars()
        )
        kept = [(row, index) for row, index in zip(rows, placed) if row["idempotency_key"] not in found]
        return [row for row, _ in kept], [index for _, index in kept]

    def _watch_scanners(self, conn, hits, placed, rows, ids) -> list[Revision]:
        """Feed opens and clicks to the burst detector; revise the verdict of every click in a burst,
        and of the same client's pixel fetches of that copy in the burst's window."""
        revisions = []
        for index, row, event_id in zip(placed, rows, ids):
            if row["kind"] == OPEN:
                self._scanners.observe_open(
                    copy_id=row["recipient_id"], event_id=event_id, ip=row["ip"], agent=row["user_agent"], at=hits[index].at
                )
                continue
            if row["kind"] != CLICK:
                continue
            hit = hits[index]
            burst, opens = self._scanners.observe_click(
                copy_id=row["recipient_id"],
                link_id=row["link_id"],
                event_id=event_id,
                ip=row["ip"],
                agent=row["user_agent"],
                at=hit.at,
                person=hit.gesture or hit.returning,
                scanner=row["cls"] == SCANNER,
            )
            if burst:
                verdict = classify(
                    Facts(kind=CLICK, agent=self._agents.describe(row["user_agent"]), ip=row["ip"], since_send=None, burst=True)
                )
                revisions.append(Revision(row["user_id"], tuple(burst), verdict))
            if opens:
                revisions.append(
                    Revision(
                        row["user_id"],
                        tuple(opens),
                        Verdict(
                            SCANNER,
                            "Fetched by the link scanner that clicked every link of this email (same address and browser)",
                        ),
                    )
                )
        self._log.revise(conn, [(r.verdict.cls, r.verdict.reason, eid) for r in revisions for eid in r.event_ids])
        return revisions

    @staticmethod
    def _outcomes(hits, copies, contexts, link_rows, placed, ids) -> list[Outcome]:
        stored = dict(zip(placed, ids))
        outcomes = []
        for index, (hit, copy_id) in enumerate(zip(hits, copies)):
            context = contexts.get(copy_id)
            if hit.kind == CLICK and context is not None:
                outcomes.append(
                    Outcome(stored.get(index), link_rows[hit.target_id][1], context["person_id"], context["workspace_id"])
                )
            else:
                outcomes.append(Outcome(stored.get(index)))
        return outcomes

    def _messages(self, rows, ids, contexts, link_rows, states, revisions: list[Revision]) -> list[Message]:
        revised = {eid: r.verdict for r in revisions for eid in r.event_ids}
        messages = []
        for row, event_id in zip(rows, ids):
            if not self._hub.wants(row["user_id"]):
                # Nobody watches here (a stream opened later replays from the database), or the
                # hub reads the rows itself (PostgreSQL): send the signal without a frame.
                messages.append(Message(row["user_id"], event_id, b""))
                continue
            context = contexts[row["recipient_id"]]
            verdict = revised.get(event_id, Verdict(row["cls"], row["reason"]))
            view = event_view(
                {
                    **row,
                    "id": event_id,
                    "cls": verdict.cls,
                    "reason": verdict.reason,
                    "subject": context["subject"],
                    "shared_with": context.get("shared_with"),
                    "person_email": context["person_email"],
                    "person_name": context["person_name"],
                    "link_url": link_rows[row["link_id"]][1] if row["link_id"] else None,
                    "forward_state": states[row["recipient_id"]].to_json(),
                }
            )
            messages.append(Message(row["user_id"], event_id, sse_frame(event="hit", data=view, event_id=event_id)))
        # A burst's earlier clicks may have been streamed already as human: tell those streams.
        for r in revisions:
            data = {"ids": list(r.event_ids), "class": r.verdict.cls, "reason": r.verdict.reason}
            messages.append(Message(r.user_id, None, sse_frame(event="revise", data=data), revised=r.event_ids))
        return messages
