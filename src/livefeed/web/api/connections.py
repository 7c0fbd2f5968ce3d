"""The rep's Google or Microsoft mail connection: show it (never a token) and disconnect it.

Connecting is a browser flow (GET /connect/google, /connect/microsoft: web/oauth.py)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ...actions import connections
from ...db.vault import VaultError
from ..auth import api_user, runtime
from . import documented

router = APIRouter(prefix="/api/v1")
NONE = documented(404, "No Google or Microsoft account connected")


@router.get("/mail-connection", summary="Your connected Google or Microsoft account (never a token)", responses=NONE)
async def get_connection(request: Request, user=Depends(api_user)):
    row = await asyncio.to_thread(connections.read_connection, runtime(request).engine, user["id"])
    if row is None:
        return JSONResponse({"detail": "No Google or Microsoft account connected"}, 404)
    return connections.view(row)


@router.delete(
    "/mail-connection",
    summary="Disconnect: the grant is revoked at Google (Microsoft has no revocation for "
    "one grant: remove LiveFeed under your account's app permissions) and the token deleted",
    responses=NONE,
)
async def delete_connection(request: Request, user=Depends(api_user)):
    rt = runtime(request)
    row = await asyncio.to_thread(connections.remove_connection, rt.engine, user["id"])
    if row is None:
        return JSONResponse({"detail": "No Google or Microsoft account connected"}, 404)
    revoked = False
    provider = rt.identity.get(row["provider"])
    if provider is not None:
        try:
            token = connections.connection_vault(rt.settings.secret_key).open(row["secret"])
            revoked = await provider.revoke(token)
        except VaultError:
            pass
    note = (
        "Disconnected; Google revoked LiveFeed's access."
        if revoked
        else "Disconnected; the token is deleted. Microsoft offers no way to revoke one app's access from here: remove "
        "LiveFeed at https://myapps.microsoft.com (or myaccount.microsoft.com → App permissions) if you want it gone there too."
        if row["provider"] == "microsoft"
        else "Disconnected; the token is deleted (Google could not be reached to revoke it)."
    )
    return {"provider": row["provider"], "address": row["address"], "revoked": revoked, "message": note}
