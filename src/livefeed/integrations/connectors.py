"""Marketo and Salesforce connectors: thin httpx clients, one sync pass each, and the schedule.

Marketo: a client-credentials token from /identity/oauth/token (renewed before it expires and on
errors 601/602), activities since the stored paging token for Visit Webpage, Fill Out Form, Open
Email, Click Email, Change Score and Interesting Moment, leads looked up by id for their fields
and score. Calls are kept under Marketo's 100 per 20 s; error 606 (rate) and 615 (concurrency)
back off and retry, 607 (daily quota) ends the pass (the cursor is kept, the next pass resumes).

Salesforce: an access token from a refresh token (renewed on 401), SOQL over
/services/data/vNN.N/query with nextRecordsUrl paging, Leads and Contacts modified since the last
pass; OwnerId maps to a rep by `salesforce_user_id`. The cursor (Marketo's paging token, the
newest SystemModstamp per object) is saved after each page is committed: a restart resumes, and
the per-activity keys make a page read twice record nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from ..actions import people as people_actions
from ..actions.marketing import record_activities
from ..core.contacts import person_record
from ..core.marketo import ACTIVITY_TYPES, LEAD_FIELDS, lead_record, read_activity
from ..core.model import Invalid, iso_z
from ..db.tables import connectors, people, users
from ..db.vault import CONNECTOR_CREDENTIALS, Vault, vault_for

log = logging.getLogger(__name__)
KINDS = ("marketo", "salesforce")
SALESFORCE_API = "v60.0"
FIRST_SYNC_DAYS = 7  # how far back the first pass reads


def connector_vault(secret_key: bytes) -> Vault:
    return vault_for(secret_key, CONNECTOR_CREDENTIALS)


class SyncError(Exception):
    """A pass failed: the message is shown on the connector (never a secret)."""


@dataclass
class Progress:
    pages: int = 0
    read: int = 0  # activities or records read
    recorded: int = 0  # feed rows added
    people: int = 0  # people created or updated
    duplicates: int = 0
    unassigned: int = 0
    calls: int = 0
    done: bool = False
    stopped: str | None = None  # why the pass ended early (quota)

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Pace:
    """Injected waiting: tests pass a fake `sleep`; nothing waits on the wall clock in them."""

    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic
    backoff_seconds: float = 20.0
    retries: int = 5


class RateLimit:
    """At most `calls` calls in any `window` seconds (Marketo: 100 per 20 s)."""

    def __init__(self, pace: Pace, calls: int = 100, window: float = 20.0):
        self.pace, self.calls, self.window = pace, calls, window
        self._times: deque[float] = deque()

    async def take(self) -> None:
        while True:
            now = self.pace.monotonic()
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if len(self._times) < self.calls:
                self._times.append(now)
                return
            await self.pace.sleep(self.window - (now - self._times[0]))


# --- Marketo -------------------------------------------------------------------------------------


class MarketoClient:
    def __init__(self, base_url: str, client_id: str, client_secret: str, *, http: httpx.AsyncClient, pace: Pace):
        self.base, self.client_id, self._secret = base_url.rstrip("/"), client_id, client_secret
        self.http, self.pace = http, pace
        self.limit = RateLimit(pace)
        self._token: str | None = None
        self._expires = 0.0
        self.calls = 0

    def __repr__(self) -> str:
        return f"MarketoClient({self.base!r})"

    async def token(self, *, renew: bool = False) -> str:
        if self._token is None or renew or self.pace.monotonic() >= self._expires:
            await self.limit.take()
            self.calls += 1
            response = await self.http.post(
                f"{self.base}/identity/oauth/token",
                data={"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret},
            )
            data = _json(response, "Marketo token")
            if response.status_code != 200 or "access_token" not in data:
                raise SyncError(
                    f"Marketo refused the client id or secret ({data.get('error_description') or data.get('error') or response.status_code})"
                )
            self._token = data["access_token"]
            self._expires = self.pace.monotonic() + max(int(data.get("expires_in", 3600)) - 60, 0)
        return self._token

    async def get(self, path: str, params: dict) -> dict:
        """A REST call with Marketo's error handling; the decoded body when `success`."""
        renewed = False
        for attempt in range(self.pace.retries + 1):
            token = await self.token()
            await self.limit.take()
            self.calls += 1
            response = await self.http.get(f"{self.base}{path}", params=params, headers={"authorization": f"Bearer {token}"})
            if response.status_code == 401 and not renewed:
                await self.token(renew=True)
                renewed = True
                continue
            if response.status_code >= 500:
                await self.pace.sleep(self.pace.backoff_seconds)
                continue
            data = _json(response, path)
            if data.get("success"):
                return data
            codes = {str(e.get("code")) for e in data.get("errors") or () if isinstance(e, dict)}
            message = "; ".join(f"{e.get('code')} {e.get('message')}" for e in data.get("errors") or () if isinstance(e, dict))
            if codes & {"601", "602"} and not renewed:  # the token is invalid or expired: renew once
                await self.token(renew=True)
                renewed = True
                continue
            if codes & {"606", "615"}:  # rate or concurrency limit: wait and retry
                await self.pace.sleep(self.pace.backoff_seconds * (attempt + 1))
                continue
            if "607" in codes:
                raise QuotaReached(message)
            raise SyncError(f"Marketo {path}: {message or 'success false'}")
        raise SyncError(f"Marketo {path}: still failing after {self.pace.retries} retries")

    async def paging_token(self, since: datetime) -> str:
        data = await self.get("/rest/v1/activities/pagingtoken.json", {"sinceDatetime": iso_z(since)})
        token = data.get("nextPageToken")
        if not isinstance(token, str):
            raise SyncError("Marketo pagingtoken.json: no nextPageToken")
        return token

    async def activities(self, page_token: str) -> dict:
        return await self.get(
            "/rest/v1/activities.json", {"nextPageToken": page_token, "activityTypeIds": ",".join(map(str, ACTIVITY_TYPES))}
        )

    async def leads(self, ids: list[str]) -> list[dict]:
        found = []
        for start in range(0, len(ids), 300):
            data = await self.get(
                "/rest/v1/leads.json",
                {"filterType": "id", "filterValues": ",".join(ids[start : start + 300]), "fields": ",".join(LEAD_FIELDS)},
            )
            found += [lead for lead in data.get("result") or () if isinstance(lead, dict)]
        return found

    async def lead_by_email(self, email: str) -> dict | None:
        data = await self.get(
            "/rest/v1/leads.json", {"filterType": "email", "filterValues": email, "fields": ",".join(LEAD_FIELDS)}
        )
        return next((lead for lead in data.get("result") or () if isinstance(lead, dict)), None)


