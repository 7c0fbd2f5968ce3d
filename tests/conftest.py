"""Shared fixtures: a migrated SQLite database per test, an injected clock, a live server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from livefeed import actions
from livefeed.core.outbound import parse_allowlist
from livefeed.db import migrate
from livefeed.db.engine import make_engine
from livefeed.settings import Settings, parse_networks
from livefeed.web.app import create_app

SECRET = b"test-secret-key-0123456789abcdef-0123456789"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FIXTURES = Path(__file__).with_name("fixtures")


def require(condition: bool, reason: str) -> None:
    """Skip with a printed reason when a service is missing — or fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


class Clock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """Migrate once; each test copies the file (migrating per test costs ~0.2 s)."""
    path = tmp_path_factory.mktemp("template") / "livefeed.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


PG_ADMIN_URL = os.environ.get("LIVEFEED_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin():
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from livefeed.db.engine import sqlalchemy_url

    return create_engine(sqlalchemy_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template():
    """A migrated PostgreSQL template database, or None when PostgreSQL is not reachable."""
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        admin.dispose()
        return None, f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__})"
    name = f"lf_template_{os.getpid()}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = make_engine(_pg_url(name))
    migrate.upgrade(engine)
    engine.dispose()
    yield name, None
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def backend() -> str:
    """Which database a test runs on; storage test modules override this with both."""
    return "sqlite"


_pg_counter = iter(range(1_000_000))


@pytest.fixture
def database_url(backend, tmp_path, template_db, request):
    if backend == "sqlite":
        db = tmp_path / "livefeed.db"
        shutil.copy(template_db, db)
        yield f"sqlite:///{db}"
        return
    template, reason = request.getfixturevalue("pg_template")
    require(template is not None, reason or "")
    name = f"lf_test_{os.getpid()}_{next(_pg_counter)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        database_url=database_url,
        public_url="http://track.test",
        secret_key=SECRET,
        var_dir=tmp_path,
        trusted_proxies=parse_networks("127.0.0.1/32", name="test"),
        heartbeat_seconds=15.0,
        # The tests' mail servers (aiosmtpd, dovecot) listen on loopback, as an operator's
        # own servers would be allowlisted; tests of the policy itself take this away.
        outbound_allow=parse_allowlist("127.0.0.0/8, ::1"),
        outbound_timeout_seconds=2.0,
    )


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real uvicorn server on this test's event loop."""

    def __init__(self, settings: Settings, clock: Clock, *, port: int | None = None, services=None):
        self.port = port or free_port()
        self.settings = settings.with_(public_url=f"http://127.0.0.1:{self.port}")
        self.clock = clock
        self.asgi = create_app(self.settings, clock=clock, services=services)
        self.url = self.settings.public_url
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def runtime(self):
        return self.asgi.app.state.runtime

    async def start(self) -> LiveServer:
        config = uvicorn.Config(
            self.asgi,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # LiveFeed applies its own trusted-proxy rule
            timeout_graceful_shutdown=0.5,
        )  # open streams would hold shutdown forever
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            await self._task

    async def __aenter__(self) -> LiveServer:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def client(self, *, like_a_browser: bool = True, **kwargs) -> httpx.AsyncClient:
        """A client of this server. Like the browsers whose user agents the tests send, it sends
        Accept-Language (a click naming a browser without it is a script's); like_a_browser=False for a script."""
        headers = {"accept-language": "en-GB,en;q=0.9"} if like_a_browser else {}
        headers.update(kwargs.pop("headers", None) or {})
        return httpx.AsyncClient(base_url=self.url, timeout=10, headers=headers, **kwargs)


@pytest.fixture
async def server(settings, clock):
    started = await LiveServer(settings, clock).start()
    yield started
    await started.stop()


class Rep:
    def __init__(self, user_id: int, email: str, token: str, workspace_id: int):
        self.id, self.email, self.token, self.workspace_id = user_id, email, token, workspace_id

    @property
    def headers(self) -> dict:
        return {"authorization": f"Bearer {self.token}"}


def make_rep(
    engine, clock, email: str, *, workspace: str = "Acme", password: str | None = None, timezone: str = "Europe/London"
) -> Rep:
    user_id = actions.add_user(
        engine,
        email=email,
        name=email.split("@")[0].title(),
        timezone=timezone,
        workspace=workspace,
        password=password,
        now=clock(),
    )
    token = actions.create_token(engine, email=email, now=clock())
    with engine.connect() as conn:
        workspace_id = actions.find_user(conn, email)["workspace_id"]
    return Rep(user_id, email, token, workspace_id)


@pytest.fixture
def rep(engine, clock) -> Rep:
    return make_rep(engine, clock, "rita@seller.test", password="correct horse battery")


async def send(client: httpx.AsyncClient, rep: Rep, **body) -> dict:
    """Send an email through the API and return the 201 body."""
    body.setdefault("to", ["paul@prospect.test"])
    body.setdefault("subject", "Hello")
    body.setdefault("html", '<p>See <a href="https://example.com/deck">the deck</a></p>')
    response = await client.post("/api/v1/emails", json=body, headers=rep.headers)
    assert response.status_code == 201, response.text
    return response.json()


@contextlib.asynccontextmanager
async def ready_stream(client: httpx.AsyncClient, headers: dict, url: str = "/api/v1/feed/stream"):
    """An open feed stream whose replay is done (its `ready` frame read)."""
    async with client.stream("GET", url, headers=headers) as response:
        reader = SseReader(response)
        await reader.next_event("ready")
        yield reader


class SseReader:
    """Reads Server-Sent Events frames from an httpx streaming response."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = 5.0) -> dict:
        """The next frame as {"id", "event", "data", "comment"}; raises on timeout."""
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> dict:
        frame: dict = {}
        async for line in self._lines:
            if line == "":
                if frame:
                    return frame
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "":
                frame["comment"] = value
            else:
                frame[field] = value
        raise EOFError("stream closed")

    async def next_event(self, name: str = "hit", timeout: float = 5.0) -> dict:
        while True:
            frame = await self.next(timeout)
            if frame.get("event") == name:
                return frame


def pixel_path(signer, recipient_id: int) -> str:
    from livefeed.core import tokens

    return f"/o/{signer.sign(tokens.OPEN, recipient_id)}.gif"


def link_paths(engine, server, recipient_id: int) -> list[str]:
    """The tracked links' paths (/c/…) in one recipient's copy, in the order of the email."""
    from email import message_from_string, policy

    from sqlalchemy import select

    from livefeed.db.tables import outbox

    with engine.connect() as conn:
        raw = conn.execute(select(outbox.c.raw).where(outbox.c.recipient_id == recipient_id)).scalar()
    html = message_from_string(raw, policy=policy.default).get_body(("html",)).get_content()
    return [part.split('"')[0] for part in html.split(server.url)[1:] if part.startswith("/c/")]


# The fixtures the modules share live in tests/support/; imported here, every module has them.
from .support.browser import browser  # noqa: E402,F401
from .support.mail import dovecot, mail_server  # noqa: E402,F401
from .support.oidc import live, providers, setup  # noqa: E402,F401
from .support.vendors import vendors  # noqa: E402,F401
