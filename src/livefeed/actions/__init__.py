"""The one way in for mutations other than tracking hits: write, commit, then act or publish."""

from __future__ import annotations

import asyncio
import re
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..core import compose
from ..core.model import Invalid
from ..core.secrets import hash_password
from ..core.tokens import CLICK, MESSAGE, OPEN, SELF, TokenSigner  # noqa: F401 - actions.SELF: the self cookie
from ..db.engine import database_unavailable
from ..db.sql import new_id
from ..db.tables import emails, links, mail_connections, recipients, send_queue, smtp_accounts, workspaces
from ..db.tables import people as people_table  # `people` and `users` here are the submodules
from ..db.tables import users as users_table
from ..db.vault import Vault, VaultError
from ..integrations.mailapi import AccessTokens, ProviderAccount, ProviderMailer
from ..integrations.outbound import Outbound
from ..integrations.smtp import Mailer, MailError, Outgoing, SmtpMailer, SmtpOptions
from ..pipeline.richtext import clean_email_html
from . import connections, sending
from .people import ensure_person
from .sessions import (  # noqa: F401 - the one way in: actions.sign_in, actions.create_token…
    SESSION_DAYS,
    SIGNIN_LINK_MINUTES,
    IdentityRefused,
    SignInLocked,
    create_token,
    end_session,
    find_user,
    list_sessions,
    list_tokens,
    remember_ip,
    revoke_presented_token,
    revoke_session,
    revoke_token,
    set_disabled,
    sign_in,
    sign_in_with_identity,
    signin_link_token,
    start_session,
    use_once,
    use_signin_link,
    user_for_session,
    user_for_signin_link,
    user_for_token,
)

DEFAULT_WORKSPACE = "Default"


ActionError = Invalid  # bad input to an action; `field` names what is wrong


# --- workspaces and users (sign-in, sessions and tokens: sessions.py) -------------------------------------------------------


def ensure_workspace(conn: Connection, name: str, *, now: datetime) -> int:
    found = conn.execute(select(workspaces.c.id).where(workspaces.c.name == name)).scalar()
    if found is not None:
        return found
    return new_id(conn.execute(insert(workspaces).values(name=name, created_at=now, site_key=secrets.token_urlsafe(12))))


ROLES = ("admin", "rep")


