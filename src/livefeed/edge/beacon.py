"""Website tracking endpoints (raw ASGI, ahead of FastAPI): GET /w.js and POST /w/b.

The beacon accepts page views only from the workspace's configured origins (CORS: the Origin is
checked and echoed, never `*`), records nothing for crawlers, and answers 204 after the commit.
The body is sent as text/plain by navigator.sendBeacon, so browsers send it without a preflight.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select

from ..actions.marketing import Batcher
from ..actions.website import View, record_views
from ..core import website
from ..core.model import Invalid
from ..core.netaddr import client_ip
from ..db.tables import workspaces
from .marketo_hook import read_body

log = logging.getLogger(__name__)
SCRIPT_PATH, BEACON_PATH = "/w.js", "/w/b"
SCRIPT = (Path(__file__).parent.parent / "web" / "static" / "w.js").read_bytes()
MAX_BODY = 8 * 1024
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Site:
    workspace_id: int
    origins: tuple[str, ...]
    anonymize_ips: bool
    honour_dnt: bool = True


class Sites:
    """Workspaces' website settings by site key and by id, cached a few seconds."""

    def __init__(self, runtime_getter: Callable, monotonic: Callable[[], float] = time.monotonic):
        self._runtime, self._monotonic = runtime_getter, monotonic
        self._cache: dict[object, tuple[float, Site | None]] = {}

    async def by_key(self, key: str) -> Site | None:
        if not key or len(key) > 64:
            return None
        return await self._get(("key", key))

    async def by_workspace(self, workspace_id: int) -> Site | None:
        return await self._get(("id", workspace_id))

    async def _get(self, cache_key: tuple[str, object]) -> Site | None:
        now = self._monotonic()
        cached = self._cache.get(cache_key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        rt = self._runtime()
        column = workspaces.c.site_key if cache_key[0] == "key" else workspaces.c.id

        def read():
            with rt.engine.connect() as conn:
                return conn.execute(
                    select(workspaces.c.id, workspaces.c.site_origins, workspaces.c.anonymize_ips, workspaces.c.honour_dnt).where(
                        column == cache_key[1]
                    )
                ).first()

        row = await asyncio.to_thread(read)
        site = Site(row.id, tuple(row.site_origins.split()), bool(row.anonymize_ips), bool(row.honour_dnt)) if row else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[cache_key] = (now, site)
        return site

    def forget(self) -> None:
        self._cache.clear()


class Beacon:
    def __init__(self, runtime_getter: Callable, sites: Sites, clock: Callable):
        self._runtime, self.sites, self._clock = runtime_getter, sites, clock
        self._batcher: Batcher | None = None

    async def script(self, scope, send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/javascript; charset=utf-8"),
                    (b"content-length", str(len(SCRIPT)).encode()),
                    (b"cache-control", b"public, max-age=3600"),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else SCRIPT})

    async def __call__(self, scope, receive, send) -> None:
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        key = query[2:] if query.startswith("s=") else ""
        site = await self.sites.by_key(key)
        allowed = site is not None and origin in site.origins
        cors = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")] if allowed else []
        if scope["method"] == "OPTIONS":
            return await _empty(
                send,
                204 if allowed else 403,
                cors
                + [
                    (b"access-control-allow-methods", b"POST"),
                    (b"access-control-allow-headers", b"content-type"),
                    (b"access-control-max-age", b"86400"),
                ]
                if allowed
                else [],
            )
        if scope["method"] != "POST":
            return await _empty(send, 405, [(b"allow", b"POST, OPTIONS")])
        if not allowed or site is None:
            return await _empty(send, 403)
        body = await read_body(receive, MAX_BODY)
        rt = self._runtime()
        agent = rt.agents.describe(headers.get(b"user-agent", b"").decode("latin-1")[:500])
        if agent.crawler or body is None:
            return await _empty(send, 204 if agent.crawler else 413, cors)
        try:
            page = website.read_beacon(body, list(site.origins))
        except Invalid as exc:
            return await _empty(
                send, 400, cors + [(b"x-livefeed-error", f"{exc.field}: {exc.message}"[:200].encode("ascii", "replace"))]
            )
        private = site.honour_dnt and (page.private or headers.get(b"dnt") == b"1" or headers.get(b"sec-gpc") == b"1")
        if private != page.private:
            page = website.PageView(page.visitor, page.url, page.title, page.referrer, page.identity, True)
        issued = None
        anonymous_private = page.private and not page.identity  # not recorded: nothing to issue either
        if (
            not anonymous_private
            and website.visitor_workspace(rt.signer.verify(website.VISITOR, page.visitor)) != site.workspace_id
        ):
            # not an id this server gave this site's visitor: a new one is issued (the page view, and
            # an identification it carries, go to it), so nobody records views as a visitor they chose
            issued = rt.signer.sign(website.VISITOR, website.visitor_number(site.workspace_id, secrets.randbits(64)))
            page = replace(page, visitor=issued)
        now = self._clock()
        person_id = website.read_identity(rt.signer.verify(website.IDENTIFY, page.identity), now) if page.identity else None
        peer = scope.get("client")
        address = client_ip(
            peer[0] if peer else None, headers.get(b"x-forwarded-for", b"").decode("latin-1") or None, rt.settings.trusted_proxies
        )
        ip = str(address) if address else None
        if site.anonymize_ips:
            ip = website.anonymize(ip)
        if self._batcher is None:
            self._batcher = Batcher(lambda views: record_views(rt, views), name="website beacon")
        try:
            await self._batcher.submit(View(site.workspace_id, page, person_id, ip, now))
        except Exception:
            log.exception("page view not recorded")
            return await _empty(send, 503, cors)
        if issued is not None:  # the script keeps it for the next page views
            return await _json(send, {"v": issued}, cors)
        await _empty(send, 204, cors)

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()


async def _json(send, body: dict, headers: list) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def _empty(send, status: int, headers: list | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0"), (b"cache-control", b"no-store"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": b""})
