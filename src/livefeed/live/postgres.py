"""PgNotifyHub: fan-out across worker processes and nodes with PostgreSQL LISTEN/NOTIFY.

With its commit the writer NOTIFYs `rep:max_event_id` pairs (payloads are capped at 8 KB, so no
event data travels). Every worker LISTENs and, on a notification, reads the tail of the event log
after the last id it has dispatched — one query for all its streams, however many reps — and
queues each row on the streams of its rep; each stream skips ids it already sent. Because event
ids are assigned under one advisory lock held to the commit (db/eventlog.py), so they commit in id order, the tail read
from the database never has a hole, however late or out of order notifications from other
workers arrive: no gap, no duplicate. A stream that becomes ready behind the tail is caught up
on its own from its position.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
from sqlalchemy import Engine

from ..db import queries
from ..db.engine import sqlalchemy_url
from .hub import CHANGED, MemoryHub, Message, Subscription, sse_frame

log = logging.getLogger(__name__)

CHANNEL = "livefeed_events"
MAX_PAYLOAD = 7900  # NOTIFY payloads must stay under 8000 bytes
CATCH_UP_PAGE = 500
RECONNECT_SECONDS = 1.0
SWEEP_SECONDS = 30.0  # a lost notification costs at most this much delay, never an event


def encode(messages: list[Message]) -> list[str]:
    """Payloads "e 12:1051 34:1052" (rep:newest id) and "r 12:7,8,9" (revised ids), under 8 KB."""
    newest: dict[int, int] = {}
    payloads: list[str] = []
    for message in messages:
        if message.event_id is not None:
            newest[message.user_id] = max(newest.get(message.user_id, 0), message.event_id)
        elif message.revised:
            payloads.append(f"r {message.user_id}:{','.join(map(str, message.revised))}"[:MAX_PAYLOAD])
    parts, current = [], "e"
    for user_id, event_id in newest.items():
        item = f" {user_id}:{event_id}"
        if len(current) + len(item) > MAX_PAYLOAD:
            parts.append(current)
            current = "e"
        current += item
    if current != "e":
        parts.append(current)
    return parts + payloads


def commit_notices(events: list[tuple[int, int]], *, targets_of=()) -> list[tuple[str, str]]:
    """The notifications a writer outside the servers (the CLI's import) sends with its commit:
    the new events, (rep, event id) pairs, and the reps whose Target lists changed. Every worker's
    hub reads the events after its position and reloads those lists."""
    notices = [(CHANNEL, payload) for payload in encode([Message(user_id, event_id, b"") for user_id, event_id in events])]
    if targets_of:
        notices.append((CHANNEL, changed_payload("targets", targets_of)))
    return notices


def changed_payload(what: str, user_ids) -> str:
    """Payload "c<n> 12: 34:" (n: the index of `what` in CHANGED), cut to whole items under 8 KB."""
    payload = f"c{CHANGED.index(what)}"
    for user_id in sorted(user_ids):
        item = f" {user_id}:"
        if len(payload) + len(item) > MAX_PAYLOAD:
            break
        payload += item
    return payload


def decode(payload: str) -> tuple[str, dict[int, list[int]]]:
    kind, _, rest = payload.partition(" ")
    result: dict[int, list[int]] = {}
    for item in rest.split():
        user, _, ids = item.partition(":")
        if user.isdigit():
            result[int(user)] = [int(i) for i in ids.split(",") if i.isdigit()]
    return kind, result


class SingleFlight:
    """At most one run per key at a time; a key asked for again while running runs once more after.

    Catch-up reads are idempotent (they read from a position), so collapsing repeated requests
    into one more run loses nothing and keeps one reader per rep, and one for the tail."""

    def __init__(self) -> None:
        self._running: dict[object, asyncio.Task] = {}
        self._again: set[object] = set()

    def run(self, key, job: Callable[[], Awaitable[None]]) -> None:
        if key in self._running:
            self._again.add(key)
            return
        self._running[key] = asyncio.create_task(self._loop(key, job))

    async def _loop(self, key, job) -> None:
        try:
            while True:
                self._again.discard(key)
                await job()
                if key not in self._again:
                    return
        except Exception:  # the sweep or the next notification retries
            log.exception("fan-out read %r failed", key)
        finally:
            self._running.pop(key, None)

    async def cancel(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class PgNotifyHub(MemoryHub):
    """Local streams as in MemoryHub; publishing and receiving go through PostgreSQL."""

    def __init__(self, engine: Engine, *, database_url: str, queue_size: int = 256):
        super().__init__(queue_size=queue_size)
        self._engine = engine
        self._dsn = sqlalchemy_url(database_url).replace("postgresql+psycopg://", "postgresql://")
        self._tasks: list[asyncio.Task] = []
        self._flights = SingleFlight()
        self._tail = 0  # the newest event id dispatched from the log tail
        # Each rep's newest event id announced or read here: a stream that replayed less than its
        # own rep's newest catches up (comparing with the tail, every rep's, sent all 1,000 streams
        # of a restart's reconnect to the database at once, and the tail reads queued behind them).
        self._rep_newest: dict[int, int] = {}
        # The tail is read on its own thread, never behind replays and catch-ups on the shared one.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livefeed-tail")
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._tail = await asyncio.to_thread(self._newest)
        self._tasks = [
            asyncio.create_task(self._listen(), name="livefeed-listen"),
            asyncio.create_task(self._sweep(), name="livefeed-sweep"),
        ]
        await asyncio.wait_for(self.listening.wait(), 30)

    def _newest(self) -> int:
        with self._engine.connect() as conn:
            return queries.newest_id(conn)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flights.cancel()
        self._reader.shutdown(wait=False)

    def wants(self, user_id: int) -> bool:
        return False  # frames are built by the receiving worker from the database

    def ready(self, subscription: Subscription) -> None:
        if (subscription.sent or 0) < self._rep_newest.get(subscription.user_id, 0):
            self._catch_up(subscription.user_id)  # its rep has newer events than it replayed

    def notices(self, messages: list[Message]) -> list[tuple[str, str]]:
        """NOTIFY payloads for the writer's transaction: PostgreSQL sends them on commit."""
        return [(CHANNEL, payload) for payload in encode(messages)]

    async def publish(self, messages: list[Message]) -> None:
        """The notifications went out with the commit (see `notices`); this process's own
        watchers hear of its events at once, before the tail read brings them back."""
        self.touched({m.user_id for m in messages if m.event_id is not None or m.revised})

    async def signal(self, user_ids: set[int], what: str) -> None:
        """Tell every worker (see `changed_payload`)."""
        if user_ids:
            await asyncio.to_thread(self._notify, changed_payload(what, user_ids))

    def _notify(self, payload: str) -> None:
        with self._engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._advance()  # whatever was committed while not listening
                    async for notification in conn.notifies():
                        self._received(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_SECONDS)

    def _received(self, payload: str) -> None:
        kind, users = decode(payload)
        if kind == "e":
            for user_id, ids in users.items():
                if ids:
                    self._rep_newest[user_id] = max(self._rep_newest.get(user_id, 0), *ids)
            # Always read the tail, even when none of these reps watches here: jumping the tail
            # to a notified id could step over an earlier event whose notice is still on its way.
            self._advance()
        elif kind.startswith("c") and kind[1:].isdigit() and int(kind[1:]) < len(CHANGED):
            self.deliver_changed(users, CHANGED[int(kind[1:])])
        elif kind == "r":
            self.touched(set(users))
            for user_id, ids in users.items():
                if self.subscriptions(user_id):
                    self._flights.run(("revise", user_id, tuple(ids)), functools.partial(self._revise, user_id, ids))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self._advance()

    def _advance(self) -> None:
        """Dispatch the log's tail to every local stream (one reader at a time)."""
        self._flights.run("tail", self._read_and_dispatch_tail)

    def _catch_up(self, user_id: int) -> None:
        """Read and queue one rep's events after its streams' oldest position."""
        self._flights.run(user_id, lambda: self._catch_up_rep(user_id))

    async def _read_and_dispatch_tail(self) -> None:
        while True:
            rows = await asyncio.get_running_loop().run_in_executor(self._reader, self._read_tail, self._tail)
            self.touched({row["user_id"] for row in rows})
            for row in rows:
                self._rep_newest[row["user_id"]] = max(self._rep_newest.get(row["user_id"], 0), row["id"])
                self._dispatch(row, self.subscriptions(row["user_id"]))
                self._tail = row["id"]
            if len(rows) < CATCH_UP_PAGE:
                return

    async def _catch_up_rep(self, user_id: int) -> None:
        while True:
            ready = [s for s in self.subscriptions(user_id) if s.sent is not None]
            if not ready:
                return
            after = min(s.position for s in ready)
            rows = await asyncio.to_thread(self._read_rep, ready[0].workspace_id, user_id, after)
            for row in rows:
                self._dispatch(row, ready)
            if len(rows) < CATCH_UP_PAGE:
                return

    def _dispatch(self, row, subscriptions) -> None:
        """Queue one event on those of `subscriptions` that are ready and have not had it."""
        ready = [s for s in subscriptions if s.sent is not None and row["id"] > s.position and not s.ended]
        if not ready:
            return
        message = Message(row["user_id"], row["id"], sse_frame(event="hit", data=queries.event_view(row), event_id=row["id"]))
        for subscription in ready:
            self.deliver(subscription, message)
            subscription.queued = row["id"]

    def _read_tail(self, after: int) -> list:
        with self._engine.connect() as conn:
            return queries.log_after(conn, after=after, limit=CATCH_UP_PAGE)

    def _read_rep(self, workspace_id: int, user_id: int, after: int) -> list:
        with self._engine.connect() as conn:
            return queries.feed_after(conn, workspace_id=workspace_id, user_id=user_id, after=after, limit=CATCH_UP_PAGE)

    async def _revise(self, user_id: int, ids: list[int]) -> None:
        subscriptions = self.subscriptions(user_id)
        if not subscriptions:
            return
        rows = await asyncio.to_thread(self._verdicts, subscriptions[0].workspace_id, user_id, ids)
        for (cls, reason), event_ids in rows.items():
            message = Message(user_id, None, sse_frame(event="revise", data={"ids": event_ids, "class": cls, "reason": reason}))
            for subscription in self.subscriptions(user_id):
                self.deliver(subscription, message)

    def _verdicts(self, workspace_id: int, user_id: int, ids: list[int]) -> dict:
        with self._engine.connect() as conn:
            return queries.verdicts(conn, workspace_id=workspace_id, user_id=user_id, ids=ids)