class QuotaReached(SyncError):
    """Marketo's daily API quota is used up (607): resume tomorrow from the saved cursor."""


async def sync_marketo(
    rt,
    workspace_id: int,
    client: MarketoClient,
    cursor: str | None,
    save_cursor: Callable[[str], Awaitable[None]],
    progress: Callable[[Progress], None] = lambda p: None,
) -> Progress:
    done = Progress()
    token = cursor or await client.paging_token(rt.clock() - timedelta(days=FIRST_SYNC_DAYS))
    try:
        while True:
            page = await client.activities(token)
            done.pages += 1
            activities = [a for a in page.get("result") or () if isinstance(a, dict)]
            engagements = []
            for activity in activities:
                try:
                    engagement = read_activity(activity)
                except Invalid as exc:  # one malformed activity does not stop the pass
                    log.warning("Marketo activity %s skipped: %s", activity.get("id"), exc)
                    continue
                if engagement is not None:
                    engagements.append(engagement)
            done.read += len(activities)
            if engagements:
                leads = {
                    str(lead.get("id")): lead
                    for lead in await client.leads(sorted({e.marketo_id for e in engagements if e.marketo_id}))
                }
                ready = []
                for engagement in engagements:
                    lead = leads.get(engagement.marketo_id or "")
                    if lead is None or not lead.get("email"):
                        continue  # a deleted lead, or one without an address: nobody to show
                    try:
                        record = lead_record(lead)
                    except Invalid:
                        continue
                    engagement.email = record.pop("email")
                    engagement.person = {**record, **engagement.person}  # the activity's new score wins
                    engagement.workspace_id = workspace_id
                    ready.append(engagement)
                results = await record_activities(rt, ready) if ready else []
                done.recorded += sum(1 for r in results if r.event_id is not None)
                done.duplicates += sum(1 for r in results if r.duplicate)
                done.unassigned += sum(1 for r in results if r.unassigned)
                done.people += len({e.email for e in ready})
            token = page.get("nextPageToken") or token
            await save_cursor(token)
            done.calls = client.calls
            progress(done)
            if not page.get("moreResult"):
                break
    except QuotaReached as exc:
        done.stopped = f"daily quota reached ({exc}); the next pass resumes here"
    return _finished(done, client, progress)


