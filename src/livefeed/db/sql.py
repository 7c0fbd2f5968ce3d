"""Dialect details the queries share: stored times and LIKE patterns."""

from __future__ import annotations

from datetime import datetime, timezone


def utc(value) -> datetime | None:
    """A stored time as the driver gives it (SQLite: naive UTC text) → an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with ESCAPE '\\': its %, _ and \\ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
