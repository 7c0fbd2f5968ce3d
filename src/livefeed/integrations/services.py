"""Background work that runs in one process only: the mailbox watchers and the scheduled syncs.

With several workers on PostgreSQL, the worker holding a session advisory lock (on a connection
of its own) runs them; the others try again every `lease_retry_seconds` and take over when the
holder dies (PostgreSQL drops the lock with its connection). One process on SQLite always holds it.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..edge.mailwatch import MailWatch, Timing

if TYPE_CHECKING:  # imported where they run (they import the recorder and the vendors' clients)
    from ..edge.mailpoll import MailPoller, PollTiming
    from .connectors import Pace

log = logging.getLogger(__name__)
LEASE_KEY = zlib.crc32(b"livefeed background services")


@dataclass
class ServiceTiming:
    lease_retry_seconds: float = 10.0
    reconcile_seconds: float = 30.0  # re-read mailboxes and connectors changed by other workers
    mail: Timing | None = None
    pace: Pace | None = None  # for the scheduled connector passes
    poll: PollTiming | None = None  # connected Gmail and Microsoft accounts read for replies


class Lease:
    def __init__(self, engine):
        self.engine = engine
        self._conn = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is None:
            self._conn = self.engine.connect()
        held = self._conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LEASE_KEY})").scalar()
        self._conn.commit()
        return bool(held)

    def release(self) -> None:
        """Give the lease up. The lock is a session lock: closing the connection would only return
        it to the pool, still holding the lock (and a later checkout would hold it unknowingly), so
        it is unlocked and the connection really closed."""
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LEASE_KEY})")
                self._conn.commit()
            except Exception:  # noqa: BLE001 - the connection is gone already: so is the lock
                pass
            self._conn.invalidate()  # closes the driver connection instead of pooling it
            self._conn.close()
            self._conn = None


class Services:
    def __init__(self, rt, *, timing: ServiceTiming | None = None):
        self.rt = rt
        self.timing = timing or ServiceTiming()
        self.lease = Lease(rt.engine)
        self.mail = MailWatch(rt, timing=self.timing.mail)
        self.held = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._poller_task: asyncio.Task | None = None
        self.poller: MailPoller | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="livefeed-services")

    async def _run(self) -> None:
        while not await asyncio.to_thread(self.lease.try_acquire):
            await asyncio.sleep(self.timing.lease_retry_seconds)
        self.held.set()
        from .connectors import Scheduler

        scheduler = Scheduler(self.rt, pace=self.timing.pace)
        from ..edge.mailpoll import MailPoller

        poller = self.poller = MailPoller(self.rt, timing=self.timing.poll)
        self._poller_task = asyncio.create_task(poller.run(), name="livefeed-mailpoll")
        while True:
            try:
                await self.mail.reconcile()
                await scheduler.tick()
                await self.rt.sender.send_due()  # retries, and copies a crashed process left queued
            except Exception:  # the next round tries again
                log.exception("background services round failed")
            await asyncio.sleep(self.timing.reconcile_seconds)

    async def changed_mailbox(self, user_id: int) -> None:
        """A rep connected, changed or removed a mailbox in this process."""
        if self.held.is_set():
            await self.mail.refresh(user_id)

    async def refresh_person(self, workspace_id: int, person_id: int) -> None:
        """Fill a person's fields from Marketo when the workspace is connected (best effort:
        the person is added either way)."""
        from .connectors import refresh_person

        try:
            await refresh_person(self.rt, workspace_id, person_id)
        except Exception as exc:  # noqa: BLE001 - Marketo down or refusing never fails the add
            log.warning("fields of person %s not refreshed from Marketo: %s", person_id, exc)

    async def stop(self) -> None:
        for task in (self._task, self._poller_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.mail.stop()
        await asyncio.to_thread(self.lease.release)
