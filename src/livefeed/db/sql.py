"""Dialect details the queries share, and the time helpers: stored times, LIKE patterns, now."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CursorResult


def utc(value) -> datetime | None:
    """A stored time as the driver gives it (SQLite: naive UTC text) → an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def now_utc() -> datetime:
    """The wall clock, aware and in UTC (the runtime's default clock; tests inject their own)."""
    return datetime.now(UTC)


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with ESCAPE '\\': its %, _ and \\ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def new_id(result: CursorResult) -> int:
    """The primary key an INSERT created (both dialects return it: RETURNING or lastrowid)."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])
