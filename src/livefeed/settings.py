"""One settings object, built from LIVEFEED_* environment variables and passed in."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .core.outbound import Allowlist, parse_allowlist

PREFIX = "LIVEFEED_"
DEFAULT_VAR_DIR = Path("var")


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the variable."""


@dataclass(frozen=True)
class OidcSettings:
    """An OpenID provider the operator registered LiveFeed with (trusted configuration)."""

    client_id: str
    client_secret: str = field(repr=False)
    discovery_url: str  # {issuer}/.well-known/openid-configuration


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_url: str
    secret_key: bytes
    smtp_url: str | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    geoip_db: str | None = None
    var_dir: Path = DEFAULT_VAR_DIR
    heartbeat_seconds: float = 15.0
    stream_queue_size: int = 256
    coalesce_minutes: int = 10
    checkpoint_seconds: float = 1.0
    target_cache_seconds: float = 30.0
    demo: bool = False
    outbound_allow: Allowlist = field(default_factory=Allowlist)
    gmail_api_url: str = "https://gmail.googleapis.com"
    graph_api_url: str = "https://graph.microsoft.com"
    graph_notifications: bool | None = None  # Graph change notifications; None: when the public URL is https (Graph requires it)
    google: OidcSettings | None = None  # sign in with Google, when a client id and secret are set
    microsoft: OidcSettings | None = None
    spool_seconds: float = 2.0  # how often hits spooled while the database was away are retried
    max_body_bytes: int = 6 * 1024 * 1024  # a 2 MB email body in JSON, with room; 413 beyond
    outbound_timeout_seconds: float = 10.0  # connect and greeting to a host a user named; every failure takes this long
    extension_ids: tuple[str, ...] = ()  # the Chrome extension ids allowed to connect; () any (docs/integrations.md)
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_host(self) -> str:
        return urlsplit(self.public_url).hostname or "localhost"

    @property
    def notify_graph(self) -> bool:
        return self.graph_notifications if self.graph_notifications is not None else self.public_url.startswith("https://")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)


def parse_networks(value: str, *, name: str) -> tuple:
    """Parse comma-separated CIDRs; a bad entry raises naming the variable."""
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise SettingsError(f"{name}: {part!r} is not an IP network ({exc})") from None
    return tuple(networks)


def _check_database_url(url: str) -> str:
    if url.startswith("sqlite:///") or url.startswith("postgresql://") or url.startswith("postgresql+psycopg://"):
        return url
    raise SettingsError(f"{PREFIX}DATABASE_URL: {url.split('@')[-1]!r} is not sqlite:///PATH or postgresql://…")


def _check_public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{PREFIX}PUBLIC_URL: {url!r} must be an http(s) URL with a host")
    return url.rstrip("/")


def _check_smtp_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError(f"{PREFIX}SMTP_URL: must look like smtp://user:pass@host:port (or smtps://)")
    try:
        _ = parts.port  # urlsplit parses the port only when asked
    except ValueError:
        raise SettingsError(f"{PREFIX}SMTP_URL: the port is not a number") from None
    return url


