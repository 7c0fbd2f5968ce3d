"""JSON API: people (upsert by email, patch), the Target list, the workspace's ranking settings."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import datetime

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...actions import people as people_actions
from ...actions import workspace as workspace_actions
from ...core import compose, contacts, identity, scoring, website
from ...core.model import Invalid, iso_z
from ...core.tokens import PROBE
from ...db import targets
from ..auth import admin_user, api_user, runtime
from . import INVALID, documented
from .feed import IdPath, error_422

router = APIRouter(prefix="/api/v1")
NOT_FOUND = documented(404, "No such person in your workspace")
PROBE_TIMEOUT_SECONDS = 10.0


class PersonIn(BaseModel):
    """The CSV import's columns. Absent fields stay as they are; null clears one."""

    model_config = ConfigDict(extra="forbid")
    email: str
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    owner_email: str | None = Field(None, description="A rep of the workspace (the CRM owner); null for none")
    lead_score: int | None = None
    as_of: datetime | None = Field(
        None,
        description="Your data's own time (ISO 8601 with a zone): if the person's lead fields "
        "were changed by newer data, these are ignored — a late or replayed update never goes back in time",
    )


class PersonPatch(PersonIn):
    email: str | None = None  # type: ignore[assignment]  # a patch may leave out any field
    do_not_track: bool | None = Field(
        None, description="Never track this person: mail goes out untracked, hits on earlier copies record nothing"
    )


class WorkspaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier_method: str | None = Field(None, description="percentile (default) or fixed")
    star_thresholds: str | None = Field(None, description='Fixed method: three ascending scores, "25,50,75"')
    flame_thresholds: str | None = Field(None, description='Fixed method: three ascending 7-day rises, "5,15,30"')
    engagement_ranking: bool | None = Field(None, description="Rank people without a lead score by engagement")
    site_origins: list[str] | None = Field(
        None, max_length=50, description='Website tracking: the origins allowed to send page views, ["https://www.example.com"]'
    )
    anonymize_ips: bool | None = Field(None, description="Website tracking: keep only the network part of visitors' IP addresses")
    honour_dnt: bool | None = Field(
        None, description="Website tracking: drop anonymous page views that ask not to be tracked (DNT/GPC)"
    )
    do_not_track: list[str] | None = Field(
        None,
        max_length=5000,
        description='Never tracked: addresses or "@domain"s; mail to them goes out without pixel or tracked links',
    )
    signin_domains: list[str] | None = Field(
        None,
        max_length=50,
        description='Domains whose people may sign in with Google or Microsoft and are then added as reps, ["example.com"]',
    )
    tracking_url: str | None = Field(
        None,
        max_length=300,
        description="Tracking links' base URL, a hostname of yours pointing at this server "
        '("https://t.example.com"; checked by fetching it); null: the server\'s public URL',
    )


class TrackingUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_url: str = Field(..., max_length=300)


