"""Classify a tracking hit as human, proxy, machine, scanner or self — always with a reason.

Rules are an ordered table, first match wins (the pattern of Sentry Relay's bot filters). Each rule
is a predicate over `Facts` and a reason. Classification labels a hit; it never drops one: a real
open must never be lost to a filter (Mautic once dropped every Gmail open that way).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from .model import CLICK, HUMAN, MACHINE, OPEN, PROXY, SCANNER, SELF, Agent, Verdict

# The user agent Gmail's prefetcher sends seconds after delivery (bird.com, gmass.co write-ups).
GMAIL_PREFETCH_MARKERS = ("Chrome/42.0.2311.135", "Edge/12.246")
# Apple Mail Privacy Protection fetches with exactly this (uap-core issue 509, ClickDimensions).
APPLE_MPP_UA = "Mozilla/5.0"
# 3 distinct links within 2 s: the common security-gateway rule (Mautic, Salesloft write-ups).
BURST_LINKS, BURST_WINDOW = 3, timedelta(seconds=2)
# After a burst, the same IP and user agent stay "scanner" for a while: gateways re-check links.
QUARANTINE = timedelta(minutes=10)
# A link checker asks for a link's headers (HEAD) and then fetches it (GET); a browser following a
# link never sends HEAD. A GET this soon after a HEAD of the same link from the same client is a checker.
HEAD_THEN_GET = timedelta(seconds=30)
# Hits this soon after sending are suspicious — a signal that combines, never a verdict alone.
EARLY = timedelta(seconds=10)
# A click from a cloud provider's network (Azure, AWS, Google Cloud: where gateways run their
# detonation browsers, and also where some people's virtual desktops live) on a link of a copy a
# scanner fetched this recently is the gateway's re-check, not the reader.
RECHECK = timedelta(minutes=30)
# Browsers send Accept-Language with every navigation (Fetch standard; RFC 9110 §12.5.4): a click
# whose user agent names one of these browsers but which carries none was sent by a script.
BROWSERS = ("Chrome", "Firefox", "Edge", "Safari", "Mobile Safari", "Opera", "Samsung Internet")

# Networks whose fetches are not a person (Apple's, Microsoft's Exchange Online Protection, the
# vendors an operator adds) are data: livefeed/data/networks.csv and `livefeed networks update`
# (core/networks.py). The shell looks the address up and passes the (class, label) in `Facts.network`.
# Apple Mail Privacy Protection through iCloud Private Relay: a WebKit-only user agent (no browser
# named) from Apple's published egress ranges; real Safari names itself ("Version/… Safari/…").
WEBKIT_ONLY = re.compile(r"^Mozilla/5\.0 \([^)]*\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\)$")
# What the feed shows instead of the fetcher's own place (Mountain View, Cupertino).
HIDDEN_BY_GMAIL, HIDDEN_BY_YAHOO, HIDDEN_BY_APPLE = (f"Location hidden by {who}" for who in ("Gmail", "Yahoo", "Apple"))
HIDDEN_BY_MACHINE = "Location hidden (fetched by a machine)"

# Security gateways whose user agents are not in Crawler-Detect's list.
# Desktop mail clients as ua-parser names them: a person reading mail, whatever else matches.
# Crawler-Detect lists some mail clients as bots: Outlook for Mac ("MacOutlook/16.12.0.180401 (Intelx64
# Mac OS X Version 10.12.6 (build 16G29))", uap-core PR 320), and Office's own user agent.
MAIL_CLIENTS = ("Outlook", "MacOutlook", "Thunderbird", "Apple Mail")
# Webmail image proxies that name themselves ("Mozilla/5.0 SeznamEmailProxy/2.0.174": Seznam.cz,
# device-detector issue 5668, browscap issue 1640): a real open, the reader's place hidden.
WEBMAIL_PROXY = re.compile(r"\b([A-Z][A-Za-z.]*?(?:Email|Mail|Image)Proxy)\b")
SCANNER_MARKERS = ("Barracuda", "Mimecast", "Proofpoint", "Symantec", "SafeLinks", "urldefense", "Trend Micro")
_MARKERS_LOWER = tuple(marker.lower() for marker in SCANNER_MARKERS)


@dataclass(frozen=True)
class Facts:
    """Everything classification looks at, gathered by the shell."""

    kind: str
    agent: Agent
    ip: str | None
    since_send: timedelta | None
    rep_cookie: bool = False
    rep_ip: bool = False
    burst: bool = False
    quarantined: bool = False
    headed: bool = False  # the same client asked for this link with HEAD just before
    network: tuple[str, str] | None = None  # (class, label) of a known non-human network the address is in
    languages: bool = True  # the request carried Accept-Language, as every browser's does
    recheck: bool = False  # a scanner fetched a link of this copy within RECHECK


def _early(f: Facts) -> bool:
    return f.since_send is not None and f.since_send < EARLY


def _secs(f: Facts) -> str:
    return f"{f.since_send.total_seconds():.0f} s" if f.since_send is not None else "?"


def _network_is(cls: str) -> Callable[[Facts], bool]:
    return lambda f: f.network is not None and f.network[0] == cls


def _label(f: Facts) -> str:
    """The known network's label (the rules below only ask once a network matched)."""
    return f.network[1] if f.network else ""


