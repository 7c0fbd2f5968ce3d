"""Due windows in the assignee's zone: local midnights, DST days of 23 and 25 hours, overdue."""

from datetime import UTC, date, datetime, time

import pytest

from livefeed.core import taskdates
from livefeed.core.model import Invalid


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NY, MELBOURNE = taskdates.zone("America/New_York"), taskdates.zone("Australia/Melbourne")

WINDOWS = [
    # zone, now (UTC), filter, first day, last day, starts (UTC), ends (UTC), hours
    (NY, "2026-03-08 12:00", "today", "2026-03-08", "2026-03-08", "2026-03-08 05:00", "2026-03-09 04:00", 23),  # spring forward
    (NY, "2026-11-01 12:00", "today", "2026-11-01", "2026-11-01", "2026-11-01 04:00", "2026-11-02 05:00", 25),  # fall back
    (
        NY,
        "2026-03-08 03:00",
        "today",
        "2026-03-07",
        "2026-03-07",
        "2026-03-07 05:00",
        "2026-03-08 05:00",
        24,
    ),  # still the 7th there
    (NY, "2026-03-07 12:00", "tomorrow", "2026-03-08", "2026-03-08", "2026-03-08 05:00", "2026-03-09 04:00", 23),
    (NY, "2026-03-07 12:00", "today_and_tomorrow", "2026-03-07", "2026-03-08", "2026-03-07 05:00", "2026-03-09 04:00", 47),
    (NY, "2026-03-05 12:00", "next_7_days", "2026-03-05", "2026-03-11", "2026-03-05 05:00", "2026-03-12 04:00", 167),
    (NY, "2026-10-29 12:00", "next_7_days", "2026-10-29", "2026-11-04", "2026-10-29 04:00", "2026-11-05 05:00", 169),
    (MELBOURNE, "2026-04-05 01:00", "today", "2026-04-05", "2026-04-05", "2026-04-04 13:00", "2026-04-05 14:00", 25),  # DST ends
    (
        MELBOURNE,
        "2026-10-04 01:00",
        "today",
        "2026-10-04",
        "2026-10-04",
        "2026-10-03 14:00",
        "2026-10-04 13:00",
        23,
    ),  # DST starts
    (MELBOURNE, "2026-10-03 12:00", "tomorrow", "2026-10-04", "2026-10-04", "2026-10-03 14:00", "2026-10-04 13:00", 23),
    # Where today is already tomorrow in UTC (UTC+14), and still yesterday (UTC-10).
    (
        taskdates.zone("Pacific/Kiritimati"),
        "2026-11-26 12:00",
        "today",
        "2026-11-27",
        "2026-11-27",
        "2026-11-26 10:00",
        "2026-11-27 10:00",
        24,
    ),
    (
        taskdates.zone("Pacific/Honolulu"),
        "2026-11-26 05:00",
        "today",
        "2026-11-25",
        "2026-11-25",
        "2026-11-25 10:00",
        "2026-11-26 10:00",
        24,
    ),
    (
        taskdates.zone("UTC"),
        "2026-12-31 23:59",
        "tomorrow",
        "2027-01-01",
        "2027-01-01",
        "2027-01-01 00:00",
        "2027-01-02 00:00",
        24,
    ),
]


@pytest.mark.parametrize("tz, now, name, first, last, starts, ends, hours", WINDOWS)
def test_due_windows_run_from_local_midnight_to_local_midnight(tz, now, name, first, last, starts, ends, hours):
    window = taskdates.due_window(name, utc(now), tz)
    assert (window.first.isoformat(), window.last.isoformat()) == (first, last)
    assert (window.starts_at, window.ends_at) == (utc(starts), utc(ends))
    assert window.hours == hours


def test_custom_range_is_inclusive_and_checked():
    window = taskdates.range_window("2026-11-01", "2026-11-01", NY)
    assert window.hours == 25 and window.to_json()["starts_at"] == "2026-11-01T04:00:00Z"
    for first, last, field in [
        ("2026-11-02", "2026-11-01", "from"),
        ("2026-02-30", "2026-03-01", "from"),
        ("2026-1-5", "2026-02-01", "from"),
        ("2026-01-01", "tomorrow", "to"),
        ("2026-01-01", "2027-06-01", "to"),
    ]:
        with pytest.raises(Invalid) as caught:
            taskdates.range_window(first, last, NY)
        assert caught.value.field == field


def test_unknown_filter_and_zone_are_named():
    with pytest.raises(Invalid) as caught:
        taskdates.due_window("yesterday", utc("2026-11-26 12:00"), NY)
    assert caught.value.field == "due"
    with pytest.raises(Invalid) as caught:
        taskdates.zone("Mars/Olympus_Mons")
    assert caught.value.field == "timezone"


OVERDUE = [
    # due date, due time, now (UTC), zone, overdue?
    ("2026-11-25", None, "2026-11-26 12:00", NY, True),  # yesterday, date only
    ("2026-11-26", None, "2026-11-26 12:00", NY, False),  # today, date only: due by the end of the day
    ("2026-11-26", "06:00", "2026-11-26 12:00", NY, True),  # 06:00 New York = 11:00 UTC
    ("2026-11-26", "08:00", "2026-11-26 12:00", NY, False),  # 13:00 UTC
    ("2026-11-26", None, "2026-11-26 12:00", taskdates.zone("Pacific/Kiritimati"), True),  # it is the 27th there
    ("2026-03-08", "02:30", "2026-03-08 07:20", NY, False),  # a time skipped by DST reads as 03:30 EDT = 07:30 UTC
    ("2026-03-08", "02:30", "2026-03-08 07:30", NY, True),
]


@pytest.mark.parametrize("due_date, due_time, now, tz, expected", OVERDUE)
def test_overdue(due_date, due_time, now, tz, expected):
    at = time.fromisoformat(due_time) if due_time else None
    assert taskdates.is_overdue(date.fromisoformat(due_date), at, utc(now), tz) is expected


@pytest.mark.parametrize("text, field", [("24:00", "due_time"), ("7:30", "due_time"), ("07:30:00", "due_time"), ("", "due_time")])
def test_bad_times(text, field):
    with pytest.raises(Invalid) as caught:
        taskdates.parse_time(text)
    assert caught.value.field == field