def add_user(
    engine: Engine,
    *,
    email: str,
    name: str,
    timezone: str,
    workspace: str = DEFAULT_WORKSPACE,
    password: str | None = None,
    salesforce_user_id: str | None = None,
    role: str | None = None,
    now: datetime,
) -> int:
    """Create a rep; raise ActionError naming the bad field."""
    email = email.strip().lower()
    if problem := compose.address_problem(email):
        raise ActionError("email", problem)
    if not name.strip() or compose.header_problem(name):
        raise ActionError("name", "must be a non-empty single line")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ActionError("timezone", f"{timezone!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    if password is not None and len(password) < 8:
        raise ActionError("password", "must be at least 8 characters")
    if salesforce_user_id is not None and not re.fullmatch(r"005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", salesforce_user_id):
        raise ActionError("salesforce_user_id", "is a Salesforce User id: 15 or 18 characters starting with 005")
    if role is not None and role not in ROLES:
        raise ActionError("role", f"must be one of {', '.join(ROLES)}")
    with engine.begin() as conn:
        workspace_id = ensure_workspace(conn, workspace, now=now)
        if role is None:  # a workspace's first rep administers it
            role = (
                "rep"
                if conn.execute(select(users_table.c.id).where(users_table.c.workspace_id == workspace_id).limit(1)).first()
                else "admin"
            )
        try:
            return new_id(
                conn.execute(
                    insert(users_table).values(
                        workspace_id=workspace_id,
                        email=email,
                        name=name.strip(),
                        timezone=timezone,
                        password_hash=hash_password(password) if password else None,
                        created_at=now,
                        salesforce_user_id=salesforce_user_id,
                        role=role,
                    )
                )
            )
        except IntegrityError:
            raise ActionError("email", f"a user with {email} already exists") from None


# --- sending tracked email ---------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A validated email to send (the API and the compose form build this)."""

    to: list[str]
    cc: list[str]
    subject: str
    html: str | None
    text: str | None
    names: dict[str, str] = field(default_factory=dict)  # address → display name, where given
    track_opens: bool = True
    track_clicks: bool = True
    fields: tuple[str, ...] = ()  # the personal fields used ({{first_name}}…), filled per recipient
    required: tuple[str, ...] = ()  # those used somewhere without a fallback ({{first_name|there}} has one)
    bcc: list[str] = field(default_factory=list)  # each gets their own copy; never named in any header
    in_reply_to: str | None = None  # the Message-ID replied to (threads the reply in every mail client)
    references: str | None = None
    thread_id: str | None = None  # Gmail's thread id, when written in Gmail (sent in that thread through the Gmail API)

    @property
    def addresses(self) -> list[str]:
        return self.to + self.cc + self.bcc

    @property
    def fielded(self) -> list[tuple[str, str]]:
        """(to | cc | bcc, address) of every recipient, in order."""
        return [("to", a) for a in self.to] + [("cc", a) for a in self.cc] + [("bcc", a) for a in self.bcc]

    def field_of(self, index: int) -> str:
        """`to[2]`, `cc[0]`, `bcc[1]`: where the index-th address came from (errors name it)."""
        for name, group in (("to", self.to), ("cc", self.cc), ("bcc", self.bcc)):
            if index < len(group):
                return f"{name}[{index}]"
            index -= len(group)
        raise IndexError(index)


@dataclass(frozen=True)
class Sent:
    email_id: int
    status: str
    recipients: list[dict]
    error: str | None = None


MESSAGE_ID = re.compile(r"<[^<>\s@]{1,250}@[^<>\s@]{1,250}>")
GMAIL_THREAD = re.compile(r"[0-9a-f]{8,32}")


def validate_draft(
    *,
    to: list[str],
    cc: list[str],
    subject: str | None,
    html: str | None,
    text: str | None,
    track_opens: bool = True,
    track_clicks: bool = True,
    bcc: list[str] | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    thread_id: str | None = None,
) -> Draft:
    """Check everything before anything is stored; raise ActionError naming the first bad field.

    Recipients are addresses or "Display Name <address>"."""
    names: dict[str, str] = {}
    bcc = bcc or []
    parsed: dict[str, list[str]] = {"to": [], "cc": [], "bcc": []}
    for name, entries in (("to", to), ("cc", cc), ("bcc", bcc)):
        for index, entry in enumerate(entries):
            display, address = compose.split_recipient(entry)
            if problem := compose.header_problem(entry) or compose.address_problem(address):
                raise ActionError(f"{name}[{index}]", problem)
            parsed[name].append(address)
            if display:
                names[address] = display
    if not to:
        raise ActionError("to", "at least one recipient is required")
    if len(to) + len(cc) + len(bcc) > compose.MAX_RECIPIENTS:
        raise ActionError("to", f"at most {compose.MAX_RECIPIENTS} recipients (to, cc and bcc together)")
    if in_reply_to is not None and not MESSAGE_ID.fullmatch(in_reply_to):
        raise ActionError("in_reply_to", "must be one Message-ID: <id@host>")
    if references is not None and (len(references) > 4000 or not all(MESSAGE_ID.fullmatch(r) for r in references.split())):
        raise ActionError("references", "must be Message-IDs (<id@host>) separated by spaces")
    if thread_id is not None and not GMAIL_THREAD.fullmatch(thread_id):
        raise ActionError("thread_id", "must be a Gmail thread id (hexadecimal)")
    if not subject or not subject.strip():
        raise ActionError("subject", "is required")
    if problem := compose.header_problem(subject):
        raise ActionError("subject", problem)
    if len(subject) > compose.MAX_SUBJECT:
        raise ActionError("subject", f"at most {compose.MAX_SUBJECT} characters")
    if not (html and html.strip()) and not (text and text.strip()):
        raise ActionError("html", "a body is required (html or text)")
    for name, body in (("html", html), ("text", text)):
        if body and len(body.encode()) > compose.MAX_BODY_BYTES:
            raise ActionError(name, f"the body is over {compose.MAX_BODY_BYTES // (1024 * 1024)} MB")
    fields: list[str] = []
    for name, value in (("subject", subject), ("html", html), ("text", text)):
        try:
            fields += [f for f in compose.fields_used(value) if f not in fields]
        except ValueError as exc:
            raise ActionError(name, str(exc)) from None
    if html and html.strip():  # whoever wrote it (API, compose, Gmail), scripts and handlers never reach a recipient
        html = clean_email_html(html)
        if not html and not (text and text.strip()):
            raise ActionError("html", "nothing is left to send once scripts and other active content are removed")
    return Draft(
        to=parsed["to"],
        cc=parsed["cc"],
        bcc=parsed["bcc"],
        subject=subject.strip(),
        html=html or None,
        text=text or None,
        names=names,
        track_opens=track_opens,
        track_clicks=track_clicks,
        fields=tuple(fields),
        required=tuple(compose.required_fields(subject, html, text)),
        in_reply_to=in_reply_to,
        references=references or in_reply_to,
        thread_id=thread_id,
    )


class EmailSender:
    """send_email: store the email and its tracked copies, send them, record the outcome."""

    def __init__(
        self,
        engine: Engine,
        *,
        signer: TokenSigner,
        public_url: str,
        mailer: Mailer,
        clock: Callable[[], datetime],
        vault: Vault,
        outbound: Outbound,
        retry: sending.Retry | None = None,
        identity: dict | None = None,
        api_urls: dict[str, str] | None = None,
        connection_vault: Vault | None = None,
        recorder=None,
    ):
        self._engine, self._signer, self._public_url = engine, signer, public_url
        self._mailer, self._clock, self._vault, self._outbound = mailer, clock, vault, outbound
        self.retry = retry or sending.Retry()
        # Google and Microsoft accounts connected by signing in (integrations/mailapi.py)
        self._identity, self._api_urls, self._connection_vault = identity or {}, api_urls or {}, connection_vault
        self.tokens = AccessTokens()  # shared with the reply poller
        self._recorder = recorder  # writes (and publishes) the "reconnect needed" feed row
        self._domain = public_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]

    async def send_email(self, user, draft: Draft) -> Sent:
        """Store (each copy queued), then send through the rep's own SMTP account when one is set
        up, else the server's; a copy that fails for now stays queued and is retried."""
        email_id, copies, result, account, connection = await asyncio.to_thread(self._store, user, draft)
        try:
            status, error = (await self._deliver(user["email"], account, copies, connection))[email_id]
        except Exception as exc:  # stored and queued: the background sender settles it (never answer "not stored")
            if not database_unavailable(exc):
                raise
            return Sent(email_id, "sending", result, "the outcome could not be recorded yet; the queue will finish it")
        return Sent(email_id, status, result, error)

    async def send_due(self) -> int:
        """One pass of the background sender: the queued copies that are due (retries, and copies
        whose sender died), sent and settled; how many were tried."""
        groups = await asyncio.to_thread(sending.claim_due, self._engine, now=self._clock(), retry=self.retry)
        for group in groups:
            await self._deliver(group.sender, group.account, group.copies, group.connection)
        return sum(len(g.copies) for g in groups)

    async def _deliver(self, sender: str, account, copies: list[Outgoing], connection=None) -> dict[int, tuple[str, str | None]]:
        try:
            outcomes = await self._mailer_for(account, connection).send(sender, copies)
        except MailError as exc:  # nothing could be tried: the same outcome for every copy
            outcomes = [exc] * len(copies)
        return await asyncio.to_thread(sending.settle, self._engine, copies, outcomes, now=self._clock(), retry=self.retry)

    def _mailer_for(self, account, connection) -> Mailer:
        """The rep's connected Google or Microsoft account, else their SMTP account, else the server's
        — never another account silently when the one they chose cannot be used."""
        if connection is not None:
            return ProviderMailer(self.provider_account(connection))
        if account is not None:
            return SmtpMailer(self._account_options(account))
        return self._mailer

    def provider_account(self, connection) -> ProviderAccount:
        """The rep's connected Google or Microsoft account, ready for API calls (sending, reading);
        MailError when it must be connected again."""
        provider = self._identity.get(connection["provider"])
        if connection["status"] != "connected" or provider is None or self._connection_vault is None:
            raise MailError("your Google or Microsoft account needs connecting again (Settings)", "account", permanent=True)
        try:
            refresh_token = self._connection_vault.open(connection["secret"])
        except VaultError as exc:
            raise MailError(f"your connected account: {exc}", "account", permanent=True) from None
        user_id = connection["user_id"]

        async def revoked(message: str) -> None:
            now = self._clock()
            if self._recorder is None:
                await asyncio.to_thread(
                    connections.mark_connection, self._engine, user_id, status="reconnect", error=message, now=now
                )
                return
            settings_url = self._public_url.rstrip("/") + "/settings#mail-connection"
            await self._recorder.write_events(
                lambda conn: connections.lose_connection(conn, user_id=user_id, error=message, settings_url=settings_url, now=now)
            )

        return ProviderAccount(
            user_id=user_id,
            provider=provider,
            api_url=self._api_urls[connection["provider"]],
            refresh_token=refresh_token,
            token_endpoint=connection["token_endpoint"],
            tokens=self.tokens,
            on_revoked=revoked,
        )

    def _account_options(self, account) -> SmtpOptions:
        try:
            password = self._vault.open(account["secret"])
        except VaultError as exc:
            raise MailError(f"your SMTP account: {exc}", "password", permanent=True) from None
        return SmtpOptions.account(
            host=account["host"],
            port=account["port"],
            security=account["security"],
            username=account["username"],
            password=password,
            outbound=self._outbound,
        )

    def message_id(self, recipient_id: int) -> str:
        """A Message-ID the product can recognise later and nobody else can mint."""
        return f"<lf.{self._signer.sign(MESSAGE, recipient_id)}@{self._domain}>"

    def _store(self, user, draft: Draft):
        now = self._clock()
        with self._engine.begin() as conn:
            values = personal_values(conn, user, draft)  # a missing field stops here: nothing stored
            untracked, base = self._tracking(conn, user, draft)
            account = conn.execute(select(smtp_accounts).where(smtp_accounts.c.user_id == user["id"])).mappings().first()
            connection = conn.execute(select(mail_connections).where(mail_connections.c.user_id == user["id"])).mappings().first()
            email_id = _insert_email(conn, user, draft, now, status="sending")
            copies, result = [], []
            for field, address in draft.fielded:
                added = _add_recipient(conn, user, draft, email_id, field, address, now)
                recipient_id = added["recipient_id"]
                message = self._message(
                    conn, user, draft, recipient_id, values.get(address, {}), base=base, tracked=address not in untracked
                )
                filled = str(message["Subject"])
                conn.execute(
                    update(recipients)
                    .where(recipients.c.id == recipient_id)
                    .values(message_id=message["Message-ID"], subject=filled if filled != draft.subject else None)
                )
                copies.append(
                    Outgoing(user["workspace_id"], user["id"], email_id, recipient_id, address, message, draft.thread_id)
                )
                result.append(added)
            conn.execute(insert(send_queue), sending.queue_rows(copies, now=now, retry=self.retry))
        return email_id, copies, result, account, connection

    async def track_for_gmail(self, user, draft: Draft) -> dict:
        """The extension without a sending account: one tracked body (one pixel, links rewritten)
        for the rep's Gmail to send to every recipient, the email and its recipients recorded.
        An open is then "one of N recipients" unless there is one; ActionError naming the field when
        one body cannot serve them all (personal fields with several recipients)."""
        return await asyncio.to_thread(self._store_shared, user, draft)

    def _store_shared(self, user, draft: Draft) -> dict:
        addresses = draft.addresses
        if draft.fields and len(addresses) > 1:
            raise ActionError(
                "html",
                "personal fields ({{" + draft.fields[0] + "}}…) need one copy per recipient: "
                "connect a sending account in LiveFeed's Settings, or send to one person",
            )
        now = self._clock()
        with self._engine.begin() as conn:
            values = personal_values(conn, user, draft)
            untracked, base = self._tracking(conn, user, draft)
            email_id = _insert_email(conn, user, draft, now, status="sent", sent_at=now, shared_with=len(addresses))
            result = [_add_recipient(conn, user, draft, email_id, field, address, now) for field, address in draft.fielded]
            # Tracking one body tracks everyone who reads it: not when anyone on it must not be tracked.
            tracked = not untracked
            message = self._message(
                conn, user, draft, result[0]["recipient_id"], values.get(addresses[0], {}), base=base, tracked=tracked
            )
            if str(message["Subject"]) != draft.subject:  # one recipient, fields filled
                conn.execute(
                    update(recipients).where(recipients.c.id == result[0]["recipient_id"]).values(subject=str(message["Subject"]))
                )
        html = next((part.get_content() for part in message.walk() if part.get_content_type() == "text/html"), None)
        return {
            "id": email_id,
            "html": html,
            "subject": message["Subject"],
            "tracked": tracked,
            "untracked_because": None if tracked else "a recipient is on the do-not-track list: sent as written",
            "shared_with": len(addresses),
            "recipients": result,
        }

    def _tracking(self, conn: Connection, user, draft: Draft) -> tuple[set[str], str]:
        """The addresses to send untracked, and where the pixel and links point (the workspace's
        own tracking hostname, if set)."""
        workspace = conn.execute(
            select(workspaces.c.do_not_track, workspaces.c.tracking_url).where(workspaces.c.id == user["workspace_id"])
        ).one()
        untracked = untracked_addresses(conn, user["workspace_id"], draft.addresses, workspace.do_not_track.split())
        return untracked, workspace.tracking_url or self._public_url

    def _message(
        self,
        conn: Connection,
        user,
        draft: Draft,
        recipient_id: int,
        values: dict[str, str | None],
        *,
        base: str,
        tracked: bool = True,
    ) -> EmailMessage:
        """One recipient's message, its links and pixel on `base`; `tracked` False (do-not-track)
        sends it as written."""

        def track(url: str) -> str:
            link_id = new_id(conn.execute(insert(links).values(recipient_id=recipient_id, url=url)))
            return f"{base}/c/{self._signer.sign(CLICK, link_id)}"

        pixel = f"{base}/o/{self._signer.sign(OPEN, recipient_id)}.gif" if draft.track_opens and tracked else None
        copy = compose.tracked_copy(
            html_body=compose.fill(draft.html, values, html_body=True),
            text_body=compose.fill(draft.text, values),
            pixel_url=pixel,
            track=track if draft.track_clicks and tracked else None,
        )
        safe = compose.header_safe  # stored names and fields (CRM, imports) may hold line breaks
        message = EmailMessage()
        message["From"] = formataddr((safe(user["name"]), user["email"]))
        message["To"] = ", ".join(formataddr((safe(draft.names.get(a, "")), a)) for a in draft.to)
        if draft.cc:
            message["Cc"] = ", ".join(formataddr((safe(draft.names.get(a, "")), a)) for a in draft.cc)
        message["Subject"] = safe(compose.fill(draft.subject, values) or "")
        message["Date"] = formatdate(self._clock().timestamp(), localtime=False)
        message["Message-ID"] = self.message_id(recipient_id)
        if draft.in_reply_to:  # validated Message-IDs: no header injection
            message["In-Reply-To"] = draft.in_reply_to
            message["References"] = draft.references or draft.in_reply_to
        message.set_content(copy.text)
        if copy.html:
            message.add_alternative(copy.html, subtype="html")
        return message


