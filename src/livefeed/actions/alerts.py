"""Which rows alert a rep and when they are quiet: one setting per rep, shared by the web app's
pages, the Live Feed window and the browser extension (how each device alerts — a notification, a
sound — stays with the device)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from ..core.model import Invalid, iso_z
from ..db.tables import users

KINDS = ("open", "click", "reply", "marketing")
MAX_QUIET = timedelta(days=7)


def read(engine: Engine, user_id: int, *, now: datetime) -> dict:
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.alert_settings).where(users.c.id == user_id)).scalar() or {}
    return view(stored, now=now)


def view(stored: dict, *, now: datetime) -> dict:
    kinds = stored.get("kinds")
    kinds = kinds if isinstance(kinds, dict) else {}
    quiet = stored.get("quiet_until")
    until = datetime.fromisoformat(quiet.replace("Z", "+00:00")) if isinstance(quiet, str) else None
    return {"kinds": {k: bool(kinds.get(k, True)) for k in KINDS}, "quiet_until": iso_z(until) if until and until > now else None}


def change(
    engine: Engine, user_id: int, *, kinds: dict | None, quiet_until: datetime | None, clear_quiet: bool, now: datetime
) -> dict:
    """Update what is given; Invalid naming the field otherwise."""
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise Invalid(f"kinds[{unknown[0]}]", f"is not a kind of alert (known: {', '.join(KINDS)})")
    if quiet_until is not None:
        if quiet_until.tzinfo is None:
            raise Invalid("quiet_until", "needs a time zone (…Z)")
        if quiet_until - now > MAX_QUIET:
            raise Invalid("quiet_until", "at most 7 days ahead")
    with engine.begin() as conn:
        stored = dict(conn.execute(select(users.c.alert_settings).where(users.c.id == user_id)).scalar() or {})
        if kinds is not None:
            stored["kinds"] = {**view(stored, now=now)["kinds"], **{k: bool(v) for k, v in kinds.items()}}
        if clear_quiet:
            stored.pop("quiet_until", None)
        elif quiet_until is not None:
            stored["quiet_until"] = iso_z(quiet_until)
        conn.execute(update(users).where(users.c.id == user_id).values(alert_settings=stored))
    return view(stored, now=now)
