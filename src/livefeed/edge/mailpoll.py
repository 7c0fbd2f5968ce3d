"""Reading connected reps' new mail through the Gmail API or Microsoft Graph, for replies,
auto-replies and bounces.

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

Microsoft Graph ("message: delta", and "Get MIME content of a message"):
- the first look follows `GET /v1.0/me/mailFolders/inbox/messages/delta?$select=id` to its
  `@odata.deltaLink` without reading anything (older mail);
- then the delta link lists what changed (`@odata.nextLink` pages, a new delta link at the end);
  each new message's MIME (`GET /v1.0/me/messages/{id}/$value`) goes the same way as Gmail's;
- a `410` (the sync state is gone) starts a new delta and reads the messages received since the
  last check again (recorded once each).
A delta link is followed only when it points at the configured Graph URL: the rep's token is
never sent anywhere else. With an https public URL, each Microsoft connection also has a change
notification subscription ("Create subscription": `POST /v1.0/subscriptions` on the Inbox's
messages, `created`, a `clientState` secret, renewed with `PATCH` half a day before it lapses);
a notification to `/hooks/graph` reads that rep's delta at once (web/graph_hook.py), so a reply
arrives in about a second instead of at the next poll.

One process polls (the background services' lease), every connected rep at most every
`poll_seconds`, `concurrency` at a time. A grant that is gone marks the connection "reconnect
needed" and it is not polled again until the rep reconnects.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from ..actions.connections import mark_connection
from ..actions.replies import record_inbound
from ..core.secrets import secret_hash
from ..db.tables import mail_connections
from ..integrations.identity import GrantRevoked, IdentityError
from ..integrations.mailapi import ProviderAccount, words_of
from ..integrations.smtp import MailError

log = logging.getLogger(__name__)
RESYNC_MESSAGES = 25  # after a 404, the newest messages read again (recorded once each)
# Graph allows Outlook message subscriptions up to 4,230 minutes ("subscription resource type"):
# ask for 70 hours and renew when less than 12 are left.
SUBSCRIPTION_LIFETIME = timedelta(hours=70)
SUBSCRIPTION_RENEW_BEFORE = timedelta(hours=12)


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
                return [
                    dict(r)
                    for r in conn.execute(select(mail_connections).where(mail_connections.c.status == "connected")).mappings()
                ]

        rows = await asyncio.to_thread(read)
        gate = asyncio.Semaphore(self.timing.concurrency)
        # one client for the round: building one (its TLS context) costs more than a request
        limits = httpx.Limits(max_connections=self.timing.concurrency * 2, max_keepalive_connections=self.timing.concurrency)
        async with httpx.AsyncClient(timeout=30, trust_env=False, limits=limits) as http:

            async def one(row) -> int:
                async with gate:
                    return await self.poll(row, http)

            counts = await asyncio.gather(*(one(row) for row in rows))
        self.rounds += 1
        return sum(counts)

    async def poll(self, row: dict, http: httpx.AsyncClient) -> int:
        """Read what arrived in one rep's mailbox since the cursor; how many messages were read."""
        try:
            account = self.rt.sender.provider_account(row)
            if row["provider"] == "google":
                cursor, read = await self._gmail(account, http, row["cursor"])
            else:
                cursor, read = await self._graph(account, http, row["cursor"], since=row["checked_at"])
        except GrantRevoked:
            return 0  # marked "reconnect needed" by the account
        except (IdentityError, MailError, httpx.HTTPError, PollError) as exc:
            await asyncio.to_thread(
                mark_connection, self.rt.engine, row["user_id"], status="connected", error=str(exc)[:500], now=self.rt.clock()
            )
            return 0
        await asyncio.to_thread(self._save, row["user_id"], cursor)
        if row["provider"] == "microsoft" and self.rt.settings.notify_graph:
            try:
                await self._subscribe(account, http, row)
            except (IdentityError, MailError, httpx.HTTPError, PollError) as exc:  # polling goes on without it
                log.warning("Graph notifications for user %s not set up: %s", row["user_id"], exc)
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
        listed = _json(
            await account.call(http, "GET", "/gmail/v1/users/me/messages", params={"maxResults": RESYNC_MESSAGES}), "messages"
        )
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

    async def _graph(self, account: ProviderAccount, http: httpx.AsyncClient, cursor: str | None, *, since) -> tuple[str, int]:
        if cursor is None or not cursor.startswith(account.api_url + "/"):  # first look, or a link that is not Graph's
            return (await self._delta(account, http, "/v1.0/me/mailFolders/inbox/messages/delta?$select=id", record=False))[0], 0
        try:
            return await self._delta(account, http, cursor, record=True)
        except _Gone:
            start = "/v1.0/me/mailFolders/inbox/messages/delta?$select=id,receivedDateTime"
            return await self._delta(
                account, http, start, record=True, received_since=since or self.rt.clock() - timedelta(days=1)
            )

    async def _delta(
        self, account: ProviderAccount, http: httpx.AsyncClient, url: str, *, record: bool, received_since=None
    ) -> tuple[str, int]:
        read = 0
        while True:
            response = await account.call(http, "GET", url)
            if response.status_code == 410:
                raise _Gone()
            body = _json(response, "delta", provider="Graph")
            for message in body.get("value", []):
                if "@removed" in message or not record:
                    continue
                if received_since is not None and message.get("receivedDateTime", "") < received_since.strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ):
                    continue
                read += await self._record_graph(account, http, message["id"])
            if "@odata.deltaLink" in body:
                return body["@odata.deltaLink"], read
            url = body.get("@odata.nextLink") or ""
            if not url.startswith(account.api_url + "/"):
                raise PollError("Graph delta: a page without a next or delta link on Graph")

    async def _record_graph(self, account: ProviderAccount, http: httpx.AsyncClient, message_id: str) -> int:
        response = await account.call(http, "GET", f"/v1.0/me/messages/{message_id}/$value")
        if response.status_code == 404:
            return 0
        if response.status_code != 200:
            raise PollError(f"Graph message: {response.status_code} {words_of(response)}")
        try:
            await record_inbound(self.rt, response.content)
        except ValueError as exc:
            log.warning("connected mailbox of user %s: message skipped: %s", account.user_id, exc)
        return 1

    async def poll_user(self, user_id: int) -> int:
        """Read one rep's new mail now (a change notification arrived)."""

        def read():
            with self.rt.engine.connect() as conn:
                return (
                    conn.execute(
                        select(mail_connections).where(
                            mail_connections.c.user_id == user_id, mail_connections.c.status == "connected"
                        )
                    )
                    .mappings()
                    .first()
                )

        row = await asyncio.to_thread(read)
        if row is None:
            return 0
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            return await self.poll(dict(row), http)

    async def _subscribe(self, account: ProviderAccount, http: httpx.AsyncClient, row: dict) -> None:
        """Keep a change notification subscription on the rep's Inbox (created, or renewed before it lapses)."""
        now = self.rt.clock()
        lapses = row["subscription_expires_at"]
        if row["subscription_id"] and lapses is not None and lapses - now > SUBSCRIPTION_RENEW_BEFORE:
            return
        expires = now + SUBSCRIPTION_LIFETIME
        stamp = expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        if row["subscription_id"] and lapses is not None and lapses > now:
            response = await account.call(
                http, "PATCH", f"/v1.0/subscriptions/{row['subscription_id']}", json={"expirationDateTime": stamp}
            )
            if response.status_code == 200:
                await asyncio.to_thread(self._save_subscription, row["user_id"], row["subscription_id"], None, expires)
                return
        secret = secrets.token_urlsafe(32)
        response = await account.call(
            http,
            "POST",
            "/v1.0/subscriptions",
            json={
                "changeType": "created",
                "notificationUrl": f"{self.rt.settings.public_url}/hooks/graph",
                "resource": "me/mailFolders('Inbox')/messages",
                "expirationDateTime": stamp,
                "clientState": secret,
            },
        )
        if response.status_code != 201:
            raise PollError(f"Graph subscription: {response.status_code} {words_of(response)}")
        await asyncio.to_thread(self._save_subscription, row["user_id"], response.json()["id"], secret, expires)

    def _save_subscription(self, user_id: int, subscription_id: str, secret: str | None, expires) -> None:
        values = {"subscription_id": subscription_id, "subscription_expires_at": expires}
        if secret is not None:
            values["subscription_secret_hash"] = secret_hash(secret)
        with self.rt.engine.begin() as conn:
            conn.execute(update(mail_connections).where(mail_connections.c.user_id == user_id).values(**values))

    def _save(self, user_id: int, cursor: str) -> None:
        with self.rt.engine.begin() as conn:
            conn.execute(
                update(mail_connections)
                .where(mail_connections.c.user_id == user_id)
                .values(cursor=cursor, error=None, checked_at=self.rt.clock())
            )


class PollError(Exception):
    """The provider answered something other than what its reference documents."""


class _Gone(Exception):
    """Graph's 410: the delta's sync state is no longer kept."""


def _json(response: httpx.Response, what: str, provider: str = "Gmail") -> dict:
    if response.status_code != 200:
        raise PollError(f"{provider} {what}: {response.status_code} {words_of(response)}")
    try:
        return response.json()
    except ValueError:
        raise PollError(f"{provider} {what}: the answer is not JSON") from None