# --- Salesforce ----------------------------------------------------------------------------------

SOQL = {
    "Lead": "SELECT Id, Email, OwnerId, FirstName, LastName, Company, Title, Phone, SystemModstamp FROM Lead "
    "WHERE Email != null{since} ORDER BY SystemModstamp",
    "Contact": "SELECT Id, Email, OwnerId, FirstName, LastName, Account.Name, Title, Phone, SystemModstamp FROM Contact "
    "WHERE Email != null{since} ORDER BY SystemModstamp",
}


class SalesforceClient:
    def __init__(
        self, login_url: str, client_id: str, client_secret: str, refresh_token: str, *, http: httpx.AsyncClient, pace: Pace
    ):
        self.login, self.client_id, self._secret, self._refresh = login_url.rstrip("/"), client_id, client_secret, refresh_token
        self.http, self.pace = http, pace
        self._token: str | None = None
        self.instance: str | None = None
        self.calls = 0

    def __repr__(self) -> str:
        return f"SalesforceClient({self.login!r})"

    async def token(self, *, renew: bool = False) -> str:
        if self._token is None or renew:
            self.calls += 1
            response = await self.http.post(
                f"{self.login}/services/oauth2/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": self.client_id,
                    "client_secret": self._secret,
                    "refresh_token": self._refresh,
                },
            )
            data = _json(response, "Salesforce token")
            if response.status_code != 200 or "access_token" not in data or "instance_url" not in data:
                raise SyncError(
                    f"Salesforce refused the refresh token ({data.get('error_description') or data.get('error') or response.status_code})"
                )
            self._token, self.instance = data["access_token"], data["instance_url"].rstrip("/")
        return self._token

    async def get(self, path: str, params: dict | None = None) -> dict:
        renewed = False
        for attempt in range(self.pace.retries + 1):
            token = await self.token()
            self.calls += 1
            response = await self.http.get(f"{self.instance}{path}", params=params, headers={"authorization": f"Bearer {token}"})
            if response.status_code == 401 and not renewed:  # INVALID_SESSION_ID: the token expired
                await self.token(renew=True)
                renewed = True
                continue
            if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
                raise QuotaReached("Salesforce REQUEST_LIMIT_EXCEEDED")
            if response.status_code in (429, 503) or response.status_code >= 500:
                await self.pace.sleep(self.pace.backoff_seconds * (attempt + 1))
                continue
            data = _json(response, path, list_ok=response.status_code != 200)
            if response.status_code != 200:
                errors = data if isinstance(data, list) else [data]
                raise SyncError(
                    f"Salesforce {path}: "
                    + "; ".join(f"{e.get('errorCode')} {e.get('message')}" for e in errors if isinstance(e, dict))
                )
            return data
        raise SyncError(f"Salesforce {path}: still failing after {self.pace.retries} retries")

    async def query(self, soql: str):
        """Every page of a SOQL query (follows nextRecordsUrl)."""
        await self.token()
        data = await self.get(f"/services/data/{SALESFORCE_API}/query", {"q": soql})
        while True:
            records = data.get("records")
            if not isinstance(records, list):
                raise SyncError("Salesforce query: no records list in the answer")
            yield records
            if data.get("done", True) or not data.get("nextRecordsUrl"):
                return
            data = await self.get(data["nextRecordsUrl"])


