"""Create the database engine: SQLite in WAL mode with fsync on commit, or PostgreSQL via psycopg."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# 5 s: long enough to ride out another writer's group commit, short enough to fail visibly.
SQLITE_BUSY_MS = 5000
STATEMENT_TIMEOUT_MS = 15000


def sqlalchemy_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for LIVEFEED_DATABASE_URL; SQLite files get their directory created."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            private_file(Path(path))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000}, pool_size=8, max_overflow=16
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A statement that runs longer than this is a bug or a lock pile-up: fail it visibly.
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
    return create_engine(
        sqlalchemy_url(url),
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"options": options, "application_name": "livefeed"},
    )


def private_file(path: Path) -> None:
    """Create the database file (and a missing directory) readable by this user only: 0600 in
    0700. SQLite gives its -wal and -shm files the database file's mode. Existing files keep theirs."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: fsync the WAL on every commit, so an acknowledged hit survives a power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # No checkpoint inside a commit: an automatic checkpoint copies the WAL into the database and
    # fsyncs it while the committing writer waits (300 ms stalls measured). `checkpoint` runs it
    # in the background instead.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is away (down, restarting, unreachable, or its disk full) —
    something that passes — rather than a fault in what was asked of it."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def checkpoint(engine: Engine) -> None:
    """Copy the SQLite WAL into the database without blocking writers (PASSIVE)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
