"""The workspace's Marketo and Salesforce connections: set (checked by getting a token), show
(never the secrets), remove, and run a pass now."""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...actions import workspace as workspace_actions
from ...core.model import iso_z
from ...core.website import origin_of
from ...integrations import connectors as sync
from ...integrations.outbound import OutboundError
from ..auth import admin_user, api_user, runtime
from .feed import error_422

router = APIRouter(prefix="/api/v1")
KIND = Path(..., pattern="^(marketo|salesforce)$", description="marketo or salesforce")


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(
        ...,
        max_length=500,
        description="Marketo: the REST endpoint's host (https://123-ABC-456.mktorest.com); "
        "Salesforce: the login URL (https://login.salesforce.com)",
    )
    client_id: str = Field(..., min_length=1, max_length=200)
    client_secret: str = Field(..., min_length=1, max_length=500, description="Never shown back")
    refresh_token: str | None = Field(None, max_length=2000, description="Salesforce: the OAuth refresh token")
    interval_seconds: int = Field(300, ge=60, le=86400, description="How often the scheduled pass runs")


@router.put("/connectors/{kind}", summary="Connect Marketo or Salesforce (checked by getting a token)")
async def set_connector(body: ConnectorIn, request: Request, kind: str = KIND, user=Depends(admin_user)):
    rt = runtime(request)
    base = body.base_url.strip().rstrip("/")
    if origin_of(base) != base.lower() or not base.startswith(("https://", "http://")):
        return error_422("base_url", "must be an https:// origin, e.g. https://123-ABC-456.mktorest.com")
    try:
        await rt.outbound.check_url(base)
    except OutboundError as exc:
        return error_422("base_url", str(exc))
    secrets = {"client_secret": body.client_secret}
    if kind == "salesforce":
        if not body.refresh_token:
            return error_422("refresh_token", "Salesforce needs the OAuth refresh token")
        secrets["refresh_token"] = body.refresh_token
    candidate = sync.Connector(user["workspace_id"], kind, base, body.client_id, secrets, None, body.interval_seconds, None)
    try:
        await _get_token(rt, candidate)
    except sync.SyncError as exc:
        return error_422("client_secret" if kind == "marketo" else "refresh_token", str(exc))
    except httpx.HTTPError as exc:
        return error_422("base_url", f"cannot reach {base} ({exc.__class__.__name__})")
    now = rt.clock()
    values = dict(
        base_url=base,
        client_id=body.client_id,
        interval_seconds=body.interval_seconds,
        updated_at=now,
        secret=sync.connector_vault(rt.settings.secret_key).seal(json.dumps(secrets)),
        status="new",
        error=None,
    )

    return view(await asyncio.to_thread(workspace_actions.save_connector, rt, user["workspace_id"], kind, values))


@router.get("/connectors", summary="The workspace's connections and their last pass (never the secrets)")
async def list_connectors(request: Request, user=Depends(api_user)):
    rt = runtime(request)

    rows = await asyncio.to_thread(workspace_actions.list_connectors, rt, user["workspace_id"])
    return {"connectors": [view(row) for row in rows]}


@router.delete("/connectors/{kind}", status_code=204, summary="Disconnect (the credentials are deleted)")
async def delete_connector(request: Request, kind: str = KIND, user=Depends(admin_user)):
    rt = runtime(request)

    if not await asyncio.to_thread(workspace_actions.remove_connector, rt, user["workspace_id"], kind):
        return JSONResponse({"detail": f"No {kind} connection"}, 404)
    return Response(status_code=204)


@router.post("/connectors/{kind}/test", summary="Test the stored credentials by getting a token")
async def test_connector(request: Request, kind: str = KIND, user=Depends(admin_user)):
    connector = await _stored(request, user, kind)
    if connector is None:
        return JSONResponse({"detail": f"No {kind} connection"}, 404)
    try:
        await _get_token(runtime(request), connector)
    except (sync.SyncError, httpx.HTTPError) as exc:
        return JSONResponse({"ok": False, "detail": str(exc) or exc.__class__.__name__}, 502)
    return {"ok": True, "message": f"{kind.title()} answered with a token"}


@router.post("/connectors/{kind}/sync", summary="Run one pass now; answers with what it read and recorded")
async def sync_now(request: Request, kind: str = KIND, user=Depends(admin_user)):
    connector = await _stored(request, user, kind)
    if connector is None:
        return JSONResponse({"detail": f"No {kind} connection"}, 404)
    try:
        done = await sync.run_pass(runtime(request), connector)
    except sync.SyncError as exc:
        return JSONResponse({"detail": str(exc)}, 502)
    return done.to_json()


async def _stored(request: Request, user, kind: str) -> sync.Connector | None:
    found = await asyncio.to_thread(sync.load, runtime(request), user["workspace_id"], kind)
    return found[0] if found else None


async def _get_token(rt, connector: sync.Connector) -> None:
    """Credentials checked the one way that proves them: the vendor hands out a token."""
    async with rt.outbound.http_client(timeout=15) as http:
        await sync.client_for(connector, http, sync.Pace(retries=0)).token()


def view(row) -> dict:
    return {
        "kind": row["kind"],
        "base_url": row["base_url"],
        "client_id": row["client_id"],
        "secret_set": bool(row["secret"]),
        "interval_seconds": row["interval_seconds"],
        "status": row["status"],
        "error": row["error"],
        "synced_at": iso_z(row["synced_at"]),
        "has_cursor": row["cursor"] is not None,
    }