def salesforce_record(record: dict, reps: dict[str, str]) -> dict | None:
    """A Lead or Contact → a person record (owner: the rep with that Salesforce user id, else none)."""
    company = record.get("Company")
    if company is None and isinstance(record.get("Account"), dict):
        company = record["Account"].get("Name")
    data = {"email": record.get("Email") or ""}
    for theirs, ours in (("FirstName", "first_name"), ("LastName", "last_name"), ("Title", "title"), ("Phone", "phone")):
        if record.get(theirs) not in (None, ""):
            data[ours] = str(record[theirs])
    if company not in (None, ""):
        data["company"] = str(company)
    if isinstance(record.get("SystemModstamp"), str):  # the record's own time: an older page never undoes a newer one
        data["as_of"] = record["SystemModstamp"]
    try:
        person = person_record(data, blank_is_absent=True)
    except Invalid:
        return None
    owner = record.get("OwnerId") or ""
    person["owner_email"] = reps.get(owner[:15])
    person["salesforce_id"] = str(record.get("Id") or "")[:18] or None
    return person


async def sync_salesforce(
    rt,
    workspace_id: int,
    client: SalesforceClient,
    cursor: str | None,
    save_cursor: Callable[[str], Awaitable[None]],
    progress: Callable[[Progress], None] = lambda p: None,
) -> Progress:
    done = Progress()
    marks = json.loads(cursor) if cursor else {}

    def read_reps():
        with rt.engine.connect() as conn:
            return {
                row.salesforce_user_id[:15]: row.email
                for row in conn.execute(
                    select(users.c.salesforce_user_id, users.c.email).where(
                        users.c.workspace_id == workspace_id, users.c.salesforce_user_id.is_not(None)
                    )
                )
            }

    reps = await asyncio.to_thread(read_reps)
    try:
        for obj, soql in SOQL.items():
            since = f" AND SystemModstamp > {marks[obj]}" if marks.get(obj) else ""
            async for records in client.query(soql.format(since=since)):
                done.pages += 1
                done.read += len(records)
                people_records = [r for r in (salesforce_record(rec, reps) for rec in records if isinstance(rec, dict)) if r]
                if people_records:
                    applied = await people_actions.upsert_people(
                        rt, workspace_id=workspace_id, source="salesforce", records=list(enumerate(people_records))
                    )
                    done.people += applied.created + applied.updated
                stamps: list[str] = [
                    r["SystemModstamp"] for r in records if isinstance(r, dict) and isinstance(r.get("SystemModstamp"), str)
                ]
                if stamps:
                    marks[obj] = max(stamps + ([marks[obj]] if marks.get(obj) else []))
                    await save_cursor(json.dumps(marks, sort_keys=True))
                done.calls = client.calls
                progress(done)
    except QuotaReached as exc:
        done.stopped = f"API limit reached ({exc}); the next pass resumes here"
    return _finished(done, client, progress)


def _finished(done: Progress, client, progress: Callable[[Progress], None]) -> Progress:
    done.done, done.calls = True, client.calls
    progress(done)
    return done


# --- stored connectors, one pass, the schedule ---------------------------------------------------


@dataclass
class Connector:
    workspace_id: int
    kind: str
    base_url: str
    client_id: str
    secrets: dict = field(repr=False)
    cursor: str | None
    interval_seconds: int
    synced_at: datetime | None


def load(rt, workspace_id: int | None = None, kind: str | None = None) -> list[Connector]:
    vault = connector_vault(rt.settings.secret_key)
    query = select(connectors)
    if workspace_id is not None:
        query = query.where(connectors.c.workspace_id == workspace_id)
    if kind is not None:
        query = query.where(connectors.c.kind == kind)
    with rt.engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return [
        Connector(
            r["workspace_id"],
            r["kind"],
            r["base_url"],
            r["client_id"],
            json.loads(vault.open(r["secret"])),
            r["cursor"],
            r["interval_seconds"],
            r["synced_at"],
        )
        for r in rows
    ]


