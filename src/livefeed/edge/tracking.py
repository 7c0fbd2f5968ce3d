"""Public tracking endpoints served ahead of FastAPI's routing (≈20 µs instead of ≈70 µs a request).

The live stream is routed here too (see web/stream.py for why).

GET /o/<token>.gif  always the 43-byte GIF with no-cache headers; a genuine token records an open.
GET /c/<token>      302 to the link's stored destination and a click; anything else a 404 page.
HEAD records nothing. The response goes out only after the hit is committed.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import datetime

from ..core import tokens, website
from ..core.model import CLICK, OPEN, Hit
from ..core.netaddr import client_ip_text
from ..core.tokens import CLICKED
from ..db.engine import database_unavailable
from ..web.auth import cookie_value
from ..web.stream import PATH as STREAM_PATH
from ..web.stream import FeedStream
from .beacon import BEACON_PATH, SCRIPT_PATH, Beacon, Sites
from .marketo_hook import PREFIX as HOOK_PREFIX
from .marketo_hook import MarketoHook

log = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
assert len(PIXEL) == 43
NO_CACHE = [
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
PIXEL_HEADERS = [(b"content-type", b"image/gif"), (b"content-length", b"43"), *NO_CACHE]
NOT_FOUND_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<p style='font:16px system-ui;margin:3em'>This link is not valid or has expired.</p>"
)
SELF_COOKIE = "lf_self"
MAX_UA = 500


RETRY_AFTER = (b"retry-after", b"5")
UNAVAILABLE_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Try again</title>"
    b"<p>This link is taking a moment. Please try again in a few seconds.</p>"
)


class TrackingFrontdoor:
    """ASGI middleware: answers /o/ and /c/ itself, hands everything else to `app`."""

    def __init__(self, app, *, runtime_getter: Callable, clock: Callable[[], datetime]):
        self.app, self._runtime, self._clock = app, runtime_getter, clock
        self._stream = FeedStream(runtime_getter)
        self._stream_cors = None
        self.marketo_hook = MarketoHook(runtime_getter)
        self.sites = Sites(runtime_getter)
        self.beacon = Beacon(runtime_getter, self.sites, clock)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/o/"):
                return await self._pixel(scope, send, path[3:])
            if path.startswith("/c/"):
                return await self._click(scope, send, path[3:])
            if path == STREAM_PATH:
                if not any(name == b"origin" for name, _ in scope["headers"]):
                    # not a cross-origin request: nothing for CORS to add (the stream is no-store),
                    # and its wrapper would sit in every frame's write for the stream's life
                    return await self._stream(scope, receive, send)
                if self._stream_cors is None:  # the extension reads the stream from its own origin
                    from ..web.extension import cors

                    self._stream_cors = cors(self._stream, self._runtime().settings)
                return await self._stream_cors(scope, receive, send)
            if path == BEACON_PATH:
                return await self.beacon(scope, receive, send)
            if path == SCRIPT_PATH and scope["method"] in ("GET", "HEAD"):
                return await self.beacon.script(scope, send)
            if path.startswith(HOOK_PREFIX):
                return await self.marketo_hook(scope, receive, send)
        await self.app(scope, receive, send)

    async def close(self) -> None:
        await self.marketo_hook.close()
        await self.beacon.close()

    def _hit(self, scope, kind: str, target_id: int) -> Hit:
        runtime = self._runtime()
        headers = dict(scope["headers"])  # lower-case names; repeats keep the last, fine here
        peer = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
        return Hit(
            kind=kind,
            target_id=target_id,
            at=self._clock(),
            ip=client_ip_text(peer[0] if peer else None, forwarded, runtime.settings.trusted_proxies),
            user_agent=headers.get(b"user-agent", b"").decode("latin-1")[:MAX_UA],
            rep_cookie=_self_cookie(runtime.signer, headers.get(b"cookie")),
            gesture=headers.get(b"sec-fetch-user") == b"?1",  # the browser says a person activated the link
            returning=_click_cookie(runtime.signer, headers.get(b"cookie"), self._clock()),
            languages=b"accept-language" in headers,
        )

    async def _pixel(self, scope, send, rest: str) -> None:
        if scope["method"] == "GET" and rest.endswith(".gif"):
            runtime = self._runtime()
            recipient_id = runtime.signer.verify(tokens.OPEN, rest[:-4])
            if recipient_id is not None:
                try:
                    await runtime.recorder.record_open(self._hit(scope, OPEN, recipient_id))
                except Exception as exc:  # neither the database nor the spool took it: not a 2xx, the image all the same
                    if not database_unavailable(exc):
                        log.exception("recording an open failed")
                    await send({"type": "http.response.start", "status": 503, "headers": [*PIXEL_HEADERS, RETRY_AFTER]})
                    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else PIXEL})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": PIXEL_HEADERS})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else PIXEL})

    async def _click(self, scope, send, token: str) -> None:
        runtime = self._runtime()
        link_id = runtime.signer.verify(tokens.CLICK, token)
        url = None
        if link_id is not None:
            if scope["method"] == "GET":
                try:
                    outcome = await runtime.recorder.record_click(self._hit(scope, CLICK, link_id))
                except Exception as exc:  # not stored and the destination unknown here: try again shortly
                    if not database_unavailable(exc):
                        log.exception("recording a click failed")
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 503,
                            "headers": [(b"content-type", b"text/html; charset=utf-8"), RETRY_AFTER, *NO_CACHE],
                        }
                    )
                    await send({"type": "http.response.body", "body": UNAVAILABLE_PAGE})
                    return
                url = outcome.url
                if url is not None and outcome.person_id is not None:
                    url = await self._identify(runtime, url, outcome)
            elif scope["method"] == "HEAD":
                runtime.recorder.saw_head(self._hit(scope, CLICK, link_id))  # a checker's first step: nothing recorded
                url = await runtime.link_url(link_id)
        if url is None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"), *NO_CACHE],
                }
            )
            await send({"type": "http.response.body", "body": NOT_FOUND_PAGE})
            return
        headers = [(b"location", url.encode("utf-8")), (b"content-length", b"0"), (b"referrer-policy", b"no-referrer"), *NO_CACHE]
        if scope["method"] == "GET":  # a browser keeps it: its next click of ours is known for a person's
            headers.append((b"set-cookie", self._click_cookie_header(runtime)))
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _click_cookie_header(self, runtime) -> bytes:
        """When this browser clicked (not who: the same value for every click in that second)."""
        secure = "; Secure" if runtime.settings.secure_cookies else ""
        stamp = runtime.signer.sign(CLICKED, int(self._clock().timestamp()))
        return f"{CLICK_COOKIE}={stamp}; Path=/c/; Max-Age=2592000; HttpOnly; SameSite=Lax{secure}".encode()

    async def _identify(self, runtime, url: str, outcome) -> str:
        """A click to the company's own site carries who clicked (signed, expiring) for /w.js;
        other destinations get nothing (the token is not theirs to see)."""
        site = await self.sites.by_workspace(outcome.workspace_id)
        if site is None or website.origin_of(url) not in site.origins:
            return url
        number = website.identity_number(outcome.person_id, self._clock() + website.IDENTITY_TTL)
        return website.add_param(url, runtime.signer.sign(website.IDENTIFY, number))


CLICK_COOKIE = "lf_c"
# Earlier means a separate moment: a scanner keeping cookies through its own burst (seconds) gains nothing.
EARLIER = 60


def _click_cookie(signer: tokens.TokenSigner, header: bytes | None, now: datetime) -> bool:
    value = cookie_value(header, CLICK_COOKIE) if header and CLICK_COOKIE.encode() in header else None
    stamp = signer.verify(CLICKED, value) if value else None
    return stamp is not None and now.timestamp() - stamp >= EARLIER


def _self_cookie(signer: tokens.TokenSigner, header: bytes | None) -> int | None:
    value = cookie_value(header, SELF_COOKIE)
    return signer.verify(b"s", value) if value else None
