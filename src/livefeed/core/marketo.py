"""Marketo's shapes, read: a lead's fields, a REST activity, a smart-campaign webhook's body.

Pure: what each becomes (a person record, a purple row's kind, reason and text); the connector
and the webhook endpoint do the I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from .contacts import person_record
from .model import FORM, MARKETING_CLICK, MARKETING_OPEN, MOMENT, VISIT, Activity, Invalid, json_object

# Standard activity type ids (GET /rest/v1/activities/types.json on every instance).
VISIT_WEBPAGE, FILL_OUT_FORM, OPEN_EMAIL, CLICK_EMAIL, CHANGE_SCORE, INTERESTING_MOMENT = 1, 2, 10, 11, 22, 46
ACTIVITY_TYPES = (VISIT_WEBPAGE, FILL_OUT_FORM, OPEN_EMAIL, CLICK_EMAIL, CHANGE_SCORE, INTERESTING_MOMENT)
LEAD_FIELDS = ("id", "email", "firstName", "lastName", "company", "title", "phone", "leadScore")
MOMENT_TYPES = ("Email", "Web", "Milestone")
# Webhook `type` → the row's kind.
HOOK_TYPES = {
    "interesting_moment": MOMENT,
    "email_open": MARKETING_OPEN,
    "email_click": MARKETING_CLICK,
    "form_fill": FORM,
    "web_visit": VISIT,
    "score_change": None,
}
MAX_TEXT = 1000


def lead_record(lead: Mapping) -> dict:
    """Marketo lead fields → a person record (blank fields leave ours as they are)."""
    data = {"email": lead.get("email") or ""}
    for theirs, ours in (
        ("firstName", "first_name"),
        ("lastName", "last_name"),
        ("company", "company"),
        ("title", "title"),
        ("phone", "phone"),
        ("leadScore", "lead_score"),
    ):
        value = lead.get(theirs)
        if value is not None and value != "":
            data[ours] = value if theirs == "leadScore" else str(value)
    record = person_record(data, blank_is_absent=True)
    if lead.get("id") not in (None, ""):
        record["marketo_id"] = str(lead["id"])[:32]
    return record


def _attributes(activity: Mapping) -> dict[str, object]:
    return {
        a["name"]: a.get("value")
        for a in activity.get("attributes") or ()
        if isinstance(a, Mapping) and isinstance(a.get("name"), str)
    }


def read_activity(activity: Mapping) -> Activity | None:
    """A REST activity (GET /rest/v1/activities.json) → engagement, or None for other types."""
    type_id = activity.get("activityTypeId")
    if type_id not in ACTIVITY_TYPES:
        return None
    at = parse_time(activity.get("activityDate"), "activityDate")
    attributes = _attributes(activity)
    primary = str(activity.get("primaryAttributeValue") or "")[:MAX_TEXT]
    engagement = Activity(
        email=None,
        marketo_id=str(activity.get("leadId")),
        kind=None,
        at=at,
        key=f"mkto:{activity.get('marketoGUID') or activity.get('id')}",
    )
    if type_id == CHANGE_SCORE:
        new = attributes.get("New Value")
        if new not in (None, ""):
            engagement.person["lead_score"] = person_record({"email": "x@x.x", "lead_score": new})["lead_score"]
        return engagement
    if type_id == INTERESTING_MOMENT:
        moment_type = str(attributes.get("Type") or attributes.get("Source") or "Milestone")
        engagement.kind, engagement.reason = MOMENT, f"Interesting Moment ({moment_type})"
        engagement.detail = str(attributes.get("Description") or primary)[:MAX_TEXT]
    elif type_id == VISIT_WEBPAGE:
        engagement.kind, engagement.reason = VISIT, "Visited a web page (Marketo)"
        engagement.url = _http_url(attributes.get("Webpage URL"))
        engagement.detail = primary
    elif type_id == FILL_OUT_FORM:
        engagement.kind, engagement.reason, engagement.detail = FORM, "Filled out a form", primary
    elif type_id == OPEN_EMAIL:
        engagement.kind, engagement.reason, engagement.detail = MARKETING_OPEN, "Opened a marketing email", primary
    else:
        engagement.kind, engagement.reason, engagement.detail = MARKETING_CLICK, "Clicked a marketing email", primary
        engagement.url = _http_url(attributes.get("Link"))
    return engagement


def read_hook(body: bytes, now: datetime) -> Activity:
    """A smart-campaign webhook's JSON body → engagement; raise Invalid naming the bad field.

    {"type": "interesting_moment", "moment_type": "Web", "description": "…", "lead": {"id": 1001,
     "email": "…", "firstName": "…", "leadScore": 55}, "occurred_at": "…Z", "activity_id": "…",
     "url": "…", "owner_email": "…"}"""
    data = json_object(body)
    unknown = sorted(
        set(data) - {"type", "moment_type", "description", "lead", "occurred_at", "activity_id", "url", "owner_email"}
    )
    if unknown:
        raise Invalid(unknown[0], "unknown field")
    kind_name = data.get("type")
    if kind_name not in HOOK_TYPES:
        raise Invalid("type", f"must be one of {', '.join(HOOK_TYPES)}")
    lead = data.get("lead")
    if not isinstance(lead, dict):
        raise Invalid("lead", "must be an object with the lead's email")
    try:
        record = lead_record(lead)
    except Invalid as exc:
        raise Invalid(f"lead.{_marketo_name(exc.field)}", exc.message) from None
    at = now if data.get("occurred_at") in (None, "") else parse_time(data["occurred_at"], "occurred_at")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise Invalid("description", "must be a string")
    engagement = Activity(
        email=record.pop("email"),
        marketo_id=record.get("marketo_id"),
        kind=HOOK_TYPES[kind_name],
        at=at,
        detail=(description or "").strip()[:MAX_TEXT],
        person=record,
    )
    if kind_name == "interesting_moment":
        moment_type = data.get("moment_type")
        if moment_type not in MOMENT_TYPES:
            raise Invalid("moment_type", f"must be one of {', '.join(MOMENT_TYPES)}")
        if not engagement.detail:
            raise Invalid("description", "an Interesting Moment needs its description")
        engagement.reason = f"Interesting Moment ({moment_type})"
    elif kind_name == "score_change":
        if "lead_score" not in record:
            raise Invalid("lead.leadScore", "a score change needs the new score")
    else:
        engagement.reason = {
            MARKETING_OPEN: "Opened a marketing email",
            MARKETING_CLICK: "Clicked a marketing email",
            FORM: "Filled out a form",
            VISIT: "Visited a web page (Marketo)",
        }[engagement.kind or ""]
    if data.get("url") not in (None, ""):
        engagement.url = _http_url(data["url"])
        if engagement.url is None:
            raise Invalid("url", "must be an http(s) URL")
    if data.get("owner_email") not in (None, ""):
        engagement.owner_email = person_record({"email": "x@x.x", "owner_email": data["owner_email"]})["owner_email"]
    activity_id = data.get("activity_id")
    if activity_id not in (None, ""):
        engagement.key = f"mkto-hook:{str(activity_id)[:150]}"
    elif engagement.kind is not None:  # no id given: the same body again is the same activity
        engagement.key = "mkto-hook:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:40]
    return engagement


def parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise Invalid(name, "must be an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(name, f"{value[:40]!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise Invalid(name, "needs a time zone (…Z or …+01:00)")
    return at.astimezone(UTC)


def _http_url(value: object) -> str | None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > 2000:
        return None
    return value.translate({9: None, 10: None, 13: None}).strip()


def _marketo_name(ours: str) -> str:
    return {"first_name": "firstName", "last_name": "lastName", "lead_score": "leadScore"}.get(ours, ours)
