"""Person records from the JSON API and CSV files: validated field by field, before any write.

The API and the CSV file use the same field names. A field that is absent (or, in a CSV file, an
empty cell) leaves the stored value as it is; JSON `null` clears it. `email` identifies the
person (upsert by email within the workspace).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .compose import address_problem, header_problem
from .model import Invalid

FIELDS = ("email", "first_name", "last_name", "title", "company", "phone", "linkedin_url", "owner_email", "lead_score", "as_of")
_TEXT_LIMITS = {"first_name": 100, "last_name": 100, "title": 200, "company": 200}
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{3,40}(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]")
MAX_SCORE = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    email: str
    field: str
    message: str


def person_record(data: Mapping[str, object], *, blank_is_absent: bool = False) -> dict:
    """The validated fields of one person; raise Invalid naming the first bad field."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise Invalid(unknown[0], f"unknown field (expected {', '.join(FIELDS)})")
    record: dict = {}
    for name in FIELDS:
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, str):
            value = value.strip()
            if value == "" and blank_is_absent:
                continue
        if value in (None, "") and name != "email":
            record[name] = None
            continue
        record[name] = _check(name, value)
    if "email" not in record:
        raise Invalid("email", "is required")
    return record


def _check(name: str, value: object):
    if name == "lead_score":
        return _score(value)
    if name == "as_of":  # the source's own time of this data: an older record than the last change changes nothing
        return _time(value)
    if not isinstance(value, str):
        raise Invalid(name, "must be a string")
    if name in ("email", "owner_email"):
        value = value.lower()
        if problem := address_problem(value):
            raise Invalid(name, problem)
        return value
    if problem := header_problem(value):
        raise Invalid(name, problem)
    if name in _TEXT_LIMITS:
        if len(value) > _TEXT_LIMITS[name]:
            raise Invalid(name, f"at most {_TEXT_LIMITS[name]} characters")
        return value
    if name == "phone":
        if not _PHONE.match(value) or len(_DIGITS.findall(value)) < 3:
            raise Invalid(name, f"{value[:40]!r} is not a phone number")
        return value
    if name == "linkedin_url":
        return linkedin_url(value)
    raise AssertionError(name)


def _time(value: object) -> datetime:
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, str):
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("as_of", "must be an ISO 8601 time (2026-11-26T09:00:00Z)") from None
    else:
        raise Invalid("as_of", "must be an ISO 8601 time (2026-11-26T09:00:00Z)")
    if found.tzinfo is None:
        raise Invalid("as_of", "needs a time zone (…Z or …+01:00)")
    return found.astimezone(UTC)


def _score(value: object) -> int:
    if isinstance(value, bool):
        raise Invalid("lead_score", "must be an integer")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,10}", text):
            raise Invalid("lead_score", f"{text[:20]!r} is not an integer")
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise Invalid("lead_score", "must be an integer")
    if abs(value) > MAX_SCORE:
        raise Invalid("lead_score", f"must be between -{MAX_SCORE} and {MAX_SCORE}")
    return value


_LINKEDIN = re.compile(r"^(?:https?://)?((?:[a-z0-9-]+\.)*linkedin\.com)(?:/[^\s\x00-\x1f\\]*)?$", re.IGNORECASE)


def linkedin_url(value: str) -> str:
    """An https URL on linkedin.com (a bare "linkedin.com/in/x" gets https:// added)."""
    match = _LINKEDIN.match(value)
    if not match or len(value) > 500:
        raise Invalid("linkedin_url", f"{value[:80]!r} is not a LinkedIn profile URL")
    return "https://" + value.split("://", 1)[-1]


def tel_url(phone: str | None) -> str | None:
    """A tel: link from a stored phone number (digits and a leading +; an extension as ;ext=)."""
    if not phone:
        return None
    main = re.split(r"(?i)\s*(?:x|ext\.?)\s*(?=[0-9]+$)", phone, maxsplit=1)
    digits = ("+" if main[0].lstrip().startswith("+") else "") + "".join(c for c in main[0] if c.isdigit())
    return "tel:" + digits + (f";ext={main[1]}" if len(main) > 1 else "")


def display_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name or None


def read_csv(text: str) -> tuple[list[tuple[int, dict]], list[Rejected]]:
    """Parse a people CSV: ([(line, record)], [rejected rows]). Raise Invalid for a bad header."""
    rows: list[tuple[int, dict]] = []
    rejected: list[Rejected] = []
    seen: dict[str, int] = {}
    for line, row, columns in _rows(text):
        try:
            if columns:
                raise Invalid("row", f"has {columns[0]} cells, the header has {columns[1]}")
            record = person_record(row, blank_is_absent=True)
            if record["email"] in seen:
                raise Invalid("email", f"already on line {seen[record['email']]}")
            seen[record["email"]] = line
            rows.append((line, record))
        except Invalid as exc:
            rejected.append(Rejected(line, str(row.get("email") or "").strip()[:254], exc.field, exc.message))
    return rows, rejected


def _rows(text: str) -> Iterator[tuple[int, dict, tuple[int, int] | None]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise Invalid("file", "is empty (expected a header row)") from None
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        raise Invalid("file", f"unknown column {unknown[0]!r} (columns: {', '.join(FIELDS)})")
    if "email" not in header:
        raise Invalid("file", "the header has no email column")
    if len(set(header)) != len(header):
        raise Invalid("file", "a column appears twice in the header")
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, row))
        yield reader.line_num, cells, None if len(row) == len(header) else (len(row), len(header))
