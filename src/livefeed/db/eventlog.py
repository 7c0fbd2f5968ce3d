"""The hot path's storage: batched reads and the multi-row event insert, in plain SQL.

SQLAlchemy Core costs ≈ 50 µs per executed statement and, on SQLite, runs `INSERT … RETURNING`
row by row to keep ids in order; the tracking path writes thousands of hits a second, so the
writer speaks the driver's SQL directly here (one statement per step per batch) and assigns event
ids itself while it holds the write lock. Every other query goes through SQLAlchemy Core.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from .sql import utc

EVENT_COLUMNS = (
    "id",
    "workspace_id",
    "user_id",
    "email_id",
    "recipient_id",
    "person_id",
    "link_id",
    "kind",
    "cls",
    "reason",
    "at",
    "ip",
    "user_agent",
    "client",
    "device",
    "city",
    "region",
    "country",
    "country_code",
    "radius_km",
    "location_note",
    "forwarded",
    "score_old",
    "score_new",
    "detail",
    "url",
    "idempotency_key",
    "visit_id",
)
AT = EVENT_COLUMNS.index("at")  # the one column stored as text on SQLite (see _store_time)
EVENT_ID_LOCK = 0x6C66_6576  # "lfev": the advisory lock under which event ids are assigned
CONTEXT_COLUMNS = (
    "id",
    "email_id",
    "person_id",
    "forward_state",
    "workspace_id",
    "user_id",
    "subject",
    "sent_at",
    "archived",
    "person_email",
    "person_name",
    "do_not_track",
    "shared_with",
)


@contextmanager
def _translated(conn: Connection) -> Iterator[None]:
    """psycopg's errors on its own cursor come out as SQLAlchemy's, as from any other statement
    (IntegrityError, OperationalError…); a broken connection is invalidated, so the pool drops it
    and `database_unavailable` sees it."""
    try:
        yield
    except DBAPIError:
        raise
    except Exception as exc:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            raise
        driver = conn.connection.dbapi_connection
        invalidated = bool(getattr(driver, "broken", False))
        if invalidated:
            conn.invalidate(exc)
        raise DBAPIError.instance(None, None, exc, psycopg.Error, connection_invalidated=invalidated) from exc


def event_row(**values) -> dict:
    """An event row with every column not given empty (the writers of person events use it)."""
    row = dict.fromkeys(EVENT_COLUMNS[1:])
    row.update(user_agent="", forwarded=False)
    row.update(values)
    return row


class EventLog:
    """Driver-level SQL for SQLite (qmark) and PostgreSQL (psycopg format) alike."""

    def __init__(self, dialect: str):
        self.sqlite = dialect == "sqlite"
        mark = "?" if self.sqlite else "%s"
        self._mark = mark
        self._insert = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join([mark] * len(EVENT_COLUMNS))})"
        self._save_forward = f"UPDATE recipients SET forward_state = {mark} WHERE id = {mark}"
        self._revise = f"UPDATE events SET cls = {mark}, reason = {mark} WHERE id = {mark}"

    def _in(self, column: str, values: Sequence) -> tuple[str, tuple]:
        """`column` is one of `values`: SQLite, a placeholder each; PostgreSQL, one array
        (`= ANY(%s)`), so the statement's text is the same for every batch and is prepared once."""
        if self.sqlite:
            return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)
        return f"{column} = ANY(%s)", (list(values),)

    def lock(self, conn: Connection) -> None:
        """Take the write lock before reading max(id), so ids are assigned by one writer at a time."""
        if self.sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # An advisory lock, not LOCK TABLE: a table lock of that strength also waits for
            # autovacuum, which yields only after deadlock_timeout (1 s stalls measured).
            self._run(conn, f"SELECT pg_advisory_xact_lock({EVENT_ID_LOCK})")

    def links(self, conn: Connection, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        """link id → (recipient id, url)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        where, params = self._in("id", ids)
        rows = conn.exec_driver_sql(f"SELECT id, recipient_id, url FROM links WHERE {where}", params)
        return {row[0]: (row[1], row[2]) for row in rows}

    def reads(self, conn: Connection, copies: Iterable[int], ips: Iterable[str]) -> tuple[dict[int, dict], set[tuple[int, str]]]:
        """The copies' contexts, and which of these addresses reps sign in from as (user id, ip)
        pairs. On PostgreSQL both queries go out together (psycopg's pipeline mode): one round
        trip instead of two."""
        copies, ips = sorted(set(copies)), sorted(set(ips))
        with self.pipelined(conn):
            found = self._contexts_query(conn, copies) if copies else None
            reps = self._rep_query(conn, ips) if ips else None
            contexts = self._contexts(found.fetchall()) if found is not None else {}
            return contexts, ({(row[0], row[1]) for row in reps.fetchall()} if reps is not None else set())

    def contexts(self, conn: Connection, ids: Iterable[int]) -> dict[int, dict]:
        """recipient id → what a hit on that copy needs (email, rep, person, forward state)."""
        ids = sorted(set(ids))
        return self._contexts(self._contexts_query(conn, ids).fetchall()) if ids else {}

    def _contexts_query(self, conn: Connection, ids: list[int]):
        where, params = self._in("r.id", ids)
        return self._run(
            conn,
            "SELECT r.id, r.email_id, r.person_id, r.forward_state, e.workspace_id, e.user_id, COALESCE(r.subject, e.subject), e.sent_at, "
            "e.archived, p.email, p.name, p.do_not_track, e.shared_with FROM recipients r JOIN emails e ON e.id = r.email_id "
            f"JOIN people p ON p.id = r.person_id WHERE {where}",
            params,
        )

    def _rep_query(self, conn: Connection, ips: list[str]):
        where, params = self._in("ip", ips)
        return self._run(conn, f"SELECT user_id, ip FROM user_ips WHERE {where}", params)

    def _contexts(self, rows) -> dict[int, dict]:
        contexts = {}
        for row in rows:
            context = dict(zip(CONTEXT_COLUMNS, row))
            context["forward_state"] = self._json(context["forward_state"])
            context["sent_at"] = self._time(context["sent_at"])
            context["archived"] = bool(context["archived"])
            context["do_not_track"] = bool(context["do_not_track"])
            contexts[context["id"]] = context
        return contexts

    def append(self, conn: Connection, rows: list[dict]) -> list[int]:
        """Insert the events (in order) and return their ids, consecutive and increasing."""
        first = (self._run(conn, "SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0] or 0) + 1
        ids = list(range(first, first + len(rows)))
        params = []
        for event_id, row in zip(ids, rows):
            values: list = [event_id]
            values += [row[name] for name in EVENT_COLUMNS[1:-1]]
            values.append(row.get("visit_id"))
            values[AT] = self._store_time(row["at"])
            params.append(tuple(values))
        self._run_many(conn, self._insert, params)  # psycopg pipelines the rows: one round trip for them all
        return ids

    def notify(self, conn: Connection, notices: list[tuple[str, str]]) -> None:
        """(channel, payload) pairs, sent by PostgreSQL when this transaction commits."""
        for channel, payload in notices:
            self._run(conn, f"SELECT pg_notify({self._mark}, {self._mark})", (channel, payload))

    def save_forward_states(self, conn: Connection, states: dict[int, dict]) -> None:
        if states:
            self._run_many(conn, self._save_forward, [(self._store_json(state), rid) for rid, state in states.items()])

    def revise(self, conn: Connection, verdicts: list[tuple[str, str, int]]) -> None:
        """(cls, reason, event id) triples: a burst's earlier clicks become scanner hits."""
        if verdicts:
            self._run_many(conn, self._revise, verdicts)

    # --- how statements run ----------------------------------------------------------------
    # SQLite: through SQLAlchemy's driver-level call. PostgreSQL: on psycopg's own cursor of the
    # same connection and transaction, so that inside `pipelined` a statement whose result is not
    # read waits for nothing: the batch's lock, insert, forward states and NOTIFYs go out together
    # and the writer waits once (measured: 9 round trips a batch became 4).

    @contextmanager
    def pipelined(self, conn: Connection) -> Iterator[None]:
        """PostgreSQL: the statements run inside share round trips (a read waits only for what was
        sent before it). SQLite: nothing changes."""
        if self.sqlite:
            yield
            return
        with _translated(conn), conn.connection.dbapi_connection.pipeline():  # type: ignore[union-attr]
            yield

    def _run(self, conn: Connection, sql: str, params: tuple = ()):
        if self.sqlite:
            return conn.exec_driver_sql(sql, params)
        with _translated(conn):
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(sql, params)
        return cursor

    def _run_many(self, conn: Connection, sql: str, params: list[tuple]) -> None:
        if self.sqlite:
            conn.exec_driver_sql(sql, params)
            return
        with _translated(conn):
            conn.connection.dbapi_connection.cursor().executemany(sql, params)  # type: ignore[union-attr]

    # SQLAlchemy's SQLite DateTime stores "YYYY-MM-DD HH:MM:SS.ffffff" (naive UTC) and JSON as
    # text; the same formats are written here so both paths read each other's rows.
    def _store_time(self, value: datetime):
        if self.sqlite:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def _time(self, value) -> datetime | None:
        return utc(value)

    def _json(self, value):
        return json.loads(value) if isinstance(value, str) else value

    def _store_json(self, value):
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)
