"""Which address a request came from, trusting X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str | None) -> Address | None:
    """Parse an address, tolerating a port or IPv6 brackets; None when it is not one."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


@lru_cache(maxsize=8192)
def client_ip_text(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str | None:
    """`client_ip` as text, remembered too: the tracking edge stores the text of every hit's
    address, and writing an address out costs as much again as finding it in `client_ip`'s cache."""
    address = client_ip(peer, forwarded_for, trusted)
    return str(address) if address is not None else None


@lru_cache(maxsize=65536)  # the same peers and chains recur; parsing addresses costs ≈ 15 µs
def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> Address | None:
    """The socket peer, or the right-most untrusted X-Forwarded-For entry behind a trusted peer."""
    address = parse_ip(peer)
    if not forwarded_for or not is_trusted(address, trusted):
        return address
    for entry in reversed(forwarded_for.split(",")):
        hop = parse_ip(entry)
        if hop is None:
            return address  # a malformed hop: stop trusting the chain here
        if not is_trusted(hop, trusted):
            return hop
        address = hop
    return address


def is_public(address: Address | None) -> bool:
    """True for globally routable addresses (no location for private, loopback, reserved)."""
    return address is not None and address.is_global
