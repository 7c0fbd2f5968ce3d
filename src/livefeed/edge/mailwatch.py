"""Watch the reps' connected mailboxes for replies and bounces (IMAP IDLE, else polling).

One watcher per mailbox reads the messages that arrived after the last one it read (by UID, kept
in `mailboxes.last_uid`, so a restart resumes and a UIDVALIDITY change starts over from the
newest), and hands each to `inbound.record_inbound` — the same path as the inbound SMTP server.
It then waits in IDLE (re-issued every `idle_seconds`, under the 29 minutes RFC 2177 allows) or,
on a server without IDLE, polls every `poll_seconds`. A failure is shown on the mailbox
(`status: error`, the reason) and retried with backoff. Passwords are sealed (vault.py) and are
never logged: errors carry the server's answer, not the credentials.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import aioimaplib
from sqlalchemy import Engine, select, update

from ..actions.replies import MAX_MESSAGE_BYTES, record_inbound
from ..core import mailauth
from ..core.outbound import IMAP_PORTS
from ..core.replies import Unreadable
from ..db.tables import mailboxes, users
from ..db.vault import MAILBOX_PASSWORD, Vault, VaultError, vault_for
from ..integrations.outbound import Outbound, OutboundError

log = logging.getLogger(__name__)
SECURITY = ("tls", "plain")
FETCH_BATCH = 50
_UID = re.compile(rb"UID (\d+)")
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def mailbox_vault(secret_key: bytes) -> Vault:
    return vault_for(secret_key, MAILBOX_PASSWORD)


class MailboxError(Exception):
    """The server refused or failed: the message is shown to the rep (never the password);
    `field` is the setting it points at (host, password, folder)."""

    def __init__(self, message: str, field: str = "host"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MailboxConfig:
    user_id: int
    host: str
    port: int
    security: str
    username: str
    password: str
    folder: str


@dataclass
class Timing:
    """The watcher's intervals, injected (tests shorten them; nothing sleeps on a fixed clock)."""

    idle_seconds: float = 25 * 60
    poll_seconds: float = 60.0
    retry_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    timeout_seconds: float = 30.0
    prefer_idle: bool = True  # off: poll even a server that offers IDLE (for a server whose IDLE misbehaves)


class _SocketImap(aioimaplib.IMAP4):
    """aioimaplib over a socket already connected to a vetted address; `host` names the server for TLS."""

    def __init__(self, sock: socket.socket, host: str, ssl_context: ssl.SSLContext | None, timeout: float):
        self._sock = sock
        super().__init__(host=host, port=0, timeout=timeout, ssl_context=ssl_context)

    def create_client(self, host, port, loop, conn_lost_cb=None, ssl_context=None) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = aioimaplib.IMAP4ClientProtocol(local_loop, conn_lost_cb)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(
                lambda: self.protocol, sock=self._sock, ssl=ssl_context, server_hostname=host if ssl_context else None
            )
        )


