"""The hot path's storage: batched reads and the multi-row event insert, in plain SQL.

SQLAlchemy Core costs ≈ 50 µs per executed statement and, on SQLite, runs `INSERT … RETURNING`
row by row to keep ids in order; the tracking path writes thousands of hits a second, so the
writer speaks the driver's SQL directly here (one statement per step per batch) and assigns event
ids itself while it holds the write lock. Every other query goes through SQLAlchemy Core.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection

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
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({EVENT_ID_LOCK})")

    def links(self, conn: Connection, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        """link id → (recipient id, url)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        where, params = self._in("id", ids)
        rows = conn.exec_driver_sql(f"SELECT id, recipient_id, url FROM links WHERE {where}", params)
        return {row[0]: (row[1], row[2]) for row in rows}

    def contexts(self, conn: Connection, ids: Iterable[int]) -> dict[int, dict]:
        """recipient id → what a hit on that copy needs (email, rep, person, forward state)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        where, params = self._in("r.id", ids)
        rows = conn.exec_driver_sql(
            "SELECT r.id, r.email_id, r.person_id, r.forward_state, e.workspace_id, e.user_id, COALESCE(r.subject, e.subject), e.sent_at, "
            "e.archived, p.email, p.name, p.do_not_track, e.shared_with FROM recipients r JOIN emails e ON e.id = r.email_id "
            f"JOIN people p ON p.id = r.person_id WHERE {where}",
            params,
        )
        contexts = {}
        for row in rows:
            context = dict(zip(CONTEXT_COLUMNS, row))
            context["forward_state"] = self._json(context["forward_state"])
            context["sent_at"] = self._time(context["sent_at"])
            context["archived"] = bool(context["archived"])
            context["do_not_track"] = bool(context["do_not_track"])
            contexts[context["id"]] = context
        return contexts

    def rep_addresses(self, conn: Connection, ips: Iterable[str]) -> set[tuple[int, str]]:
        """(user id, ip) pairs: which of these addresses reps sign in from."""
        ips = sorted(set(ips))
        if not ips:
            return set()
        where, params = self._in("ip", ips)
        rows = conn.exec_driver_sql(f"SELECT user_id, ip FROM user_ips WHERE {where}", params)
        return {(row[0], row[1]) for row in rows}

    def append(self, conn: Connection, rows: list[dict]) -> list[int]:
        """Insert the events (in order) and return their ids, consecutive and increasing."""
        first = (conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM events").scalar() or 0) + 1
        ids = list(range(first, first + len(rows)))
        params = []
        for event_id, row in zip(ids, rows):
            values: list = [event_id]
            values += [row[name] for name in EVENT_COLUMNS[1:-1]]
            values.append(row.get("visit_id"))
            values[AT] = self._store_time(row["at"])
            params.append(tuple(values))
        conn.exec_driver_sql(self._insert, params)  # psycopg: one pipelined round trip for them all
        return ids

    def notify(self, conn: Connection, notices: list[tuple[str, str]]) -> None:
        """(channel, payload) pairs, sent by PostgreSQL when this transaction commits."""
        for channel, payload in notices:
            conn.exec_driver_sql(f"SELECT pg_notify({self._mark}, {self._mark})", (channel, payload))

    def save_forward_states(self, conn: Connection, states: dict[int, dict]) -> None:
        if states:
            conn.exec_driver_sql(self._save_forward, [(self._store_json(state), rid) for rid, state in states.items()])

    def revise(self, conn: Connection, verdicts: list[tuple[str, str, int]]) -> None:
        """(cls, reason, event id) triples: a burst's earlier clicks become scanner hits."""
        if verdicts:
            conn.exec_driver_sql(self._revise, verdicts)

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