async def probe_tracking_url(rt, url: str) -> str | None:
    """Why `url` does not reach this server, or None when it does: fetch its health with a probe
    only this server can sign, and look for it echoed back."""
    nonce = secrets.randbits(48)
    target = f"{url}/api/v1/health?probe={rt.signer.sign(PROBE, nonce)}"
    try:
        async with rt.outbound.http_client(timeout=PROBE_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.get(target)
    except httpx.HTTPError as exc:
        return f"cannot reach {url}: {exc.__class__.__name__}: {exc or 'no answer'} (is its DNS record (CNAME) set, and its TLS certificate?)"
    if response.status_code != 200:
        return f"{url} answered HTTP {response.status_code}, not LiveFeed's health check"
    try:
        echoed = response.json().get("probe")
    except ValueError:
        echoed = None
    if echoed != nonce:
        return f"{url} answers, but it is not this LiveFeed server (point it at {rt.settings.public_url})"
    return None


NOT_YOURS = documented(403, "The person belongs to another rep: only they or an admin change them")


def not_yours() -> JSONResponse:
    return JSONResponse({"detail": "This person belongs to another rep: only they or an admin can change them"}, 403)


async def write_people(request: Request, user, records: list[tuple[int, dict]], *, before=None):
    """Upsert as `user`: NotYours when they change someone another rep owns."""
    return await people_actions.upsert_people(
        runtime(request), workspace_id=user["workspace_id"], records=records, source="api", before=before, actor=user
    )


@router.post(
    "/people",
    summary="Create or update a person (upsert by email)",
    responses={**INVALID, **NOT_YOURS, 200: {"description": "Updated"}},
    status_code=201,
)
async def upsert_person(body: PersonIn, request: Request, user=Depends(api_user)):
    try:
        record = contacts.person_record(body.model_dump(exclude_unset=True))
        applied = await write_people(request, user, [(1, record)])
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    except people_actions.NotYours:
        return not_yours()
    view = await _read_person(request, user, applied.ids[record["email"]])
    return JSONResponse(view, status_code=201 if applied.created else 200)


@router.patch(
    "/people/{person_id}",
    summary="Change a person (yours, unowned, or any as an admin)",
    responses={**INVALID, **NOT_FOUND, **NOT_YOURS},
)
async def patch_person(person_id: IdPath, body: PersonPatch, request: Request, user=Depends(api_user)):
    current = await _read_person(request, user, person_id)
    if current is None:
        return JSONResponse({"detail": "No such person"}, 404)
    given = body.model_dump(exclude_unset=True)
    new_email = given.pop("email", None) or current["email"]
    flag = given.pop("do_not_track", None)
    try:
        if "do_not_track" in body.model_fields_set and flag is None:
            raise Invalid("do_not_track", "must be true or false")
        record = contacts.person_record({**given, "email": new_email})

        def rename(conn):
            people_actions.rename(
                conn,
                user["workspace_id"],
                person_id,
                email=record["email"] if record["email"] != current["email"] else None,
                do_not_track=flag,
            )

        if not people_actions.may_change(user, current["owner"]["id"] if current["owner"] else None):
            return not_yours()
        await write_people(request, user, [(1, record)], before=rename)
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    except people_actions.NotYours:
        return not_yours()
    return await _read_person(request, user, person_id)


@router.get(
    "/people/card",
    summary="A person by email as the Gmail plug-in shows them beside a thread: their newest rows "
    "with you, your open tasks with them, Target stars; `person` null when unknown (offer Add to LiveFeed)",
    responses={422: {"description": "Not an email address"}},
)
async def person_card(request: Request, user=Depends(api_user), email: str = Query(..., max_length=254)):
    rt = runtime(request)
    address = email.strip().lower()
    if problem := compose.address_problem(address):
        return error_422("email", problem, where="query")
    tiers = await rt.tiers.get(user["workspace_id"])
    now = rt.clock()

    def read():
        with rt.engine.connect() as conn:
            return people_actions.card(
                conn, user, email=address, now=now, stars_of=lambda score: tiers.stars.tier(score) if score is not None else 0
            )

    return await asyncio.to_thread(read)


@router.get("/people/{person_id}", summary="One person, with the newest score changes", responses=NOT_FOUND)
async def get_person(person_id: IdPath, request: Request, user=Depends(api_user)):
    view = await _read_person(request, user, person_id, history=50)
    return view if view is not None else JSONResponse({"detail": "No such person"}, 404)


@router.get("/people", summary="Find people by the start of their email, name or company")
async def find_people(
    request: Request, user=Depends(api_user), q: str = Query("", max_length=100), limit: int = Query(10, ge=1, le=100)
):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return people_actions.find(conn, user["workspace_id"], q, limit=limit)

    return {"people": await asyncio.to_thread(read)}


async def _read_person(request: Request, user, person_id: int, history: int = 0):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return people_actions.person(conn, workspace_id=user["workspace_id"], person_id=person_id, history=history)

    return await asyncio.to_thread(read)


@router.get("/targets", summary="The Target list: the top 50 people you own by lead score")
async def get_targets(request: Request, user=Depends(api_user)):
    rt = runtime(request)
    cached = rt.target_lists.get(user["id"])
    if cached is not None:
        return Response(cached, media_type="application/json")
    version = rt.target_lists.version()
    tiers = await rt.tiers.get(user["workspace_id"])
    now = rt.clock()

    def read():
        with rt.engine.connect() as conn:
            return targets.target_list(conn, workspace_id=user["workspace_id"], user_id=user["id"], tiers=tiers, now=now)

    # json.dumps straight to bytes: FastAPI's encoder walks every value again (≈ 1 ms for 50 people)
    listed = {"people": await asyncio.to_thread(read), "tiers": tiers.to_json(), "generated_at": iso_z(now)}
    body = json.dumps(listed, separators=(",", ":"), ensure_ascii=False).encode()
    rt.target_lists.put(user["id"], now, body, version)
    return Response(body, media_type="application/json")


@router.get("/workspace", summary="The workspace's settings (Target ranking, website tracking, privacy, tracking links, webhook)")
async def get_workspace(request: Request, user=Depends(api_user)):
    return await asyncio.to_thread(workspace_actions.settings_view, runtime(request), user["workspace_id"])


@router.patch(
    "/workspace",
    summary="Change the workspace's settings (admins; a tracking hostname is checked to reach this server)",
    responses=INVALID,
)
async def patch_workspace(body: WorkspaceSettings, request: Request, user=Depends(admin_user)):
    rt = runtime(request)
    values = body.model_dump(exclude_unset=True)
    try:
        if "tier_method" in values and values["tier_method"] not in scoring.TIER_METHODS:
            raise Invalid("tier_method", f"must be one of {', '.join(scoring.TIER_METHODS)}")
        for name in ("star_thresholds", "flame_thresholds"):
            if values.get(name) is not None:
                try:
                    values[name] = ",".join(map(str, scoring.parse_thresholds(values[name], name)))
                except ValueError as exc:
                    raise Invalid(name, str(exc).split(": ", 1)[1]) from None
        if "tracking_url" in values:
            url = values["tracking_url"] = website.check_tracking_url(values["tracking_url"]) if values["tracking_url"] else None
            if url == rt.settings.public_url.lower():
                values["tracking_url"] = None  # the default
            elif url and (problem := await probe_tracking_url(rt, url)):
                raise Invalid("tracking_url", problem)
        for name in ("engagement_ranking", "tier_method", "anonymize_ips", "site_origins", "honour_dnt", "do_not_track"):
            if name in values and values[name] is None:
                raise Invalid(name, "must not be null")
        if "site_origins" in values:
            values["site_origins"] = " ".join(website.check_origins(values["site_origins"]))
        if "signin_domains" in values:
            domains = identity.check_signin_domains(values["signin_domains"] or [])
            if taken := await asyncio.to_thread(workspace_actions.domains_elsewhere, rt, user["workspace_id"], domains):
                raise Invalid("signin_domains", f"{taken} is a sign-in domain of another workspace")
            values["signin_domains"] = " ".join(domains)
        if "do_not_track" in values:
            try:
                values["do_not_track"] = " ".join(compose.check_do_not_track(values["do_not_track"]))
            except ValueError as exc:
                raise Invalid("do_not_track", str(exc)) from None
    except Invalid as exc:
        return error_422(exc.field, exc.message)

    await workspace_actions.change_settings(rt, user["workspace_id"], values)
    return await asyncio.to_thread(workspace_actions.settings_view, rt, user["workspace_id"])


@router.post(
    "/workspace/tracking-url/test", summary="Check that a hostname reaches this server (nothing is saved)", responses=INVALID
)
async def test_tracking_url(body: TrackingUrlIn, request: Request, user=Depends(admin_user)):
    rt = runtime(request)
    try:
        url = website.check_tracking_url(body.tracking_url)
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    if problem := await probe_tracking_url(rt, url):
        return error_422("tracking_url", problem)
    return {"ok": True, "message": f"{url} reaches this server: tracking links can use it"}


@router.post(
    "/workspace/marketo-webhook-secret", summary="A new secret for the Marketo webhook (shown once; the old one stops working)"
)
async def new_hook_secret(request: Request, user=Depends(admin_user)):
    rt = runtime(request)
    secret = await workspace_actions.new_hook_secret(rt, user["workspace_id"])
    settings = await asyncio.to_thread(workspace_actions.settings_view, rt, user["workspace_id"])
    return {"secret": secret, "header": "X-LiveFeed-Secret", **settings["marketo_webhook"]}


@router.post("/people/{person_id}/add", summary="Add someone known only from marketing to LiveFeed", responses=NOT_FOUND)
async def add_person(person_id: IdPath, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    now = rt.clock()

    await asyncio.to_thread(people_actions.add, rt, user["workspace_id"], person_id, now=now)
    if rt.services is not None:
        await rt.services.refresh_person(user["workspace_id"], person_id)  # fields from Marketo, when connected
    view = await _read_person(request, user, person_id)
    return view if view is not None else JSONResponse({"detail": "No such person"}, 404)
