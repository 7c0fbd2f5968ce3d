"""Task due dates in the assignee's time zone: "today", the filter windows, overdue.

A task's due date is a calendar day in its assignee's IANA zone (and an optional wall-clock time
on that day). "Today" is the day it is now in that zone, so a rep in Auckland or Kiritimati has
tomorrow's UTC date. A window is a run of local days; its instants run from the first day's local
midnight to the midnight after the last day, so a window holding a daylight-saving change lasts
23 or 25 hours, never a fixed 24 × n.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .model import Invalid

DUE_FILTERS = ("today", "tomorrow", "today_and_tomorrow", "next_7_days")
# (first day, last day) as offsets from today, inclusive.
_OFFSETS = {"today": (0, 0), "tomorrow": (1, 1), "today_and_tomorrow": (0, 1), "next_7_days": (0, 6)}
MAX_RANGE_DAYS = 366


@dataclass(frozen=True, slots=True)
class Window:
    """Local days first..last (inclusive) and the UTC instants [starts_at, ends_at) they cover."""

    first: date
    last: date
    starts_at: datetime
    ends_at: datetime

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600

    def to_json(self) -> dict:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "starts_at": _z(self.starts_at),
            "ends_at": _z(self.ends_at),
            "hours": self.hours,
        }


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone", f"{name!r} is not an IANA time zone") from None


def local_today(now: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return now.astimezone(tz).date()


def local_instant(day: date, at: time | None, tz: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (midnight when `at` is None).

    A time that does not exist (skipped by a spring-forward) is read, as PEP 495 fold=0 does, with
    the offset before the change (02:30 becomes 03:30); an ambiguous one (repeated in autumn) is its
    first occurrence. A midnight is never skipped in the zones tested; where it is, the day starts
    at the jump's end, which is when that day's first wall-clock time exists.
    """
    return datetime.combine(day, at or time(0), tzinfo=tz).astimezone(UTC)


def window(first: date, last: date, tz: zoneinfo.ZoneInfo) -> Window:
    return Window(first, last, local_instant(first, None, tz), local_instant(last + timedelta(days=1), None, tz))


def due_window(name: str, now: datetime, tz: zoneinfo.ZoneInfo) -> Window:
    """The window of a named filter (today, tomorrow, today_and_tomorrow, next_7_days)."""
    if name not in _OFFSETS:
        raise Invalid("due", f"must be one of {', '.join(DUE_FILTERS)}")
    today = local_today(now, tz)
    start, end = _OFFSETS[name]
    return window(today + timedelta(days=start), today + timedelta(days=end), tz)


def range_window(first: str, last: str, tz: zoneinfo.ZoneInfo) -> Window:
    """The window of a custom range `from`..`to` (YYYY-MM-DD, inclusive)."""
    start, end = parse_date(first, "from"), parse_date(last, "to")
    if start > end:
        raise Invalid("from", f"{first} is after to={last}")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Invalid("to", f"a range spans at most {MAX_RANGE_DAYS} days")
    return window(start, end, tz)


def parse_date(text: str, field: str = "due_date") -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_time(text: str, field: str = "due_time") -> time:
    try:
        if len(text) != 5 or text[2] != ":":
            raise ValueError
        return time.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid(field, f"{text!r} is not a time (HH:MM, 24-hour)") from None


def is_overdue(due_date: date, due_time: time | None, now: datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """An open task is overdue once its due time has passed; a date-only one once its day has."""
    if due_time is None:
        return due_date < local_today(now, tz)
    return local_instant(due_date, due_time, tz) <= now


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
