"""Classify a tracking hit as human, proxy, machine, scanner or self — always with a reason.

Rules are an ordered table, first match wins (the pattern of Sentry Relay's bot filters). Each rule
is a predicate over `Facts` and a reason. Classification labels a hit; it never drops one: a real
open must never be lost to a filter (Mautic once dropped every Gmail open that way).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from .model import HUMAN, MACHINE, OPEN, PROXY, SCANNER, SELF, Agent, Verdict

# The user agent Gmail's prefetcher sends seconds after delivery (bird.com, gmass.co write-ups).
GMAIL_PREFETCH_MARKERS = ("Chrome/42.0.2311.135", "Edge/12.246")
# Apple Mail Privacy Protection fetches with exactly this (uap-core issue 509, ClickDimensions).
APPLE_MPP_UA = "Mozilla/5.0"
# 3 distinct links within 2 s: the common security-gateway rule (Mautic, Salesloft write-ups).
BURST_LINKS, BURST_WINDOW = 3, timedelta(seconds=2)
# After a burst, the same IP and user agent stay "scanner" for a while: gateways re-check links.
QUARANTINE = timedelta(minutes=10)
# Hits this soon after sending are suspicious — a signal that combines, never a verdict alone.
EARLY = timedelta(seconds=10)

# Networks whose fetches are not a person. Sources: Apple's own /8 (ARIN: Apple Inc.); Microsoft
# Exchange Online Protection (learn.microsoft.com "Microsoft 365 URLs and IP address ranges", id 9).
# Google's proxy ranges are not listed: a GoogleImageProxy fetch is a real open.
KNOWN_NETWORKS: tuple[tuple[str, str, str], ...] = (
    ("17.0.0.0/8", MACHINE, "Apple network (Mail Privacy Protection relay)"),
    ("40.92.0.0/15", SCANNER, "Microsoft Exchange Online Protection (Safe Links)"),
    ("40.107.0.0/16", SCANNER, "Microsoft Exchange Online Protection (Safe Links)"),
    ("52.100.0.0/14", SCANNER, "Microsoft Exchange Online Protection (Safe Links)"),
    ("104.47.0.0/17", SCANNER, "Microsoft Exchange Online Protection (Safe Links)"),
)
_NETWORKS = tuple((ipaddress.ip_network(cidr), cls, why) for cidr, cls, why in KNOWN_NETWORKS)
# What the feed shows instead of the fetcher's own place (Mountain View, Cupertino).
HIDDEN_BY_GMAIL, HIDDEN_BY_YAHOO, HIDDEN_BY_APPLE = (f"Location hidden by {who}" for who in ("Gmail", "Yahoo", "Apple"))
HIDDEN_BY_MACHINE = "Location hidden (fetched by a machine)"

# Security gateways whose user agents are not in Crawler-Detect's list.
# Desktop mail clients as ua-parser names them: a person reading mail, whatever else matches.
MAIL_CLIENTS = ("Outlook", "Thunderbird", "Apple Mail")
SCANNER_MARKERS = ("Barracuda", "Mimecast", "Proofpoint", "Symantec", "SafeLinks", "urldefense", "Trend Micro")


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


@lru_cache(maxsize=65536)  # the same addresses recur (proxies, offices); parsing costs ≈ 20 µs
def network_of(ip: str | None) -> tuple[str, str] | None:
    """The (class, label) of a known non-human network the address is in, if any."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for network, cls, why in _NETWORKS:
        if address.version == network.version and address in network:
            return cls, why
    return None


def _early(f: Facts) -> bool:
    return f.since_send is not None and f.since_send < EARLY


def _secs(f: Facts) -> str:
    return f"{f.since_send.total_seconds():.0f} s" if f.since_send is not None else "?"


def _network_is(cls: str) -> Callable[[Facts], bool]:
    return lambda f: (n := network_of(f.ip)) is not None and n[0] == cls


def _scanner_marker(f: Facts) -> bool:
    return any(marker.lower() in f.agent.raw.lower() for marker in SCANNER_MARKERS)


# (class, matches, reason, location note): the note replaces the fetcher's place when it hides the reader's.
Rule = tuple[str, Callable[[Facts], bool], Callable[[Facts], str], str | None]

