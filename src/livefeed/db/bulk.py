"""Bulk writes for imports: COPY on PostgreSQL, driver-level executemany on SQLite.

Through SQLAlchemy Core a 100,000-row import spends most of its time building parameters (and,
on PostgreSQL, psycopg parses each huge multi-row VALUES statement anew); these paths send the
rows as they are. Values are written in the formats SQLAlchemy reads back (SQLite: naive UTC
"YYYY-MM-DD HH:MM:SS.ffffff").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Table


class Bulk:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    def new_ids(self, table: Table, count: int) -> list[int]:
        """PostgreSQL: reserve `count` ids from the table's sequence (to COPY rows with their id)."""
        sequence = f"{table.name}_id_seq"
        rows = self.conn.exec_driver_sql(f"SELECT nextval('{sequence}') FROM generate_series(1, %s)", (count,))
        return [row[0] for row in rows]

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[dict]) -> None:
        if not rows:
            return
        if self.postgres:
            self._copy(table.name, columns, rows)
            return
        marks = ", ".join("?" * len(columns))
        self.conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(_sqlite(row[c]) for c in columns) for row in rows],
        )

    def update(self, table: Table, columns: Sequence[str], rows: Sequence[dict], key: str = "id") -> None:
        """Set `columns` from each row, matched on `key`."""
        if not rows:
            return
        if self.postgres:
            temp = f"bulk_{table.name}"
            self.conn.exec_driver_sql(
                f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS SELECT {key}, {', '.join(columns)} FROM {table.name} WITH NO DATA"
            )
            self._copy(temp, [key, *columns], rows)
            sets = ", ".join(f"{c} = t.{c}" for c in columns)
            self.conn.exec_driver_sql(f"UPDATE {table.name} p SET {sets} FROM {temp} t WHERE p.{key} = t.{key}")
            self.conn.exec_driver_sql(f"DROP TABLE {temp}")
            return
        sets = ", ".join(f"{c} = ?" for c in columns)
        self.conn.exec_driver_sql(
            f"UPDATE {table.name} SET {sets} WHERE {key} = ?",
            [tuple(_sqlite(row[c]) for c in columns) + (row[key],) for row in rows],
        )

    def _copy(self, name: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
        driver = self.conn.connection.driver_connection
        assert driver is not None  # a live connection inside the transaction
        cursor = driver.cursor()
        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def _sqlite(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value