def client_for(connector: Connector, http: httpx.AsyncClient, pace: Pace):
    if connector.kind == "marketo":
        return MarketoClient(connector.base_url, connector.client_id, connector.secrets["client_secret"], http=http, pace=pace)
    return SalesforceClient(
        connector.base_url,
        connector.client_id,
        connector.secrets["client_secret"],
        connector.secrets["refresh_token"],
        http=http,
        pace=pace,
    )


async def run_pass(
    rt,
    connector: Connector,
    *,
    http: httpx.AsyncClient | None = None,
    pace: Pace | None = None,
    progress: Callable[[Progress], None] = lambda p: None,
) -> Progress:
    """One sync pass; the connector's status, error and cursor are saved as it goes."""
    pace = pace or Pace()
    owned = http is None
    http = http or rt.outbound.http_client(timeout=30)

    async def save(**values):
        def write():
            with rt.engine.begin() as conn:
                conn.execute(
                    update(connectors)
                    .where(connectors.c.workspace_id == connector.workspace_id, connectors.c.kind == connector.kind)
                    .values(**values)
                )

        await asyncio.to_thread(write)

    async def save_cursor(cursor: str) -> None:
        connector.cursor = cursor
        await save(cursor=cursor)

    sync = sync_marketo if connector.kind == "marketo" else sync_salesforce
    try:
        done = await sync(rt, connector.workspace_id, client_for(connector, http, pace), connector.cursor, save_cursor, progress)
    except (SyncError, httpx.HTTPError) as exc:
        message = str(exc) or exc.__class__.__name__
        await save(status="error", error=message[:1000], synced_at=rt.clock())
        raise SyncError(message) from None
    finally:
        if owned:
            await http.aclose()
    await save(status="ok", error=done.stopped, synced_at=rt.clock())
    return done


class Scheduler:
    """Runs each connector's pass when its interval has passed (in the lease holder)."""

    def __init__(self, rt, *, pace: Pace | None = None):
        self.rt, self.pace = rt, pace
        self.running: set[tuple[int, str]] = set()

    async def tick(self) -> None:
        now = self.rt.clock()
        for connector in await asyncio.to_thread(load, self.rt):
            key = (connector.workspace_id, connector.kind)
            due = connector.synced_at is None or now - connector.synced_at >= timedelta(seconds=connector.interval_seconds)
            if due and key not in self.running:
                self.running.add(key)
                try:
                    await run_pass(self.rt, connector, pace=self.pace)
                except SyncError as exc:
                    log.warning("%s sync of workspace %s: %s", connector.kind, connector.workspace_id, exc)
                finally:
                    self.running.discard(key)


async def refresh_person(rt, workspace_id: int, person_id: int, *, http: httpx.AsyncClient | None = None) -> bool:
    """Fill a person's fields from Marketo (the down-arrow's "add"); False without a connector."""
    found = await asyncio.to_thread(load, rt, workspace_id, "marketo")
    if not found:
        return False

    def read():
        with rt.engine.connect() as conn:
            return conn.execute(
                select(people.c.email).where(people.c.id == person_id, people.c.workspace_id == workspace_id)
            ).scalar()

    email = await asyncio.to_thread(read)
    if email is None:
        return False
    owned = http is None
    http = http or rt.outbound.http_client(timeout=15)
    try:
        lead = await client_for(found[0], http, Pace(retries=1)).lead_by_email(email)
    finally:
        if owned:
            await http.aclose()
    if lead is None:
        return False
    record = lead_record(lead)
    await people_actions.upsert_people(rt, workspace_id=workspace_id, source="marketo", records=[(0, record)])
    return True


def _json(response: httpx.Response, what: str, *, list_ok: bool = False):
    try:
        data = response.json()
    except ValueError:
        raise SyncError(f"{what}: the answer is not JSON (HTTP {response.status_code})") from None
    if not isinstance(data, dict) and not (list_ok and isinstance(data, list)):
        raise SyncError(f"{what}: unexpected answer (HTTP {response.status_code})")
    return data