RULES: tuple[Rule, ...] = (
    (SELF, lambda f: f.rep_cookie, lambda f: "Your own browser (signed-in rep cookie)", None),
    (SELF, lambda f: f.rep_ip, lambda f: f"An address you sign in from ({f.ip})", None),
    (PROXY, lambda f: "GoogleImageProxy" in f.agent.raw, lambda f: "Gmail image proxy: a real open, location hidden by Gmail", HIDDEN_BY_GMAIL),
    (PROXY, lambda f: "YahooMailProxy" in f.agent.raw, lambda f: "Yahoo Mail image proxy: a real open, location hidden by Yahoo", HIDDEN_BY_YAHOO),
    (SCANNER, lambda f: f.burst, lambda f: f"{BURST_LINKS}+ links of this email clicked within {BURST_WINDOW.seconds} s", None),
    (SCANNER, lambda f: f.quarantined, lambda f: "Same address and browser as a link scanner seen minutes ago", None),
    (SCANNER, _scanner_marker, lambda f: f"Security gateway ({f.agent.crawler or f.agent.raw[:60]})", None),
    (MACHINE, lambda f: all(m in f.agent.raw for m in GMAIL_PREFETCH_MARKERS), lambda f: "Gmail prefetch (fixed old Chrome/Edge user agent)", HIDDEN_BY_GMAIL),
    (MACHINE, lambda f: f.agent.raw.strip() == APPLE_MPP_UA, lambda f: "Apple Mail Privacy Protection prefetch: location hidden by Apple", HIDDEN_BY_APPLE),
    (MACHINE, _network_is(MACHINE), lambda f: network_of(f.ip)[1], HIDDEN_BY_APPLE),  # Apple's /8 is the only machine network
    (SCANNER, _network_is(SCANNER), lambda f: network_of(f.ip)[1], None),
    # Crawler-Detect lists "Microsoft Office" (Office's link checkers) — Outlook's own UA has it too.
    (HUMAN, lambda f: f.agent.client.startswith(MAIL_CLIENTS), lambda f: _human(f), None),
    (SCANNER, lambda f: f.agent.crawler is not None, lambda f: f"Bot or HTTP library ({f.agent.crawler})", None),
    (SCANNER, lambda f: not f.agent.raw.strip(), lambda f: "No user agent", None),
    (MACHINE, lambda f: f.kind == OPEN and _early(f) and not f.agent.client,
     lambda f: f"Opened {_secs(f)} after sending by an unrecognised client", HIDDEN_BY_MACHINE),
)


def classify(facts: Facts) -> Verdict:
    """The first matching rule's class and reason; otherwise a human, described."""
    if _early(facts):
        return _classify(facts)
    # Past the early window the time no longer matters: the same agent, address and flags
    # always give the same verdict, so it is remembered (≈ 35 µs saved a hit).
    return _classify_settled(facts.kind, facts.agent, facts.ip, facts.rep_cookie, facts.rep_ip, facts.burst, facts.quarantined)


@lru_cache(maxsize=65536)
def _classify_settled(kind, agent, ip, rep_cookie, rep_ip, burst, quarantined) -> Verdict:
    return _classify(Facts(kind=kind, agent=agent, ip=ip, since_send=None, rep_cookie=rep_cookie, rep_ip=rep_ip,
                           burst=burst, quarantined=quarantined))


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
        self._recent: dict[int, deque[tuple[datetime, int, int]]] = {}
        self._jailed: dict[tuple[str | None, str], datetime] = {}

    def is_quarantined(self, ip: str | None, agent: str, at: datetime) -> bool:
        until = self._jailed.get((ip, agent))
        if until is not None and at >= until:
            del self._jailed[(ip, agent)]
            return False
        return until is not None

    def observe_click(self, *, copy_id: int, link_id: int, event_id: int, ip: str | None, agent: str, at: datetime) -> list[int]:
        """Record a click; on a burst return the event ids of the whole burst (else [])."""
        recent = self._recent.setdefault(copy_id, deque())
        while recent and at - recent[0][0] > self._window:
            recent.popleft()
        recent.append((at, link_id, event_id))
        if len({link for _, link, _ in recent}) < self._links:
            self._forget_old(at)
            return []
        self._jailed[(ip, agent)] = at + self._quarantine
        return [event for _, _, event in recent]

    def _forget_old(self, at: datetime) -> None:
        if len(self._recent) > 10_000:
            stale = [k for k, q in self._recent.items() if not q or at - q[-1][0] > self._window]
            for key in stale:
                del self._recent[key]