def _insert_email(conn: Connection, user, draft: Draft, now: datetime, **values) -> int:
    """The email's row as the rep wrote it; `values` say how it goes out (status, sent_at…)."""
    return new_id(
        conn.execute(
            insert(emails).values(
                workspace_id=user["workspace_id"],
                user_id=user["id"],
                subject=draft.subject,
                html=draft.html,
                text=draft.text,
                archived=False,
                created_at=now,
                thread_id=draft.thread_id,
                **values,
            )
        )
    )


def _add_recipient(conn: Connection, user, draft: Draft, email_id: int, field: str, address: str, now: datetime) -> dict:
    """One recipient of an email (the person added when unknown), as the answer shows it."""
    person_id = ensure_person(conn, user["workspace_id"], address, now, name=draft.names.get(address))
    recipient_id = new_id(
        conn.execute(insert(recipients).values(email_id=email_id, person_id=person_id, field=field, address=address))
    )
    return {"address": address, "field": field, "person_id": person_id, "recipient_id": recipient_id}


def untracked_addresses(conn: Connection, workspace_id: int, addresses: list[str], listed: list[str]) -> set[str]:
    """The addresses mail must reach untracked: on the workspace's `listed` never-track entries
    (or their @domain is), or people marked do-not-track."""
    flagged = set(
        conn.execute(
            select(people_table.c.email).where(
                people_table.c.workspace_id == workspace_id, people_table.c.email.in_(addresses), people_table.c.do_not_track
            )
        ).scalars()
    )
    return {a for a in addresses if a in flagged or compose.never_tracked(a, listed)}


