"""Reading connected reps' new mail through the Gmail API, for replies, auto-replies and bounces.

Gmail (Gmail API reference and guide "Synchronize clients with Gmail"):
- the first look takes the mailbox's current `historyId` (`GET /gmail/v1/users/me/profile`): mail
  from before the connection is not read;
- then `GET /gmail/v1/users/me/history?startHistoryId=…&historyTypes=messageAdded` (paged by
  `nextPageToken`) lists what arrived; each message is read with
  `GET /gmail/v1/users/me/messages/{id}?format=raw` and handed to `inbound.record_inbound`, the
  same reader and record path as IMAP and `livefeed smtpd` (once per copy: a message read twice
  records once);
- a `404` means the history is too old to follow: the newest messages are read again (nothing
  records twice) and the cursor starts over from the current `historyId`.

One process polls (the background services' lease), every connected rep at most every
`poll_seconds`, `concurrency` at a time. A grant that is gone marks the connection "reconnect
needed" and it is not polled again until the rep reconnects.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update

from ..actions.connections import mark_connection
from ..db.tables import mail_connections
from ..inbound import record_inbound
from ..mail.smtp import MailError
from .identity import GrantRevoked, IdentityError
from .mailapi import ProviderAccount, words_of

log = logging.getLogger(__name__)
RESYNC_MESSAGES = 25  # after a 404, the newest messages read again (recorded once each)


@dataclass
class PollTiming:
    poll_seconds: float = 10.0  # the "at most every 10 s per connected rep"
    concurrency: int = 20  # reps polled at once: Gmail's per-user quota is per user, this bounds our own load


class MailPoller:
    def __init__(self, rt, *, timing: PollTiming | None = None):
        self.rt, self.timing = rt, timing or PollTiming()
        self.rounds = 0

    async def run(self) -> None:
        while True:
            try:
                await self.poll_all()
            except Exception:  # the next round tries again
                log.exception("polling connected mailboxes failed")
            await asyncio.sleep(self.timing.poll_seconds)

    async def poll_all(self) -> int:
        """One round over every connected Google account; how many messages were read."""
        def read():
            with self.rt.engine.connect() as conn:
                return [dict(r) for r in conn.execute(select(mail_connections).where(
                    mail_connections.c.status == "connected", mail_connections.c.provider == "google")).mappings()]
        rows = await asyncio.to_thread(read)
        gate = asyncio.Semaphore(self.timing.concurrency)

        async def one(row) -> int:
            async with gate:
                return await self.poll(row)
        counts = await asyncio.gather(*(one(row) for row in rows))
        self.rounds += 1
        return sum(counts)

    async def poll(self, row: dict) -> int:
        """Read what arrived in one rep's Gmail since the cursor; how many messages were read."""
        try:
            account = self.rt.sender.provider_account(row)
            async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
                cursor, read = await self._gmail(account, http, row["cursor"])
        except GrantRevoked:
            return 0  # marked "reconnect needed" by the account
        except (IdentityError, MailError, httpx.HTTPError, PollError) as exc:
            await asyncio.to_thread(mark_connection, self.rt.engine, row["user_id"], status="connected",
                                    error=str(exc)[:500], now=self.rt.clock())
            return 0
        await asyncio.to_thread(self._save, row["user_id"], cursor)
        return read

    async def _gmail(self, account: ProviderAccount, http: httpx.AsyncClient, cursor: str | None) -> tuple[str, int]:
        if cursor is None:
            return await self._history_id(account, http), 0
        ids, page, newest = [], None, cursor
        while True:
            params = {"startHistoryId": cursor, "historyTypes": "messageAdded", **({"pageToken": page} if page else {})}
            response = await account.call(http, "GET", "/gmail/v1/users/me/history", params=params)
            if response.status_code == 404:  # too old to follow: read the newest again, start over
                return await self._resync(account, http)
            body = _json(response, "history")
            for record in body.get("history", []):
                ids += [added["message"]["id"] for added in record.get("messagesAdded", []) if "message" in added]
            newest = str(body.get("historyId", newest))
            page = body.get("nextPageToken")
            if not page:
                break
        for message_id in dict.fromkeys(ids):
            await self._record(account, http, message_id)
        return newest, len(ids)

    async def _resync(self, account: ProviderAccount, http: httpx.AsyncClient) -> tuple[str, int]:
        listed = _json(await account.call(http, "GET", "/gmail/v1/users/me/messages", params={"maxResults": RESYNC_MESSAGES}),
                       "messages")
        ids = [m["id"] for m in listed.get("messages", [])]
        for message_id in reversed(ids):
            await self._record(account, http, message_id)
        return await self._history_id(account, http), len(ids)

    async def _history_id(self, account: ProviderAccount, http: httpx.AsyncClient) -> str:
        return str(_json(await account.call(http, "GET", "/gmail/v1/users/me/profile"), "profile")["historyId"])

    async def _record(self, account: ProviderAccount, http: httpx.AsyncClient, message_id: str) -> None:
        response = await account.call(http, "GET", f"/gmail/v1/users/me/messages/{message_id}", params={"format": "raw"})
        if response.status_code == 404:
            return  # deleted since it was listed
        raw = base64.urlsafe_b64decode(_json(response, "message")["raw"] + "==")
        try:
            await record_inbound(self.rt, raw)
        except ValueError as exc:  # Unreadable: never readable, skipped
            log.warning("connected mailbox of user %s: message skipped: %s", account.user_id, exc)

    def _save(self, user_id: int, cursor: str) -> None:
        with self.rt.engine.begin() as conn:
            conn.execute(update(mail_connections).where(mail_connections.c.user_id == user_id)
                         .values(cursor=cursor, error=None, checked_at=self.rt.clock()))


class PollError(Exception):
    """The provider answered something other than what its reference documents."""


def _json(response: httpx.Response, what: str) -> dict:
    if response.status_code != 200:
        raise PollError(f"Gmail {what}: {response.status_code} {words_of(response)}")
    try:
        return response.json()
    except ValueError:
        raise PollError(f"Gmail {what}: the answer is not JSON") from None
