"""Shared helpers for the benchmarks: a prepared database, servers as subprocesses, statistics."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "bench-secret-key-0123456789abcdef-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(values):
    return statistics.median(values)


class Workspace:
    """A temporary var dir with a migrated SQLite database, reps and sent emails."""

    def __init__(self, database_url: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="livefeed-bench-"))
        self.database_url = database_url or f"sqlite:///{self.dir / 'livefeed.db'}"
        self.env = {
            **os.environ,
            "LIVEFEED_VAR_DIR": str(self.dir),
            "LIVEFEED_DATABASE_URL": self.database_url,
            "LIVEFEED_SECRET_KEY": SECRET,
        }

    def prepare(self, *, reps: int, recipients_per_rep: int, links: int = 1) -> dict:
        """Create reps with tokens and one email each; return their tokens and tracking paths."""
        return asyncio.run(self._prepare(reps, recipients_per_rep, links))

    async def _prepare(self, reps, per_rep, links):
        sys.path.insert(0, str(ROOT / "src"))
        from sqlalchemy import insert, select

        from livefeed import actions
        from livefeed.core import tokens
        from livefeed.core.secrets import new_secret, secret_hash
        from livefeed.db import migrate
        from livefeed.db.engine import make_engine
        from livefeed.db.tables import api_tokens, now_utc, users
        from livefeed.db.tables import links as links_table
        from livefeed.runtime import Runtime
        from livefeed.settings import from_env

        settings = from_env(self.env, public_url="http://127.0.0.1")
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        now = now_utc()
        with engine.begin() as conn:
            workspace_id = actions.ensure_workspace(conn, "Bench", now=now)
            conn.execute(
                insert(users),
                [
                    {
                        "workspace_id": workspace_id,
                        "email": f"rep{n}@bench.test",
                        "name": f"Rep {n}",
                        "timezone": "UTC",
                        "created_at": now,
                    }
                    for n in range(reps)
                ],
            )
            rows = conn.execute(select(users).order_by(users.c.id)).mappings().all()
            secrets = [new_secret("lf_") for _ in rows]
            conn.execute(
                insert(api_tokens),
                [{"user_id": r["id"], "token_hash": secret_hash(s), "created_at": now} for r, s in zip(rows, secrets)],
            )
        runtime = await Runtime.start(settings, engine=engine)
        html = "".join(f'<a href="https://example.com/{n}">link {n}</a>' for n in range(links))
        opens, clicks, person_ids = [], [], []
        for user, _token in zip(rows, secrets):
            draft = actions.validate_draft(
                to=[f"p{user['id']}x{n}@prospect.test" for n in range(per_rep)], cc=[], subject="Bench", html=html, text=None
            )
            sent = await runtime.sender.send_email(user, draft)
            for recipient in sent.recipients:
                opens.append(f"/o/{runtime.signer.sign(tokens.OPEN, recipient['recipient_id'])}.gif")
                person_ids.append(recipient["person_id"])
        with engine.connect() as conn:
            for link_id in conn.execute(select(links_table.c.id)).scalars():
                clicks.append(f"/c/{runtime.signer.sign(tokens.CLICK, link_id)}")
        await runtime.stop()
        return {
            "tokens": secrets,
            "user_ids": [r["id"] for r in rows],
            "opens": opens,
            "clicks": clicks,
            "person_ids": person_ids,
        }

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


ADMIN_URL = os.environ.get("LIVEFEED_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_workspace(tag: str = "crash") -> Workspace:
    """A fresh PostgreSQL database beside the admin one; drop it with `drop_database`."""
    name = f"lf_bench_{tag}_{os.getpid()}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    return Workspace(ADMIN_URL.rsplit("/", 1)[0] + "/" + name)


def drop_database(workspace: Workspace) -> None:
    if workspace.database_url.startswith("postgresql"):
        _admin(f"DROP DATABASE IF EXISTS {workspace.database_url.rsplit('/', 1)[1]} WITH (FORCE)")


def _admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


class Process:
    """A server subprocess, stopped with SIGTERM (or SIGKILL when asked)."""

    def __init__(self, args: list[str], *, env: dict | None = None, port: int):
        self.port = port
        # The log goes to a file: an unread pipe fills at 64 KB and then blocks the server's logging.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        try:
            wait_port(port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"{args[0]} did not start: {self.output()[-2000:]}") from None

    def output(self) -> str:
        """What the server wrote to its log so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def livefeed_server(workspace: Workspace, port: int, *extra: str) -> Process:
    args = [
        str(Path(PYTHON).with_name("livefeed")),
        "serve",
        "--port",
        str(port),
        "--log-level",
        "info",
        "--no-access-log",
        *extra,
    ]
    return Process(args, env={**workspace.env, "LIVEFEED_PUBLIC_URL": f"http://127.0.0.1:{port}"}, port=port)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def cpu_seconds(pid: int) -> tuple[float, float]:
    """A process's user and system CPU time so far (/proc/<pid>/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class SseClient:
    """A minimal SSE client on a raw socket (httpx costs too much per connection at 10k)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, token: str, query: str = "") -> SseClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.write(
            f"GET /api/v1/feed/stream{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(head.decode(errors="replace"))
        client = cls(reader, writer)
        while (await client.frame()).get("event") != "ready":
            pass
        return client

    async def frame(self) -> dict:
        """The next SSE frame (chunked transfer encoding is undone line by line)."""
        frame: dict = {}
        while True:
            line = (await self.reader.readline()).rstrip(b"\r\n")
            if not line:
                if frame:
                    return frame
                continue
            if b":" not in line:  # a chunk-size line
                continue
            field, _, value = line.decode().partition(":")
            if field in ("id", "event", "data"):
                frame[field] = value.lstrip(" ")

    async def wait_for(self, marker: bytes) -> bool:
        """Read raw chunks until `marker` shows up (the lightest client for fan-out timing)."""
        seen = b""
        while marker not in seen:
            chunk = await self.reader.read(65536)
            if not chunk:
                return False
            seen = seen[-len(marker) :] + chunk
        return True

    def close(self) -> None:
        self.writer.close()


class SseWatcher(asyncio.Protocol):
    """An SSE stream as a bare protocol: no task and no stream reader per connection, so a client
    reading 10,000 sockets spends a callback, not a task switch, on each frame (fan-out timing).

    `await SseWatcher.open(port, token)` returns once the stream has said `ready`; then
    `arm(marker, tally)` makes the next frame holding `marker` count once in `tally`."""

    def __init__(self, request: bytes, ready: asyncio.Future):
        self._request, self._ready = request, ready
        self._seen = b""
        self._marker: bytes | None = None
        self._tally: Tally | None = None
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, port: int, token: str) -> SseWatcher:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        request = (
            f"GET /api/v1/feed/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: text/event-stream\r\n\r\n".encode()
        )
        _, protocol = await loop.create_connection(lambda: cls(request, ready), "127.0.0.1", port)
        await ready
        return protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if not self._ready.done():
            self._seen += data
            head = self._seen.split(b"\r\n", 1)[0]
            if b"\r\n\r\n" in self._seen and b" 200 " not in head:
                self._ready.set_exception(RuntimeError(head.decode(errors="replace")))
            elif b"event: ready" in self._seen:
                self._seen = b""
                self._ready.set_result(None)
            return
        if self._marker is None or self._tally is None:
            return
        seen = self._seen + data
        if self._marker in seen:
            tally, self._marker, self._tally, self._seen = self._tally, None, None, b""
            tally.count()
        else:
            self._seen = seen[-len(self._marker) :]

    def arm(self, marker: bytes, tally: Tally) -> None:
        self._marker, self._tally, self._seen = marker, tally, b""

    def connection_lost(self, exc) -> None:
        if not self._ready.done():
            self._ready.set_exception(ConnectionError("stream closed before ready"))
        elif self._tally is not None:
            self._tally.lost += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Tally:
    """Counts streams that received their frame; `done` resolves when all `expected` have."""

    def __init__(self, expected: int):
        self.expected, self.received, self.lost = expected, 0, 0
        self.times: list[float] = []
        self.done = asyncio.get_running_loop().create_future()

    def count(self) -> None:
        self.received += 1
        self.times.append(time.perf_counter())
        if self.received == self.expected and not self.done.done():
            self.done.set_result(None)


class HttpClient:
    """Keep-alive GETs on a raw socket; returns the status code."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def get(self, path: str, headers: str = "") -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await self.reader.readexactly(length)
        return int(head.split(b" ", 2)[1])