def preview(engine: Engine, user, draft: Draft) -> list[dict]:
    """What each recipient would receive (fields filled; links and pixel as sent, untracked here),
    without storing anything; ActionError as sending would raise it."""
    with engine.connect() as conn:
        values = personal_values(conn, user, draft)
    copies = []
    for address in draft.addresses:
        mine = values.get(address, {})
        copy = compose.tracked_copy(
            html_body=compose.fill(draft.html, mine, html_body=True),
            text_body=compose.fill(draft.text, mine),
            pixel_url=None,
            track=None,
        )
        copies.append({"address": address, "subject": compose.fill(draft.subject, mine), "html": copy.html, "text": copy.text})
    return copies


def personal_values(conn: Connection, user, draft: Draft) -> dict[str, dict[str, str | None]]:
    """Each recipient's values for the fields the draft uses; raise ActionError naming the
    recipient and the field when one has no value (a blank would go out as "Hi ,")."""
    if not draft.fields:
        return {}
    addresses = draft.addresses
    known = {
        row.email: row
        for row in conn.execute(
            select(
                people_table.c.email,
                people_table.c.first_name,
                people_table.c.last_name,
                people_table.c.name,
                people_table.c.company,
                people_table.c.title,
            ).where(people_table.c.workspace_id == user["workspace_id"], people_table.c.email.in_(addresses))
        )
    }
    values: dict[str, dict[str, str | None]] = {}
    for index, address in enumerate(addresses):
        row = known.get(address)
        given = draft.names.get(address, "")
        first = (row.first_name if row else None) or (given.split()[0] if given else None)
        last = (row.last_name if row else None) or (" ".join(given.split()[1:]) if len(given.split()) > 1 else None)
        mine = {
            "first_name": first,
            "last_name": last,
            "name": (row.name if row else None) or given or None,
            "company": row.company if row else None,
            "title": row.title if row else None,
            "email": address,
            "sender_name": user["name"],
        }
        for name in draft.required:
            if not mine.get(name):
                where = draft.field_of(index)
                raise ActionError(
                    where,
                    f"{address} has no {name} for {{{{{name}}}}}: add it to the person, give the field "
                    f"a fallback ({{{{{name}|there}}}}), or remove it",
                )
        values[address] = {name: mine.get(name) for name in draft.fields}
    return values