def _url(value: str | None, default: str, *, name: str) -> str:
    value = (value or default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{PREFIX}{name}: {value!r} is not an http(s) URL")
    return value


def _oidc(client_id: str | None, secret: str | None, *, name: str, discovery: str) -> OidcSettings | None:
    client_id, secret = client_id or "", secret or ""
    if not client_id and not secret:
        return None
    if not client_id or not secret:
        missing = f"{PREFIX}{name}_CLIENT_SECRET" if client_id else f"{PREFIX}{name}_CLIENT_ID"
        raise SettingsError(f"{missing}: needed too (sign-in with {name.title()} takes a client id and its secret)")
    return OidcSettings(client_id=client_id, client_secret=secret, discovery_url=discovery)


def _extension_ids(value: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    for found in ids:
        if not re.fullmatch(r"[a-p]{32}", found):
            raise SettingsError(f"{PREFIX}EXTENSION_IDS: {found!r} is not a Chrome extension id (32 letters a–p)")
    return ids


def _allowlist(value: str) -> Allowlist:
    try:
        return parse_allowlist(value)
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}OUTBOUND_ALLOW: {exc}") from None


def _load_secret(value: str | None, var_dir: Path) -> bytes:
    """Use LIVEFEED_SECRET_KEY, else a key generated once and kept under var/."""
    if value:
        if len(value) < 32:
            raise SettingsError(f"{PREFIX}SECRET_KEY: must be at least 32 characters")
        return value.encode()
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _number(env: dict, name: str, default: float, *, minimum: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: {raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{PREFIX}{name}: must be at least {minimum}")
    return value


@dataclass(frozen=True)
class Variable:
    name: str  # without the LIVEFEED_ prefix
    default: str
    meaning: str


# Every variable from_env reads, documented once: docs/configuration.md is generated from this list
# (`livefeed config-docs`), and a test fails when the two differ or a variable is missing here.
VARIABLES = (
    Variable(
        "DATABASE_URL",
        "sqlite:///var/livefeed.db",
        "`sqlite:///PATH` (embedded, migrated on start) or `postgresql://user@host/db` "
        "(run `livefeed migrate` first; needed for `--workers N`).",
    ),
    Variable(
        "PUBLIC_URL",
        "http://127.0.0.1:8000 (serve: its host and port)",
        "The address prospects' mail clients reach: tracking "
        "pixels and links, `/w.js`, webhook URLs and sign-in links are built on it. Use https in production.",
    ),
    Variable(
        "SECRET_KEY",
        "generated once into var/secret_key",
        "At least 32 characters. Signs tracking tokens, Message-IDs and "
        "sign-in links, and derives the keys that encrypt stored mailbox and connector credentials: changing it "
        "invalidates all of them.",
    ),
    Variable(
        "SMTP_URL",
        "(none: the local outbox)",
        "`smtp://user:pass@host:587` (STARTTLS when the server offers it; "
        "`?starttls=true` requires it, `false` skips it) or `smtps://…:465` (implicit TLS) for sending. "
        "Without it mail goes to the web app's Outbox.",
    ),
    Variable(
        "TRUSTED_PROXIES",
        "(none)",
        "Comma-separated networks whose `X-Forwarded-For` is believed (your load balancer). `serve --demo` trusts loopback.",
    ),
    Variable(
        "OUTBOUND_ALLOW",
        "(none)",
        "Comma-separated networks (`10.0.0.0/8`) and host names (`mail.internal`) that reps' "
        "and admins' settings may reach although they are not on the public internet (IMAP and SMTP servers, "
        "connector URLs); these may also use any port and plain text. Everything else they enter must be a "
        "public host on the protocol's ports, over TLS.",
    ),
    Variable(
        "EXTENSION_IDS",
        "(any)",
        "Comma-separated Chrome extension ids (32 letters a–p, shown on chrome://extensions) "
        "that may connect to this server and call its API from the browser; empty: any. Set it to your "
        "Web Store or self-packed id in production.",
    ),
    Variable(
        "GOOGLE_CLIENT_ID",
        "(none: no Google sign-in)",
        "The OAuth client id of LiveFeed's Google Cloud project "
        "(docs/integrations.md); with the secret, the sign-in page offers *Sign in with Google*.",
    ),
    Variable("GOOGLE_CLIENT_SECRET", "(none)", "That client's secret."),
    Variable(
        "GOOGLE_ISSUER",
        "https://accounts.google.com",
        "Google's OpenID issuer: endpoints and keys come from `{issuer}/.well-known/openid-configuration`.",
    ),
    Variable(
        "MICROSOFT_CLIENT_ID",
        "(none: no Microsoft sign-in)",
        "The application (client) id of LiveFeed's Microsoft "
        "Entra app registration; with the secret, the sign-in page offers *Sign in with Microsoft*.",
    ),
    Variable("MICROSOFT_CLIENT_SECRET", "(none)", "That registration's client secret."),
    Variable(
        "MICROSOFT_TENANT",
        "organizations",
        "Which Entra tenants may sign in: `organizations` (any work account), or your tenant's id or domain.",
    ),
    Variable(
        "MICROSOFT_AUTHORITY",
        "https://login.microsoftonline.com",
        "Discovery at `{authority}/{tenant}/v2.0/.well-known/openid-configuration`.",
    ),
    Variable("GMAIL_API_URL", "https://gmail.googleapis.com", "Where the Gmail API is reached (reps' mail sent as them)."),
    Variable("GRAPH_API_URL", "https://graph.microsoft.com", "Where Microsoft Graph is reached (reps' mail sent as them)."),
    Variable("GEOIP_DB", "(the bundled GeoLite2 City)", "Path to a MaxMind `.mmdb` city database for locations."),
    Variable("VAR_DIR", "var", "Where the SQLite database and the generated secret key live."),
    Variable(
        "HEARTBEAT_SECONDS", "15", "How often idle live streams get a keep-alive comment (keeps proxies from closing them)."
    ),
    Variable(
        "STREAM_QUEUE_SIZE",
        "256",
        "Frames buffered per open stream; a stream that falls this far behind is cut off and resumes by event id.",
    ),
    Variable("TARGET_CACHE_SECONDS", "30", "The most a cached Target list can lag behind changes no signal covers."),
    Variable(
        "MAX_BODY_BYTES",
        "6291456 (6 MiB)",
        "The largest request body the API and pages read (413 beyond, before "
        "anything reads it). The tracking beacon and the Marketo webhook have smaller limits of their own.",
    ),
    Variable("DEMO", "(off)", "`1` runs the demo simulator (what `serve --demo` sets)."),
)


def configuration_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "LiveFeed reads its settings from `LIVEFEED_*` environment variables; a bad value stops it",
        "with a message naming the variable. This page is generated from `src/livefeed/settings.py`",
        "(`livefeed config-docs > docs/configuration.md`).",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{PREFIX}{v.name}` | {v.default} | {v.meaning} |" for v in VARIABLES]
    lines += [
        "",
        "Per-workspace settings (website origins, IP anonymisation, Target tiers) and credentials (mailboxes,",
        "Marketo, Salesforce) are set in the web app's Settings page or through the API, not here.",
        "",
    ]
    return "\n".join(lines)


def from_env(env: dict | None = None, **overrides) -> Settings:
    """Build Settings from the environment; raise SettingsError naming any bad value."""
    env = dict(os.environ if env is None else env)
    var_dir = Path(env.get(PREFIX + "VAR_DIR") or DEFAULT_VAR_DIR)
    default_db = f"sqlite:///{var_dir / 'livefeed.db'}"
    geoip = env.get(PREFIX + "GEOIP_DB") or None
    if geoip and not Path(geoip).is_file():
        raise SettingsError(f"{PREFIX}GEOIP_DB: no file at {geoip!r}")
    values: dict[str, Any] = dict(
        database_url=_check_database_url(env.get(PREFIX + "DATABASE_URL") or default_db),
        public_url=_check_public_url(env.get(PREFIX + "PUBLIC_URL") or "http://127.0.0.1:8000"),
        secret_key=_load_secret(env.get(PREFIX + "SECRET_KEY"), var_dir),
        smtp_url=_check_smtp_url(env.get(PREFIX + "SMTP_URL")),
        trusted_proxies=parse_networks(env.get(PREFIX + "TRUSTED_PROXIES", ""), name=PREFIX + "TRUSTED_PROXIES"),
        geoip_db=geoip,
        var_dir=var_dir,
        heartbeat_seconds=_number(env, "HEARTBEAT_SECONDS", 15.0, minimum=0.05),
        stream_queue_size=int(_number(env, "STREAM_QUEUE_SIZE", 256, minimum=1)),
        target_cache_seconds=_number(env, "TARGET_CACHE_SECONDS", 30.0, minimum=0),
        demo=env.get(PREFIX + "DEMO", "") in ("1", "true", "yes"),
        outbound_allow=_allowlist(env.get(PREFIX + "OUTBOUND_ALLOW", "")),
        extension_ids=_extension_ids(env.get(PREFIX + "EXTENSION_IDS", "")),
        gmail_api_url=_url(env.get(PREFIX + "GMAIL_API_URL"), "https://gmail.googleapis.com", name="GMAIL_API_URL"),
        graph_api_url=_url(env.get(PREFIX + "GRAPH_API_URL"), "https://graph.microsoft.com", name="GRAPH_API_URL"),
        google=_oidc(
            env.get(PREFIX + "GOOGLE_CLIENT_ID"),
            env.get(PREFIX + "GOOGLE_CLIENT_SECRET"),
            name="GOOGLE",
            discovery=_url(env.get(PREFIX + "GOOGLE_ISSUER"), "https://accounts.google.com", name="GOOGLE_ISSUER")
            + "/.well-known/openid-configuration",
        ),
        microsoft=_oidc(
            env.get(PREFIX + "MICROSOFT_CLIENT_ID"),
            env.get(PREFIX + "MICROSOFT_CLIENT_SECRET"),
            name="MICROSOFT",
            discovery=_url(
                env.get(PREFIX + "MICROSOFT_AUTHORITY"), "https://login.microsoftonline.com", name="MICROSOFT_AUTHORITY"
            )
            + "/"
            + (env.get(PREFIX + "MICROSOFT_TENANT") or "organizations")
            + "/v2.0/.well-known/openid-configuration",
        ),
        max_body_bytes=int(_number(env, "MAX_BODY_BYTES", 6 * 1024 * 1024, minimum=64 * 1024)),
    )
    values.update(overrides)
    return Settings(**values)
