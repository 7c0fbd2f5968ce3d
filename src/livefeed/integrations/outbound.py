"""Connections to hosts that users name, through one policy (core/outbound.py decides).

`Outbound.connect` resolves the name, refuses it if any address is not allowed, and connects to a
vetted address itself, so the mail libraries talk over a socket to exactly the address that was
checked (a name cannot resolve to a public address for the check and to 127.0.0.1 for the
connection). Failures are said in our words — refused, timed out, certificate, authentication —
never with the far side's text, and a failed connection is answered only when the whole timeout
has passed, so an open port and a closed one look the same to the person asking.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from ..core.outbound import HTTPS_PORTS, Address, Allowlist, refusal

Resolver = Callable[[str, int], Awaitable[list[Address]]]


class OutboundError(Exception):
    """A connection was not allowed or failed; str() is said in our words, `field` names the setting."""

    def __init__(self, message: str, field: str = "host"):
        super().__init__(message)
        self.field = field


async def system_resolver(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (getaddrinfo: numeric forms such as 127.1 resolve too)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found: list[Address] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass
class Outbound:
    """The policy in force, with what it needs injected (tests give a resolver, a clock and a sleep)."""

    allow: Allowlist = field(default_factory=Allowlist)
    resolver: Resolver = system_resolver
    timeout: float = 10.0  # connect and greeting: the time every failed attempt takes
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] | None = None  # default: the event loop's monotonic time

    def now(self) -> float:
        return self.clock() if self.clock is not None else asyncio.get_running_loop().time()

    async def vet(self, host: str, port: int, *, ports: frozenset[int], plain: bool) -> list[Address]:
        """The addresses `host` may be reached at; OutboundError naming the setting otherwise."""
        addresses = await self.resolver(host.strip("[]"), port)  # an IPv6 literal may come bracketed
        if not addresses:
            raise OutboundError(f"{host} was not found (no such host name)")
        refused = refusal(host, port, addresses, ports=ports, plain=plain, allow=self.allow)
        if refused is not None:
            raise OutboundError(refused.message, refused.field)
        return addresses

    async def connect(self, host: str, port: int, *, ports: frozenset[int], plain: bool) -> tuple[socket.socket, float]:
        """A connected socket to a vetted address of `host`, and the deadline its greeting must meet."""
        addresses = await self.vet(host, port, ports=ports, plain=plain)
        started = self.now()
        deadline = started + self.timeout
        loop = asyncio.get_running_loop()
        timed_out = False
        for address in addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (str(address), port)), max(0.0, deadline - self.now()))
                return sock, deadline
            except TimeoutError:
                sock.close()
                timed_out = True
                break
            except OSError:
                sock.close()
        await self.until(deadline)
        raise OutboundError(
            f"cannot connect to {host}:{port}: " + ("the connection timed out" if timed_out else "the connection was refused")
        )

    async def until(self, deadline: float) -> None:
        """Wait out the rest of an attempt, so that failing fast tells nothing about the port."""
        remaining = deadline - self.now()
        if remaining > 0:
            await self.sleep(remaining)

    async def check_url(self, url: str) -> None:
        """An https URL a user gave (a connector, a tracking hostname) may be fetched: its host is
        public or allowlisted, on 443 unless allowlisted; http only to allowlisted hosts."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("https", "http") or not parsed.host:
            raise OutboundError(f"{url} is not an http(s) URL")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        await self.vet(parsed.host, port, ports=HTTPS_PORTS, plain=parsed.scheme == "http")

    def http_client(self, **options) -> httpx.AsyncClient:
        """An httpx client whose every request (redirects and vendor-supplied URLs such as Salesforce's
        instance_url included) is checked against the policy first."""
        return httpx.AsyncClient(transport=VettedTransport(self), trust_env=False, **options)


class VettedTransport(httpx.AsyncBaseTransport):
    """Checks each request's URL against the policy, then sends it with httpx's own transport."""

    def __init__(self, outbound: Outbound, inner: httpx.AsyncBaseTransport | None = None):
        self.outbound, self.inner = outbound, inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            await self.outbound.check_url(str(request.url))
        except OutboundError as exc:
            raise httpx.ConnectError(f"not allowed: {exc}", request=request) from None
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
