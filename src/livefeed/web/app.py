"""The ASGI application: tracking endpoints in front, FastAPI (API, stream, pages) behind."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import StatementError

from ..db.engine import database_unavailable
from ..db.sql import now_utc
from ..edge import graph_hook
from ..edge.tracking import TrackingFrontdoor
from ..integrations.services import Services, ServiceTiming
from ..runtime import Runtime
from ..settings import Settings
from . import extension, oauth, stream
from .api import connections as api_connections
from .api import connectors as api_connectors
from .api import feed as api
from .api import items as api_items
from .api import mailbox as api_mailbox
from .api import people as api_people
from .api import smtp as api_smtp
from .api import tasks as api_tasks
from .api import templates as api_templates
from .api import tokens as api_tokens
from .api import users as api_users
from .limits import BodyLimit
from .pages import app as pages
from .pages import people as people_pages
from .pages import saved_templates as template_pages

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")

# Added to every FastAPI response (the tracking paths set their own).
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",
}
# The outbox page frames the recipient's copy from the same origin; nothing else is framed.
PAGE_CSP = "default-src 'self'; img-src 'self' data:; frame-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'"


# With an https public URL, browsers are told to come back over https only (a year, RFC 6797).
HSTS = ("strict-transport-security", "max-age=31536000")


class Throttle:
    """At most one log line per `seconds` for a repeating condition; counts what it held back."""

    def __init__(self, seconds: float):
        self.seconds, self.count, self._last = seconds, 0, float("-inf")

    def due(self) -> int | None:
        """None while quiet; else how many times it happened since the last line (counting restarts)."""
        self.count += 1
        now = time.monotonic()
        if now - self._last < self.seconds:
            return None
        count, self.count, self._last = self.count, 0, now
        return count


class SecurityHeaders:
    """Pure ASGI middleware (BaseHTTPMiddleware would add a task group to every open stream)."""

    def __init__(self, app, https: bool = False):
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in [*SECURITY_HEADERS.items(), *([HSTS] if https else [])]]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in present]
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def from_environment():
    """The app as each `livefeed serve` worker builds it: settings from LIVEFEED_* variables."""
    from ..demo import start_demo
    from ..settings import from_env

    settings = from_env()

    async def on_start(runtime) -> None:
        if settings.demo:
            await start_demo(runtime)
        settle_memory()

    return create_app(settings, on_start=on_start)


def settle_memory() -> None:
    """Move what start-up built (the user-agent regexes, the GeoIP reader, SQLAlchemy's tables and
    compiled statements, the network table) out of the garbage collector's sight: the oldest
    generation's collections then scan only what serving allocates. Measured on SQLite at 1,000
    opens/s: generation-2 pauses of 37–76 ms, each holding up every hit in flight, were what made
    the open → stream p99 miss 5 ms (docs/benchmarks.md)."""
    import gc

    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = now_utc,
    on_start: Callable | None = None,
    services: ServiceTiming | None = None,
):
    """Build the app; the runtime (engine, hub, recorder…) is created in the lifespan, and the
    background services (mailbox watchers, scheduled syncs) with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime = await Runtime.start(settings, clock=clock)
        runtime.settings_listeners.append(lambda workspace_id: forget_workspace_settings())
        runtime.services = Services(runtime, timing=services)
        await runtime.services.start()
        app.state.runtime = runtime
        if on_start is not None:
            await on_start(runtime)
        try:
            yield
        finally:
            await app.state.frontdoor.close()
            await runtime.stop()

    app = FastAPI(
        title="LiveFeed", version="1", lifespan=lifespan, openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None
    )  # docs: pages.api_docs
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(api_people.router)
    app.include_router(api_tasks.router)
    app.include_router(api_items.router)
    app.include_router(api_mailbox.router)
    app.include_router(api_smtp.router)
    app.include_router(api_templates.router)
    app.include_router(api_connectors.router)
    app.include_router(api_users.router)
    app.include_router(api_tokens.router)
    app.include_router(api_connections.router)
    app.include_router(extension.api_router)
    app.include_router(extension.router)
    app.include_router(pages.router)
    app.include_router(oauth.router)
    app.include_router(graph_hook.router)
    app.include_router(people_pages.router)
    app.include_router(template_pages.router)

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, https=settings.secure_cookies)
    app.add_middleware(extension.cors, settings=settings)  # outermost: preflights answered before anything else

    @app.exception_handler(pages.SignInRequired)
    async def sign_in_required(request: Request, exc: pages.SignInRequired):
        # a page opened signed out (the Live Feed window, the extension's connect page) is where signing in returns
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return pages.to_signin(here if request.method == "GET" else None)

    @app.exception_handler(RecursionError)
    async def nested_too_deeply(request: Request, exc: RecursionError):
        # [[[[… in a JSON body: the parser gives up; the client sent something malformed
        return JSONResponse(
            {"detail": [{"loc": ["body"], "msg": "is nested too deeply", "type": "value_error"}]}, status_code=400
        )

    unavailable_log = Throttle(seconds=10.0)

    @app.exception_handler(OverflowError)
    async def number_out_of_range(request: Request, exc: OverflowError):
        # a number no column holds (an id past 64 bits in a form or body): bad input, never a 500
        return JSONResponse({"detail": "A number in the request is out of range"}, status_code=422)

    @app.exception_handler(StatementError)
    async def statement_error(request: Request, exc: StatementError):
        if isinstance(exc.orig, OverflowError):
            return await number_out_of_range(request, exc.orig)
        if database_unavailable(exc):  # restarting, unreachable, or its disk full: nothing was stored
            if (times := unavailable_log.due()) is not None:
                log.warning(
                    "database unavailable (%s): answered 503 %d time(s) since the last such line",
                    (exc.orig or exc).__class__.__name__,
                    times,
                )
            return JSONResponse(
                {"detail": "The database is unavailable; nothing was changed. Try again shortly."},
                status_code=503,
                headers={"retry-after": "5"},
            )
        raise exc

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema["paths"][stream.PATH] = stream.OPENAPI  # served as raw ASGI, documented here
            schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    frontdoor = TrackingFrontdoor(app, runtime_getter=lambda: app.state.runtime, clock=clock)

    def forget_workspace_settings() -> None:  # the webhook secret or the site origins changed here
        frontdoor.marketo_hook.forget()
        frontdoor.sites.forget()

    app.state.frontdoor = frontdoor
    return frontdoor