def accounts_set_up(engine: Engine, user_id: int) -> dict[str, bool]:
    """Which of the rep's own accounts exist (the Settings page asks the API only for those)."""
    from ..db.tables import mailboxes

    with engine.connect() as conn:
        return {
            name: conn.execute(select(table.c.user_id).where(table.c.user_id == user_id)).first() is not None
            for name, table in (("mailbox", mailboxes), ("smtp", smtp_accounts), ("connection", mail_connections))
        }


def sending_account(engine: Engine, user_id: int) -> str | None:
    """How mail leaves as this rep: "google"/"microsoft" (their connected account — even one that
    needs connecting again: mail then fails saying so, never leaves through another account),
    "smtp" (their own server), or None (no account of their own)."""
    with engine.connect() as conn:
        connected = conn.execute(select(mail_connections.c.provider).where(mail_connections.c.user_id == user_id)).scalar()
        if connected:
            return connected
        own = conn.execute(select(smtp_accounts.c.user_id).where(smtp_accounts.c.user_id == user_id)).first()
    return "smtp" if own else None


def set_archived(engine: Engine, user, email_id: int, archived: bool) -> bool:
    """Archive (tracking off: hits answer but record nothing) or unarchive one of the rep's emails.
    False when the rep has no such email."""
    with engine.begin() as conn:
        done = conn.execute(
            update(emails)
            .where(emails.c.id == email_id, emails.c.workspace_id == user["workspace_id"], emails.c.user_id == user["id"])
            .values(archived=archived)
        )
        return bool(done.rowcount)