class ImapSession:
    """One logged-in IMAP connection with the folder selected, reached through the outbound policy."""

    def __init__(self, config: MailboxConfig, timeout: float, outbound: Outbound):
        self.config, self.timeout, self.outbound = config, timeout, outbound
        self.client: aioimaplib.IMAP4 | None = None
        self.uid_validity: int | None = None

    async def open(self) -> None:
        """Connect, sign in and select; MailboxError in our words (never the server's text) naming the setting."""
        c = self.config
        try:
            sock, deadline = await self.outbound.connect(c.host, c.port, ports=IMAP_PORTS, plain=c.security != "tls")
        except OutboundError as exc:
            raise MailboxError(str(exc), exc.field) from None
        context = ssl.create_default_context() if c.security == "tls" else None
        self.client = _SocketImap(sock, c.host, context, self.timeout)
        try:
            try:
                await asyncio.wait_for(self.client.wait_hello_from_server(), max(0.05, deadline - self.outbound.now()))
            except BaseException:  # given up: close it, through its transport when one took the socket over
                transport = getattr(self.client.protocol, "transport", None)
                if transport is not None:
                    transport.close()
                else:
                    sock.close()
                raise
        except ssl.SSLCertVerificationError:
            raise MailboxError(f"the TLS certificate of {c.host} could not be verified", "security") from None
        except ssl.SSLError:
            raise MailboxError(f"cannot secure the connection to {c.host}:{c.port} (TLS failed)", "security") from None
        except (TimeoutError, OSError, aioimaplib.AioImapException):
            await self.outbound.until(deadline)
            raise MailboxError(f"{c.host}:{c.port} did not answer as an IMAP server") from None
        answer = await self.client.login(c.username, c.password)
        if answer.result != "OK":
            said = " ".join(line.decode(errors="replace") if isinstance(line, bytes) else str(line) for line in answer.lines)
            raise MailboxError(mailauth.refusal(said, protocol="IMAP"), "password")
        answer = await self.client.select(c.folder)
        if answer.result != "OK":
            raise MailboxError(
                f"the server did not open the folder {c.folder!r} (is it spelled as in your mail client?)", "folder"
            )
        found = next((m for m in map(_UIDVALIDITY.search, answer.lines) if m), None)
        self.uid_validity = int(found.group(1)) if found else None

    @property
    def can_idle(self) -> bool:
        return self.client is not None and self.client.has_capability("IDLE")

    @property
    def _imap(self) -> aioimaplib.IMAP4:
        """The open connection (every caller runs after `open`)."""
        assert self.client is not None, "the session is not open"
        return self.client

    async def newest_uid(self) -> int:
        answer = await self._imap.uid_search("ALL")
        uids = [int(u) for line in answer.lines[:1] for u in line.split() if u.isdigit()]
        return max(uids, default=0)

    async def uids_after(self, last_uid: int) -> list[int]:
        answer = await self._imap.uid_search(f"UID {last_uid + 1}:*")
        if answer.result != "OK":
            raise MailboxError(f"search failed: {_text(answer.lines)}")
        # "n:*" always matches the newest message, even when its UID is not above n.
        return sorted(int(u) for line in answer.lines[:1] for u in line.split() if u.isdigit() and int(u) > last_uid)

    async def fetch(self, uid: int) -> bytes | None:
        """One message's raw bytes (BODY.PEEK: the rep's unread mail stays unread)."""
        answer = await self._imap.uid("fetch", str(uid), "(RFC822.SIZE BODY.PEEK[])")
        if answer.result != "OK":
            raise MailboxError(f"fetch failed: {_text(answer.lines)}")
        size = next(
            (int(m.group(1)) for m in map(_SIZE.search, (line for line in answer.lines if isinstance(line, bytes))) if m), 0
        )
        if size > MAX_MESSAGE_BYTES:
            return None
        return next((bytes(part) for part in answer.lines if isinstance(part, bytearray)), None)

    async def wait(self, timing: Timing, stop: asyncio.Event) -> None:
        """Until the server says something changed (IDLE), the IDLE period ends, or `stop`."""
        idle = await self._imap.idle_start(timeout=timing.idle_seconds)
        pushed = asyncio.ensure_future(self._imap.wait_server_push(timeout=timing.idle_seconds + 5))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({pushed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pushed, stopped):
                task.cancel()
            self._imap.idle_done()
            try:
                await asyncio.wait_for(idle, self.timeout)
            except TimeoutError:
                raise MailboxError("the server did not end IDLE") from None

    async def close(self) -> None:
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.logout(), 5)
            except Exception:  # the connection may already be gone
                pass


