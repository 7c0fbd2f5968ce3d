"""Plain values passed between the pipeline's stages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

OPEN, CLICK = "open", "click"
HUMAN, PROXY, MACHINE, SCANNER, SELF = "human", "proxy", "machine", "scanner", "self"
CLASSES = (HUMAN, PROXY, MACHINE, SCANNER, SELF)
ALERTING = frozenset({HUMAN, PROXY})  # only these alert the rep; the rest show greyed.
SCORE = "score"  # the kind (and class) of a feed event announcing a lead score rise
ITEM = "item"  # the kind (and class) of a row another system pushed into a rep's feed
NOTICE = "notice"  # the kind (and class) of a row about the rep's own account (no person): "reconnect your mail"
# Marketing engagement (purple rows): the class, and its kinds.
MARKETING = "marketing"
MOMENT, VISIT, FORM, MARKETING_OPEN, MARKETING_CLICK = "moment", "visit", "form", "marketing_open", "marketing_click"
MARKETING_KINDS = (MOMENT, VISIT, FORM, MARKETING_OPEN, MARKETING_CLICK)


def iso_z(value: datetime | None) -> str | None:
    """A UTC time as JSON shows it: ISO 8601 with a Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def json_object(body: bytes) -> dict:
    """A request body that must be a JSON object; Invalid("body") otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("body", "is not JSON") from None
    except RecursionError:  # [[[[…: the parser's recursion, not a server fault
        raise TooDeep("body", "is nested too deeply") from None
    if not isinstance(data, dict):
        raise Invalid("body", "must be a JSON object")
    return data


class Invalid(ValueError):
    """Bad input; `field` names what is wrong (the API answers 422 with it, the CLI prints it)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class TooDeep(Invalid):
    """A body nested beyond what the parser follows: malformed (400), not merely invalid."""


@dataclass(frozen=True)
class Agent:
    """What the user agent string says, parsed once by the shell (ua-parser, crawlerdetect)."""

    raw: str
    client: str = ""  # "Chrome 131"
    os: str = ""  # "Windows 10"
    device: str = ""  # "iPhone", "" for desktops
    crawler: str | None = None  # the crawler signature matched, if any

    @property
    def label(self) -> str:
        return " · ".join(part for part in (self.client, self.device or self.os) if part)


@dataclass(frozen=True)
class Location:
    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None
    radius_km: int | None = None
    note: str | None = None  # why there is no location ("Location hidden by Gmail")

    @property
    def label(self) -> str:
        if self.note:
            return self.note
        place = ", ".join(p for p in (self.city, self.region, self.country) if p)
        if not place:
            return "Location unknown"
        return f"{place} (±{self.radius_km} km)" if self.radius_km else place

    @property
    def cluster(self) -> str | None:
        """The coarse key used to notice a new place: city and country, or None."""
        if self.note or not self.country_code:
            return None
        return f"{self.city or '?'}|{self.country_code}"


@dataclass(frozen=True)
class Verdict:
    cls: str
    reason: str
    location_note: str | None = None  # set when the fetcher hides the reader's place ("Location hidden by Gmail")


@dataclass(frozen=True)
class Hit:
    """One request to a tracking endpoint, stamped at the edge."""

    kind: str
    target_id: int  # recipient id for opens, link id for clicks
    at: datetime
    ip: str | None
    user_agent: str
    rep_cookie: int | None = None  # user id from a valid self cookie
    # A person's signs on a click: the browser says a user activated it (Sec-Fetch-User: ?1), or it
    # carries the cookie an earlier click of ours set. Such a click never counts towards a scanner burst.
    gesture: bool = False
    returning: bool = False
    languages: bool = True  # it carried Accept-Language, as every browser's request does
    key: str | None = None  # set once spooled: the event's idempotency key, so a replay records it once


@dataclass
class ForwardState:
    """What forward detection has seen of one recipient's copy (stored with the recipient)."""

    places: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    @property
    def forwarded(self) -> bool:
        return bool(self.evidence)

    @classmethod
    def from_json(cls, data: dict | None) -> ForwardState:
        data = data or {}
        return cls(*(list(data.get(name) or ()) for name in ("places", "devices", "evidence")))

    def to_json(self) -> dict:
        return {"places": list(self.places), "devices": list(self.devices), "evidence": list(self.evidence)}


@dataclass
class Activity:
    """A purple row about someone (kind) and/or their lead fields and score: a Marketo activity or
    webhook call, or a known visitor's page view on the company website."""

    email: str | None  # None: Marketo's lead must be looked up by marketo_id
    marketo_id: str | None
    kind: str | None  # None: a score change only
    at: datetime
    reason: str = ""
    detail: str = ""
    url: str | None = None
    key: str | None = None
    person: dict = field(default_factory=dict)  # a person record without the email (may hold lead_score)
    owner_email: str | None = None
    workspace_id: int = 0  # set by the edge that received it
    visit_id: int | None = None  # a website visit's page views share it