def _proxy_name(f: Facts) -> str:
    found = WEBMAIL_PROXY.search(f.agent.raw)
    return found.group(1) if found else "unnamed"


def _browser_without_headers(f: Facts) -> bool:
    """A click naming a mainstream browser without the Accept-Language every browser sends."""
    return f.kind == CLICK and not f.languages and f.agent.client.startswith(BROWSERS)


def _cloud_click(f: Facts) -> bool:
    return f.kind == CLICK and f.network is not None and f.network[0] == "cloud"


def _cloud_recheck(f: Facts) -> bool:
    return _cloud_click(f) and f.recheck


def _cloud_without_languages(f: Facts) -> bool:
    return _cloud_click(f) and not f.languages


def _scanner_marker(f: Facts) -> bool:
    raw = f.agent.raw.lower()
    return any(marker in raw for marker in _MARKERS_LOWER)


# (class, matches, reason, location note): the note replaces the fetcher's place when it hides the reader's.
Rule = tuple[str, Callable[[Facts], bool], Callable[[Facts], str], str | None]

RULES: tuple[Rule, ...] = (
    (SELF, lambda f: f.rep_cookie, lambda f: "Your own browser (signed-in rep cookie)", None),
    (SELF, lambda f: f.rep_ip, lambda f: f"An address you sign in from ({f.ip})", None),
    (
        PROXY,
        lambda f: "GoogleImageProxy" in f.agent.raw,
        lambda f: "Gmail image proxy: a real open, location hidden by Gmail",
        HIDDEN_BY_GMAIL,
    ),
    (
        PROXY,
        lambda f: "YahooMailProxy" in f.agent.raw,
        lambda f: "Yahoo Mail image proxy: a real open, location hidden by Yahoo",
        HIDDEN_BY_YAHOO,
    ),
    (
        PROXY,
        lambda f: WEBMAIL_PROXY.search(f.agent.raw) is not None,
        lambda f: f"Webmail image proxy ({_proxy_name(f)}): a real open, location hidden by the provider",
        "Location hidden by the webmail provider",
    ),
    (SCANNER, lambda f: f.burst, lambda f: f"{BURST_LINKS}+ links of this email clicked within {BURST_WINDOW.seconds} s", None),
    (SCANNER, lambda f: f.quarantined, lambda f: "Same address and browser as a link scanner seen minutes ago", None),
    (
        SCANNER,
        lambda f: f.headed,
        lambda f: "Checked the link with HEAD, then fetched it: a link checker's habit (browsers never send HEAD)",
        None,
    ),
    (SCANNER, _scanner_marker, lambda f: f"Security gateway ({f.agent.crawler or f.agent.raw[:60]})", None),
    (
        MACHINE,
        lambda f: all(m in f.agent.raw for m in GMAIL_PREFETCH_MARKERS),
        lambda f: "Gmail prefetch (fixed old Chrome/Edge user agent)",
        HIDDEN_BY_GMAIL,
    ),
    (
        MACHINE,
        lambda f: f.agent.raw.strip() == APPLE_MPP_UA,
        lambda f: "Apple Mail Privacy Protection prefetch: location hidden by Apple",
        HIDDEN_BY_APPLE,
    ),
    (
        MACHINE,
        lambda f: _network_is("relay")(f) and WEBKIT_ONLY.match(f.agent.raw.strip()) is not None,
        lambda f: f"Apple Mail Privacy Protection through iCloud Private Relay ({_label(f)})",
        HIDDEN_BY_APPLE,
    ),
    (MACHINE, _network_is(MACHINE), lambda f: _label(f), HIDDEN_BY_APPLE),  # Apple's /8 is the only machine network
    (SCANNER, _network_is(SCANNER), lambda f: _label(f), None),
    (
        SCANNER,
        _cloud_recheck,
        lambda f: f"Re-check from a cloud network ({_label(f)}) of an email a link scanner fetched minutes ago",
        None,
    ),
    (
        SCANNER,
        _cloud_without_languages,
        lambda f: f"Clicked from a cloud network ({_label(f)}) without a browser's Accept-Language",
        None,
    ),
    (
        SCANNER,
        _browser_without_headers,
        lambda f: f"Names a browser ({f.agent.client}) but sent no Accept-Language, which every browser sends",
        None,
    ),
    # Crawler-Detect lists "Microsoft Office" (Office's link checkers) — Outlook's own UA has it too.
    (HUMAN, lambda f: f.agent.client.startswith(MAIL_CLIENTS), lambda f: _human(f), None),
    (SCANNER, lambda f: f.agent.crawler is not None, lambda f: f"Bot or HTTP library ({f.agent.crawler})", None),
    (SCANNER, lambda f: not f.agent.raw.strip(), lambda f: "No user agent", None),
    (
        MACHINE,
        lambda f: f.kind == OPEN and _early(f) and not f.agent.client,
        lambda f: f"Opened {_secs(f)} after sending by an unrecognised client",
        HIDDEN_BY_MACHINE,
    ),
)


