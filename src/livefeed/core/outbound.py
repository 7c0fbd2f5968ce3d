"""Where the server may connect on a user's say-so: the decision, pure.

Reps and admins type host names and URLs (their IMAP and SMTP servers, a Marketo instance, a
tracking hostname) and the server then connects there. Without a policy, anyone holding a session
or an API token can make it reach hosts on its own network and read what answers (SSRF). The
rule, for every address a name resolves to (a name is judged by what it resolves to, so `127.1`,
`0`, `2130706433`, `0x7f000001` and `localhost` are all loopback):

- only globally routable addresses, unless the operator's allowlist (LIVEFEED_OUTBOUND_ALLOW:
  CIDRs and host names) permits the name or the address;
- only the ports of the protocol spoken, unless allowlisted;
- unencrypted connections only to allowlisted hosts.

The operator's own configuration (LIVEFEED_* URLs in the environment) is trusted and never
passes through here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The protocols' registered ports (IANA): IMAP 143 and IMAPS 993 (RFC 8314); SMTP submission 587,
# submissions 465 (RFC 8314), relay 25, and 2525, the alternative submission port many providers offer.
IMAP_PORTS = frozenset({143, 993})
SMTP_PORTS = frozenset({25, 465, 587, 2525})
HTTPS_PORTS = frozenset({443})

# IPv6 prefixes that carry an IPv4 address inside (NAT64 RFC 6052, 6to4 RFC 3056): judged by it.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Allowlist:
    """What the operator lets users reach beyond the public internet."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()  # exact names, lower case, no trailing dot

    def permits_name(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def permits_address(self, address: Address) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


def parse_allowlist(text: str) -> Allowlist:
    """`10.0.0.0/8, mail.internal, ::1` → Allowlist; ValueError naming a bad entry."""
    networks: list[Network] = []
    hosts: set[str] = set()
    for entry in (e.strip() for e in text.replace(";", ",").split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        if not _is_host_name(name):
            raise ValueError(f"{entry!r} is neither a network (10.0.0.0/8) nor a host name")
        hosts.add(name)
    return Allowlist(tuple(networks), frozenset(hosts))


def _is_host_name(name: str) -> bool:
    labels = name.split(".")
    return 0 < len(name) <= 253 and all(
        0 < len(label) <= 63
        and label.replace("-", "").isalnum()
        and label.isascii()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


def effective(address: Address) -> Address:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: Address) -> bool:
    """Globally routable: not loopback, private, link-local (169.254.169.254, the cloud metadata
    service), shared (100.64/10), multicast, reserved or unspecified."""
    inner = effective(address)
    return inner.is_global and not inner.is_multicast


@dataclass(frozen=True)
class Refusal:
    field: str  # the setting to change: host, port or security
    message: str


def refusal(
    host: str, port: int, addresses: Iterable[Address], *, ports: frozenset[int], plain: bool, allow: Allowlist
) -> Refusal | None:
    """Why connecting to `host`:`port`, which resolves to `addresses`, is not allowed; None when it is."""
    addresses = list(addresses)
    if not addresses:
        return Refusal("host", f"{host} has no address")
    named = allow.permits_name(host)
    for address in addresses:
        if not (named or allow.permits_address(address) or is_public(address)):
            return Refusal(
                "host",
                f"{host} is on a private, loopback or link-local network ({address}); "
                "the server's administrator can allow it with LIVEFEED_OUTBOUND_ALLOW",
            )
    trusted = named or all(allow.permits_address(a) for a in addresses)
    if port not in ports and not trusted:
        return Refusal("port", f"{port} is not a port of this protocol (use {', '.join(map(str, sorted(ports)))})")
    if plain and not trusted:
        return Refusal(
            "security",
            "unencrypted connections are allowed only to hosts the server's administrator "
            "lists in LIVEFEED_OUTBOUND_ALLOW: use TLS",
        )
    return None
