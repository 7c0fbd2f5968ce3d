"""Website tracking, decided: allowed origins, page views, visits, identification, privacy.

/w.js on the company's site sends page views (URL, title, referrer, a first-party visitor id) to
the beacon. A tracked click to that site carries `lf_id`, a signed identification that expires;
the script sends it with the page view and the visitor becomes that person. Anonymous page views
from a browser that sends Do-Not-Track or Global Privacy Control are not recorded; a known
person's are (they came through the rep's email). A visit is the page views of one visitor with
less than VISIT_GAP between them: the feed shows one row per visit.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .model import Invalid, json_object
from .tokens import IDENTIFY, VISITOR  # noqa: F401 - website.IDENTIFY, website.VISITOR

PARAM = "lf_id"
IDENTITY_TTL = timedelta(days=7)
VISIT_GAP = timedelta(minutes=30)
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_URL, MAX_TITLE = 2000, 300
MAX_ORIGINS = 50


def check_origins(values: list[str]) -> list[str]:
    """Normalised origins ("https://www.example.com"); raise Invalid naming the bad one."""
    origins = []
    for value in values:
        origin = origin_of(value.strip())
        if origin is None or origin != value.strip().rstrip("/").lower():
            raise Invalid("site_origins", f"{value[:80]!r} is not an origin like https://www.example.com")
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise Invalid("site_origins", f"at most {MAX_ORIGINS} origins")
    return origins


def check_tracking_url(value: str) -> str:
    """The tracking links' base: an origin ("https://t.example.com"); raise Invalid otherwise."""
    origin = origin_of(value.strip())
    if origin is None or origin != value.strip().rstrip("/").lower():
        raise Invalid("tracking_url", f"{value[:80]!r} is not a base URL like https://t.example.com (no path)")
    return origin


def origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class PageView:
    visitor: str
    url: str
    title: str
    referrer: str
    identity: str | None  # the lf_id token, unverified
    private: bool  # the browser asked not to be tracked (DNT / GPC)


def read_beacon(body: bytes, origins: list[str]) -> PageView:
    """The beacon's JSON body; raise Invalid naming the bad field. The page must be on an
    allowed origin (the script runs there; anything else is somebody else's page)."""
    data = json_object(body)
    visitor = data.get("v")
    if not isinstance(visitor, str) or not VISITOR_ID.match(visitor):
        raise Invalid("v", "is not a visitor id")
    url = data.get("u")
    if not isinstance(url, str) or len(url) > MAX_URL or not _on_site(url, origins):
        raise Invalid("u", "is not a page of this site")
    title, referrer, identity = data.get("t") or "", data.get("r") or "", data.get("i")
    if not isinstance(title, str) or not isinstance(referrer, str):
        raise Invalid("t", "must be text")
    if identity is not None and not isinstance(identity, str):
        raise Invalid("i", "must be text")
    referrer = referrer[:MAX_URL] if referrer.startswith(("http://", "https://")) else ""
    return PageView(
        visitor,
        strip_param(url),
        " ".join(title.split())[:MAX_TITLE],
        referrer,
        identity[:100] if identity else None,
        bool(data.get("p")),
    )


def _on_site(url: str, origins: list[str]) -> bool:
    """Whether a page is on one of the origins (the common spelling first, then parsed)."""
    for origin in origins:
        if url.startswith(origin) and url[len(origin) : len(origin) + 1] in ("", "/", "?", "#"):
            return True
    return origin_of(url) in origins


def strip_param(url: str) -> str:
    """The page's URL without the identification parameter (it is not part of the page)."""
    if PARAM + "=" not in url:
        return url
    parts = urlsplit(url)
    if PARAM not in parts.query:
        return url
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != PARAM])
    return urlunsplit(parts._replace(query=query))


def add_param(url: str, token: str) -> str:
    """A destination with the identification parameter added (before any #fragment)."""
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + f"{PARAM}={token}"
    return urlunsplit(parts._replace(query=query))


def visitor_number(workspace_id: int, nonce: int) -> int:
    """What a visitor id signs: its workspace and 64 random bits. The server hands it out, so a
    browser cannot choose an id (a known person's) nor carry one from another company's site."""
    return (workspace_id << 64) | (nonce & (2**64 - 1))


def visitor_workspace(number: int | None) -> int | None:
    return None if number is None else number >> 64


def identity_number(person_id: int, expires: datetime) -> int:
    """What the identification token signs: the person and the minute it expires."""
    return (person_id << 32) | int(expires.timestamp() // 60)


def read_identity(number: int | None, now: datetime) -> int | None:
    """The person an identification names, if it has not expired."""
    if number is None:
        return None
    if (number & 0xFFFFFFFF) * 60 < now.timestamp():
        return None
    return number >> 32


def anonymize(ip: str | None) -> str | None:
    """Keep the network: /24 of IPv4, /48 of IPv6 (as analytics tools do)."""
    if not ip:
        return None
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def same_visit(previous: datetime | None, at: datetime) -> bool:
    return previous is not None and timedelta(0) <= at - previous < VISIT_GAP