def classify(facts: Facts) -> Verdict:
    """The first matching rule's class and reason; otherwise a human, described."""
    if _early(facts):
        return _classify(facts)
    # Past the early window the time no longer matters: the same agent, address and flags
    # always give the same verdict, so it is remembered (≈ 35 µs saved a hit).
    return _classify_settled(
        facts.kind,
        facts.agent,
        facts.ip,
        facts.rep_cookie,
        facts.rep_ip,
        facts.burst,
        facts.quarantined,
        facts.network,
        facts.headed,
        facts.languages,
        facts.recheck,
    )


@lru_cache(maxsize=65536)
def _classify_settled(
    kind, agent, ip, rep_cookie, rep_ip, burst, quarantined, network, headed=False, languages=True, recheck=False
) -> Verdict:
    return _classify(
        Facts(
            kind=kind,
            agent=agent,
            ip=ip,
            since_send=None,
            rep_cookie=rep_cookie,
            rep_ip=rep_ip,
            burst=burst,
            quarantined=quarantined,
            network=network,
            headed=headed,
            languages=languages,
            recheck=recheck,
        )
    )


def _classify(facts: Facts) -> Verdict:
    for cls, matches, reason, location_note in RULES:
        if matches(facts):
            return Verdict(cls, reason(facts), location_note)
    return Verdict(HUMAN, _human(facts))


def _human(f: Facts) -> str:
    what = "Opened" if f.kind == OPEN else "Clicked"
    described = f.agent.label or "an unrecognised client"
    note = f" ({_secs(f)} after sending — fast, nothing else suggests a machine)" if _early(f) else ""
    return f"{what} in {described}{note}"


