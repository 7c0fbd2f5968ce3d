"""The schema, as SQLAlchemy Core tables (the migrations create exactly this)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

from .sql import now_utc  # noqa: F401 - where callers have always found it (one definition: sql.py)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite has no 64-bit autoincrement type distinct from INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns timezone-aware UTC datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime stored")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    # How the Target list turns scores into stars and flames (core/scoring.py):
    # "percentile" brackets of the workspace's scores, or "fixed" thresholds ("a,b,c").
    Column("tier_method", String(16), nullable=False, server_default="percentile"),
    Column("star_thresholds", String(60)),
    Column("flame_thresholds", String(60)),
    # Rank people without a Marketo score by LiveFeed's own engagement score.
    Column("engagement_ranking", Boolean, nullable=False, server_default=false()),
    # Public: names the workspace in /w.js and the Marketo webhook's path (not a secret).
    Column("site_key", String(32), unique=True),
    # Website tracking: the origins whose pages may send page views ("https://www.example.com ...").
    Column("site_origins", Text, nullable=False, server_default=""),
    Column("anonymize_ips", Boolean, nullable=False, server_default=false()),
    # The Marketo webhook's shared secret, hashed (secret_hash); None: the webhook is off.
    Column("marketo_hook_secret_hash", String(64)),
    # Honour Do-Not-Track / Global Privacy Control for anonymous website visitors (on by default).
    Column("honour_dnt", Boolean, nullable=False, server_default=text("true")),
    # Addresses and @domains never tracked: mail to them goes out without pixel or tracked links.
    Column("do_not_track", Text, nullable=False, server_default=""),
    # The base URL of tracking links ("https://t.example.com", a CNAME to this server); None: the
    # server's public URL. A hostname of the sender's own domain reads better and filters less.
    Column("tracking_url", String(300)),
    # Domains whose people may sign in with Google or Microsoft without being added first ("example.com ...");
    # a domain belongs to one workspace at most.
    Column("signin_domains", Text, nullable=False, server_default=""),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("password_hash", String(300)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("salesforce_user_id", String(18)),
    Column("role", String(8), nullable=False, server_default="rep"),  # admin | rep: admins change workspace settings
    # Set: the user cannot sign in, and their sessions, API tokens and mailbox watcher stop.
    Column("disabled_at", UTCDateTime),
    # Which rows alert and quiet time, shared by the web app and the extension (actions/alerts.py)
    Column("alert_settings", JSON),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),  # None: until revoked
    Column("name", String(100)),  # what the rep called it ("Gmail extension", "CRM script")
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(45)),  # where it was signed in from, shown to the rep beside the revoke button
    Column("user_agent", String(300)),
)

# Sign-in links used once: a link is refused the second time (kept until it would have expired).
used_signin_links = Table(
    "used_signin_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Failed password sign-ins, counted per address typed and per client address to lock out guessing.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("ip", String(45)),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_signin_failures_email_at", "email", "at"),
    Index("ix_signin_failures_ip_at", "ip", "at"),
)

# Addresses a rep signs in from: a hit from one of them is the rep's own ("self").
user_ips = Table(
    "user_ips",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("ip", String(45), primary_key=True),
    Column("last_seen", UTCDateTime, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("name", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("title", String(200)),
    Column("company", String(200)),
    Column("phone", String(50)),
    Column("linkedin_url", String(500)),
    Column("owner_id", Id, ForeignKey("users.id")),  # the rep the CRM assigns this person to
    Column("lead_score", Integer),
    Column("score_source", String(16)),  # marketo | import | api
    Column("score_changed_at", UTCDateTime),
    # The source's own time of the delivery that last changed the lead fields: an older one (a
    # replayed or late webhook, an older sync page) changes nothing (people.merge).
    Column("fields_at", UTCDateTime),
    Column("last_increase_at", UTCDateTime),  # set once the score has risen: the Target list's entry
    Column("updated_at", UTCDateTime),
    # When the person was added to LiveFeed; None: known only from marketing (Marketo, the
    # website), shown purple as "not in LiveFeed" until a rep adds them.
    Column("added_at", UTCDateTime),
    Column("marketo_id", String(32)),
    Column("salesforce_id", String(18)),
    # Never tracked: mail to this person goes out untracked, and hits on earlier copies record nothing.
    Column("do_not_track", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("workspace_id", "email", name="uq_people_workspace_email"),
    # The Target list: one rep's people whose score has risen, highest first, ties by the latest
    # rise (partial: people who never rose are not in it, however many a rep owns).
    # Plain ascending columns: both databases scan it backwards for the descending order.
    Index(
        "ix_people_owner_score",
        "owner_id",
        "lead_score",
        "last_increase_at",
        sqlite_where=text("last_increase_at IS NOT NULL"),
        postgresql_where=text("last_increase_at IS NOT NULL"),
    ),
)

# Every change of a person's lead score (the Target list's reasons and flames).
score_changes = Table(
    "score_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, nullable=False),
    Column("person_id", Id, ForeignKey("people.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("old", Integer),
    Column("new", Integer),
    Column("source", String(16), nullable=False),
    Index("ix_score_changes_person_id_at", "person_id", "at"),
    Index("ix_score_changes_workspace_id_at", "workspace_id", "at"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("assignee_id", Id, ForeignKey("users.id"), nullable=False),
    Column("created_by", Id, ForeignKey("users.id"), nullable=False),
    Column("person_id", Id, ForeignKey("people.id")),
    Column("type", String(16), nullable=False),  # call | email | linkedin | custom
    Column("title", String(500), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("priority", String(8), nullable=False),  # low | normal | high
    Column("status", String(8), nullable=False),  # open | done
    Column("due_date", Date, nullable=False),  # a calendar day in the assignee's time zone
    Column("due_time", Time),  # optional wall-clock time in the assignee's zone
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Index("ix_tasks_assignee_id_status_due_date", "assignee_id", "status", "due_date"),
)

emails = Table(
    "emails",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("subject", String(998), nullable=False),
    Column("html", Text),
    Column("text", Text),
    Column("status", String(16), nullable=False),  # sending | sent | failed
    Column("error", Text),
    Column("archived", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("thread_id", String(32)),  # Gmail's thread id of a reply written in Gmail
    # None: LiveFeed sent one copy per recipient. N: the rep's Gmail sent one tracked body shared by
    # N recipients (the extension, without a sending account): an open is "one of N", not forwarded
    Column("shared_with", Integer),
    Index("ix_emails_user_id_id", "user_id", "id"),
)

# Each recipient's copy, built once and kept until its server accepts it: sent at least once,
# retried with backoff after a transient failure or a crash (the same Message-ID each time, so a
# resend is recognisable), failed with the server's words after a permanent refusal or the last try.
send_queue = Table(
    "send_queue",
    metadata,
    Column("recipient_id", Id, ForeignKey("recipients.id"), primary_key=True),
    Column("email_id", Id, ForeignKey("emails.id"), nullable=False, index=True),
    Column("workspace_id", Id, nullable=False),
    Column("user_id", Id, nullable=False),
    Column("rcpt", String(254), nullable=False),
    Column("raw", Text),  # the MIME message; dropped once it is sent
    Column("status", String(8), nullable=False),  # queued | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),  # due, or claimed by a sender until then
    Column("error", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_send_queue_status_next_attempt_at", "status", "next_attempt_at"),
)

recipients = Table(
    "recipients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email_id", Id, ForeignKey("emails.id"), nullable=False, index=True),
    Column("person_id", Id, ForeignKey("people.id"), nullable=False, index=True),
    Column("field", String(3), nullable=False),  # to | cc
    Column("address", String(254), nullable=False),
    Column("message_id", String(300)),
    Column("forward_state", JSON),
    Column("subject", String(998)),  # this copy's subject with its personal fields filled; None: the email's
)

links = Table(
    "links",
    metadata,
    Column("id", Id, primary_key=True),
    Column("recipient_id", Id, ForeignKey("recipients.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
)

# Immutable hits, and a person's score rises (kind "score", no email). The id is the SSE event
# id. cls/reason are the verdict; a later scanner burst may revise the verdict of the burst's
# first clicks (the only update an event ever gets).
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, nullable=False),
    Column("user_id", Id, nullable=False),
    Column("email_id", Id),  # None for events about a person, not an email (a score rise)
    Column("recipient_id", Id),
    Column("person_id", Id),  # None only for a notice about the rep's own account
    Column("link_id", Id),
    Column("kind", String(16), nullable=False),
    Column("cls", String(16), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("ip", String(45)),
    Column("user_agent", String(500), nullable=False),
    Column("client", String(100)),
    Column("device", String(100)),
    Column("city", String(100)),
    Column("region", String(100)),
    Column("country", String(100)),
    Column("country_code", String(2)),
    Column("radius_km", Integer),
    Column("location_note", String(100)),
    Column("forwarded", Boolean, nullable=False, default=False),
    Column("score_old", Integer),
    Column("score_new", Integer),
    Column("detail", Text),  # a reply's first lines; a bounce's diagnostic; a pushed item's message (plain text)
    Column("url", Text),  # a pushed item's link
    Column("idempotency_key", String(200)),  # a pushed item's key: the same key again records nothing
    Column("visit_id", Id),  # a page view's visit (the id of its first page view): one row per visit
    UniqueConstraint("user_id", "idempotency_key", name="uq_events_user_id_idempotency_key"),
    Index("ix_events_user_id_id", "user_id", "id"),
    Index("ix_events_recipient_id_id", "recipient_id", "id"),
    Index("ix_events_person_id_id", "person_id", "id"),
)

# A rep's connected mailbox, watched for replies (IMAP IDLE, else polling). `secret` is the
# password encrypted with a key derived from the server's secret key (vault.py).
mailboxes = Table(
    "mailboxes",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=False),
    Column("security", String(8), nullable=False),  # tls | plain
    Column("username", String(254), nullable=False),
    Column("secret", Text, nullable=False),
    Column("folder", String(200), nullable=False),
    Column("uid_validity", BigInteger),
    Column("last_uid", BigInteger),  # the newest message read: the watcher resumes after it
    Column("status", String(16), nullable=False),  # connecting | idle | polling | error
    Column("error", Text),
    Column("checked_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A rep's Google or Microsoft account, connected by signing in: mail goes out through the Gmail API
# or Microsoft Graph as them. `secret` is the refresh token, sealed; it is used only with the token
# endpoint it was issued by.
mail_connections = Table(
    "mail_connections",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("provider", String(16), nullable=False),  # google | microsoft
    Column("address", String(254), nullable=False),
    Column("secret", Text, nullable=False),
    Column("token_endpoint", String(500), nullable=False),
    Column("status", String(16), nullable=False),  # connected | reconnect
    Column("error", Text),
    Column("checked_at", UTCDateTime),
    # Where reading new mail resumes: Gmail's historyId, or Graph's delta link
    Column("cursor", String(2000)),
    # Graph change notifications: the subscription, its clientState (hashed) and when it lapses
    Column("subscription_id", String(200)),
    Column("subscription_secret_hash", String(64)),
    Column("subscription_expires_at", UTCDateTime),
    Index("ix_mail_connections_subscription_id", "subscription_id"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A rep's own SMTP account for sending (else the server's LIVEFEED_SMTP_URL). `secret` is the
# password sealed like a mailbox's.
smtp_accounts = Table(
    "smtp_accounts",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=False),
    Column("security", String(8), nullable=False),  # tls | starttls | plain
    Column("username", String(254), nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Saved email templates: a rep's own, or shared with the workspace. `html` is sanitised on save.
templates = Table(
    "templates",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),  # the author
    Column("name", String(200), nullable=False),
    Column("subject", String(998), nullable=False),
    Column("html", Text, nullable=False),
    Column("shared", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_templates_workspace_id_name", "workspace_id", "name"),
)

# A workspace's Marketo and Salesforce connections: settings, the encrypted credentials and
# the sync cursor (a restart resumes from it).
connectors = Table(
    "connectors",
    metadata,
    Column("workspace_id", Id, ForeignKey("workspaces.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # marketo | salesforce
    Column("base_url", String(500), nullable=False),
    Column("client_id", String(200), nullable=False),
    Column("secret", Text, nullable=False),
    Column("cursor", Text),
    Column("interval_seconds", Integer, nullable=False, server_default="300"),
    Column("status", String(16), nullable=False, server_default="new"),  # new | ok | error
    Column("error", Text),
    Column("synced_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A website visitor (first-party id kept by /w.js), and the person once identified.
visitors = Table(
    "visitors",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("person_id", Id, ForeignKey("people.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("identified_at", UTCDateTime),
    UniqueConstraint("workspace_id", "key", name="uq_visitors_workspace_key"),
)

page_views = Table(
    "page_views",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, nullable=False),
    Column("visitor_id", Id, ForeignKey("visitors.id"), nullable=False),
    Column("person_id", Id),
    Column("visit_id", Id, nullable=False),  # the id of the visit's first page view
    Column("at", UTCDateTime, nullable=False),
    Column("url", Text, nullable=False),
    Column("title", String(300), nullable=False),
    Column("referrer", Text, nullable=False),
    Column("ip", String(45)),
    Index("ix_page_views_visitor_id_at", "visitor_id", "at"),
    Index("ix_page_views_person_id_at", "person_id", "at"),
)

# Mail that would have gone out when no SMTP server is configured (the local outbox).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, nullable=False),
    Column("user_id", Id, nullable=False, index=True),
    Column("email_id", Id, ForeignKey("emails.id"), nullable=False),
    Column("recipient_id", Id, ForeignKey("recipients.id"), nullable=False),
    Column("rcpt", String(254), nullable=False),
    Column("subject", String(998), nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
