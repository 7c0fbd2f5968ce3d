"""Several `livefeed serve` processes on one PostgreSQL database behave as one service."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from livefeed.cli import app
from livefeed.core.tokens import TokenSigner

from .conftest import SECRET, SseReader, _pg_admin, _pg_url, free_port, make_rep, pixel_path, require, send

LIVEFEED = str(Path(sys.executable).with_name("livefeed"))
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@pytest.fixture
def backend() -> str:
    return "postgresql"


class Served:
    """`livefeed serve` as a child process."""

    def __init__(self, database_url: str, tmp_path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "LIVEFEED_DATABASE_URL": database_url,
            "LIVEFEED_SECRET_KEY": SECRET.decode(),
            "LIVEFEED_VAR_DIR": str(tmp_path),
            "LIVEFEED_PUBLIC_URL": self.url,
            "LIVEFEED_TRUSTED_PROXIES": "127.0.0.1/32",
        }
        self.proc = subprocess.Popen(
            [LIVEFEED, "serve", "--port", str(self.port), "--log-level", "warning", *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    async def wait(self) -> "Served":
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read().decode())
                try:
                    await client.get(self.url + "/api/v1/openapi.json")
                    return self
                except httpx.TransportError:
                    await asyncio.sleep(0.05)  # waiting for a child process to listen, not for time
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)


@pytest.fixture
def served(database_url, tmp_path):
    started = []

    async def start(*extra):
        server = Served(database_url, tmp_path, *extra)
        started.append(server)
        return await server.wait()

    yield start
    for server in started:
        server.stop()


SIGNER = TokenSigner(SECRET)


async def test_hit_recorded_by_one_node_reaches_a_stream_on_another(served, engine, clock):
    rep = make_rep(engine, clock, "rita@seller.test")
    a, b = await served(), await served()
    async with httpx.AsyncClient(timeout=10) as client:
        client.base_url = a.url
        sent = await send(client, rep)
        pixel = pixel_path(SIGNER, sent["recipients"][0]["recipient_id"])
        async with client.stream("GET", b.url + "/api/v1/feed/stream", headers=rep.headers) as response:
            reader = SseReader(response)
            await reader.next_event("ready")
            await client.get(a.url + pixel, headers={"user-agent": CHROME})
            first = int((await reader.next_event("hit"))["id"])
        for _ in range(3):  # while disconnected, hits land on B
            await client.get(b.url + pixel, headers={"user-agent": CHROME})
        seen = []
        async with client.stream(
            "GET", a.url + "/api/v1/feed/stream", headers={**rep.headers, "last-event-id": str(first)}
        ) as response:
            reader = SseReader(response)
            while (frame := await reader.next()).get("event") != "ready":
                if frame.get("event") == "hit":
                    seen.append(int(frame["id"]))
            await client.get(b.url + pixel, headers={"user-agent": CHROME})  # live, from the other node
            seen.append(int((await reader.next_event("hit"))["id"]))
    assert seen == [first + 1, first + 2, first + 3, first + 4]


async def test_workers_share_events(served, engine, clock):
    rep = make_rep(engine, clock, "rita@seller.test")
    server = await served("--workers", "2")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        sent = await send(client, rep)
        pixel = pixel_path(SIGNER, sent["recipients"][0]["recipient_id"])
        async with OpenStreams(client, rep, 6) as readers:
            for _ in range(4):
                await client.get(pixel, headers={"user-agent": CHROME})
            for reader in readers:
                ids = [int((await reader.next_event("hit"))["id"]) for _ in range(4)]
                assert ids == sorted(set(ids))


class OpenStreams:
    """Open n streams and wait until each is ready."""

    def __init__(self, client, rep, n):
        self.client, self.rep, self.n = client, rep, n
        self.contexts = []

    async def __aenter__(self):
        readers = []
        for _ in range(self.n):
            context = self.client.stream("GET", "/api/v1/feed/stream", headers=self.rep.headers)
            self.contexts.append(context)
            reader = SseReader(await context.__aenter__())
            await reader.next_event("ready")
            readers.append(reader)
        return readers

    async def __aexit__(self, *exc):
        for context in self.contexts:
            await context.__aexit__(None, None, None)


def test_serve_refuses_pending_migrations_on_postgresql(tmp_path, pg_template):
    require(pg_template[0] is not None, pg_template[1] or "")
    name = f"lf_empty_{os.getpid()}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        result = CliRunner().invoke(
            app, ["serve"], env={"LIVEFEED_DATABASE_URL": _pg_url(name), "LIVEFEED_VAR_DIR": str(tmp_path)}
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert result.exit_code == 2 and "livefeed migrate" in result.output


def test_workers_refused_on_sqlite(tmp_path):
    result = CliRunner().invoke(
        app,
        ["serve", "--workers", "2"],
        env={"LIVEFEED_VAR_DIR": str(tmp_path), "LIVEFEED_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert result.exit_code == 2 and "PostgreSQL" in result.output