class MailboxWatcher:
    """Watches one rep's mailbox until stopped."""

    def __init__(
        self,
        engine: Engine,
        record: Callable[[bytes], Awaitable[object]],
        config: MailboxConfig,
        *,
        clock: Callable[[], datetime],
        timing: Timing,
        outbound: Outbound,
    ):
        self.engine, self.record, self.config, self.clock, self.timing = engine, record, config, clock, timing
        self.outbound = outbound
        self.stop_event = asyncio.Event()
        self.passes = 0  # read passes done (tests wait on it)
        self.passed = asyncio.Event()

    async def run(self) -> None:
        delay = self.timing.retry_seconds
        while not self.stop_event.is_set():
            session = ImapSession(self.config, self.timing.timeout_seconds, self.outbound)
            try:
                await session.open()
                await self._save(status="idle" if self._idles(session) else "polling", error=None)
                delay = self.timing.retry_seconds
                await self._watch(session)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, MailboxError, aioimaplib.AioImapException, OSError) as exc:
                message = str(exc) or exc.__class__.__name__
                log.warning("mailbox of user %s: %s", self.config.user_id, message)
                await self._save(status="error", error=message[:500])
                await self._sleep(delay)
                delay = min(delay * 2, self.timing.retry_max_seconds)
            finally:
                await session.close()

    async def _watch(self, session: ImapSession) -> None:
        last_uid = await self._place(session)
        while not self.stop_event.is_set():
            for uid in await session.uids_after(last_uid):
                raw = await session.fetch(uid)
                if raw is not None:
                    try:
                        await self.record(raw)  # an error here is retried: the place is not moved past it
                    except Unreadable as exc:  # ...except a message that can never be read: skipped
                        log.warning("mailbox of user %s: message %s skipped: %s", self.config.user_id, uid, exc)
                last_uid = uid
                await self._save(last_uid=uid)
            await self._save(checked_at=self.clock())
            self.passes += 1
            self.passed.set()
            if self._idles(session):
                await session.wait(self.timing, self.stop_event)
            else:
                await self._sleep(self.timing.poll_seconds)

    def _idles(self, session: ImapSession) -> bool:
        return self.timing.prefer_idle and session.can_idle

    async def _place(self, session: ImapSession) -> int:
        """Where to resume: after the last message read; from now on for a new or renumbered folder."""

        def read():
            with self.engine.connect() as conn:
                return conn.execute(
                    select(mailboxes.c.uid_validity, mailboxes.c.last_uid).where(mailboxes.c.user_id == self.config.user_id)
                ).first()

        stored = await asyncio.to_thread(read)
        if stored is not None and stored.last_uid is not None and stored.uid_validity == session.uid_validity:
            return stored.last_uid
        newest = await session.newest_uid()
        await self._save(uid_validity=session.uid_validity, last_uid=newest)
        return newest

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop_event.wait(), seconds)
        except TimeoutError:
            pass

    async def _save(self, **values) -> None:
        def write():
            with self.engine.begin() as conn:
                conn.execute(update(mailboxes).where(mailboxes.c.user_id == self.config.user_id).values(**values))

        await asyncio.to_thread(write)


class MailWatch:
    """Every connected mailbox's watcher, in the process that holds the background lease."""

    def __init__(self, rt, *, timing: Timing | None = None):
        self.rt, self.timing = rt, timing or Timing()
        self.vault = mailbox_vault(rt.settings.secret_key)
        # user id → (watcher, its task, the row's updated_at); (None, None, …) for a mailbox in error
        self.watchers: dict[int, tuple[MailboxWatcher | None, asyncio.Task | None, datetime]] = {}

    async def reconcile(self) -> None:
        """Match the watchers to the mailboxes table: start new ones, restart changed ones (the
        rep edited the settings, maybe in another worker), stop removed ones."""

        def read():  # a disabled user's mailbox is not watched
            query = select(mailboxes).join(users, users.c.id == mailboxes.c.user_id).where(users.c.disabled_at.is_(None))
            with self.rt.engine.connect() as conn:
                return {row["user_id"]: row for row in conn.execute(query).mappings()}

        rows = await asyncio.to_thread(read)
        for user_id in [u for u in self.watchers if u not in rows or rows[u]["updated_at"] != self.watchers[u][2]]:
            await self._stop(user_id)
        for user_id, row in rows.items():
            if user_id not in self.watchers:
                await self._start(row)

    async def refresh(self, user_id: int) -> None:
        await self._stop(user_id)
        await self.reconcile()

    def watcher(self, user_id: int) -> MailboxWatcher | None:
        found = self.watchers.get(user_id)
        return found[0] if found else None

    async def _start(self, row) -> None:
        try:
            password = self.vault.open(row["secret"])
        except VaultError as exc:
            message = str(exc)

            def mark():
                with self.rt.engine.begin() as conn:
                    conn.execute(
                        update(mailboxes).where(mailboxes.c.user_id == row["user_id"]).values(status="error", error=message)
                    )

            await asyncio.to_thread(mark)
            self.watchers[row["user_id"]] = (None, None, row["updated_at"])
            return
        config = MailboxConfig(
            row["user_id"], row["host"], row["port"], row["security"], row["username"], password, row["folder"]
        )
        watcher = MailboxWatcher(
            self.rt.engine,
            lambda raw: record_inbound(self.rt, raw),
            config,
            clock=self.rt.clock,
            timing=self.timing,
            outbound=self.rt.outbound,
        )
        task = asyncio.create_task(watcher.run(), name=f"livefeed-mailbox-{row['user_id']}")
        self.watchers[row["user_id"]] = (watcher, task, row["updated_at"])

    async def _stop(self, user_id: int) -> None:
        watcher, task, _ = self.watchers.pop(user_id, (None, None, None))
        if watcher is not None and task is not None:
            watcher.stop_event.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        for user_id in list(self.watchers):
            await self._stop(user_id)


def _text(lines) -> str:
    return " ".join(line.decode(errors="replace") if isinstance(line, (bytes, bytearray)) else str(line) for line in lines)[:300]