class ScannerWatch:
    """Notices link-scanning bursts per recipient copy and quarantines the scanner's IP and agent.

    In-process state fed with each click's own timestamp (never the wall clock).
    """

    def __init__(self, *, links: int = BURST_LINKS, window: timedelta = BURST_WINDOW, quarantine: timedelta = QUARANTINE):
        self._links, self._window, self._quarantine = links, window, quarantine
        self._recent: dict[int, deque[tuple[datetime, int, int, bool]]] = {}
        self._opens: dict[int, deque[tuple[datetime, str | None, str, int]]] = {}  # pixel fetches, to join a burst
        self._jailed: dict[tuple[str | None, str], datetime] = {}
        self._heads: dict[tuple[int, str | None, str], datetime] = {}  # (link, ip, agent) → when it was asked with HEAD
        self._scanned: dict[int, datetime] = {}  # copy → when a scanner last fetched one of its links

    def scanned(self, *, copy_id: int, at: datetime) -> None:
        """A scanner fetched a link of this copy: a cloud client's click on it soon after is a re-check."""
        self._scanned[copy_id] = max(at, self._scanned.get(copy_id, at))
        if len(self._scanned) > 10_000:
            for key in [k for k, seen in self._scanned.items() if at - seen > RECHECK]:
                del self._scanned[key]

    def rechecking(self, *, copy_id: int, at: datetime) -> bool:
        seen = self._scanned.get(copy_id)
        return seen is not None and timedelta(0) <= at - seen <= RECHECK

    def observe_head(self, *, link_id: int, ip: str | None, agent: str, at: datetime) -> None:
        """A HEAD request for a link (recorded nowhere else): a GET of it soon after is a checker's."""
        self._heads[(link_id, ip, agent)] = at
        if len(self._heads) > 10_000:
            for key in [k for k, seen in self._heads.items() if at - seen > HEAD_THEN_GET]:
                del self._heads[key]

    def headed(self, *, link_id: int, ip: str | None, agent: str, at: datetime) -> bool:
        seen = self._heads.get((link_id, ip, agent))
        return seen is not None and timedelta(0) <= at - seen <= HEAD_THEN_GET

    def is_quarantined(self, ip: str | None, agent: str, at: datetime) -> bool:
        until = self._jailed.get((ip, agent))
        if until is not None and at >= until:
            del self._jailed[(ip, agent)]
            return False
        return until is not None

    def observe_open(self, *, copy_id: int, event_id: int, ip: str | None, agent: str, at: datetime) -> None:
        """Record a pixel fetch: if a burst of this copy's links follows from the same client, it was the scanner too."""
        opens = self._opens.setdefault(copy_id, deque())
        while opens and at - opens[0][0] > self._window:
            opens.popleft()
        opens.append((at, ip, agent, event_id))

    def observe_click(
        self,
        *,
        copy_id: int,
        link_id: int,
        event_id: int,
        ip: str | None,
        agent: str,
        at: datetime,
        person: bool = False,
        scanner: bool = False,
    ) -> tuple[list[int], list[int]]:
        """Record a click; on a burst, the event ids of the burst's clicks and of the same client's
        pixel fetches of that copy in the window (else two empty lists). A click with a person's
        signs (`person`: a user gesture, our cookie from an earlier click) never joins a burst: a
        person clicking three links quickly stays a person. A click already a scanner by its own rule
        (`scanner`: its network, say) counts towards the burst but keeps its more telling reason."""
        if person:
            return [], []
        recent = self._recent.setdefault(copy_id, deque())
        while recent and at - recent[0][0] > self._window:
            recent.popleft()
        recent.append((at, link_id, event_id, scanner))
        if len({link for _, link, _, _ in recent}) < self._links:
            self._forget_old(at)
            return [], []
        self._jailed[(ip, agent)] = at + self._quarantine
        self.scanned(copy_id=copy_id, at=at)
        opens = [
            event
            for seen, o_ip, o_agent, event in self._opens.get(copy_id, ())
            if o_ip == ip and o_agent == agent and at - seen <= self._window
        ]
        return [event for _, _, event, settled in recent if not settled], opens

    def _forget_old(self, at: datetime) -> None:
        if len(self._recent) > 10_000:
            stale = [k for k, q in self._recent.items() if not q or at - q[-1][0] > self._window]
            for key in stale:
                del self._recent[key]
        if len(self._opens) > 10_000:
            for key in [k for k, q in self._opens.items() if not q or at - q[-1][0] > self._window]:
                del self._opens[key]
