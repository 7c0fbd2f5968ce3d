"""The rep's API tokens and signed-in sessions: list, create (tokens), revoke.

A token is shown once, when created; afterwards only its id, name and dates. Admins list and
revoke any token of their workspace; sessions are always the rep's own."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ... import actions
from ...core.model import iso_z
from ...core.secrets import secret_hash
from ..auth import SESSION_COOKIE, api_user, credentials, runtime
from . import documented
from .feed import IdPath, error_422

router = APIRouter(prefix="/api/v1")
NOT_FOUND = documented(404, "No such token or session of yours")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=100, description='What it is for ("Gmail extension")')
    expires_in_days: int | None = Field(90, ge=1, le=3650, description="Lifetime in days; null: until revoked")


def _token_view(row) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "user_id": row["user_id"],
        "email": row["email"],
        "created_at": iso_z(row["created_at"]),
        "expires_at": iso_z(row["expires_at"]),
    }


@router.get("/tokens", summary="Your API tokens (admins: every token of the workspace); never the token itself")
async def get_tokens(request: Request, user=Depends(api_user)):
    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return actions.list_tokens(
                conn, workspace_id=user["workspace_id"], user_id=None if user["role"] == "admin" else user["id"]
            )

    return {"tokens": [_token_view(t) for t in await asyncio.to_thread(read)]}


@router.post(
    "/tokens",
    status_code=201,
    summary="Create an API token for yourself (shown once, in this answer)",
    responses={422: {"description": "Invalid; `loc` names the field"}},
)
async def post_token(body: TokenIn, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    try:
        token = await asyncio.to_thread(
            actions.create_token, rt.engine, email=user["email"], now=rt.clock(), expires_in=lifetime, name=body.name
        )
    except actions.ActionError as exc:
        return error_422(exc.field, exc.message)
    expires = rt.clock() + lifetime if lifetime else None
    return JSONResponse({"token": token, "name": body.name, "expires_at": iso_z(expires)}, 201)


@router.delete(
    "/tokens/current",
    status_code=204,
    summary="Revoke the token this request presents (the extension's Disconnect)",
    responses={400: {"description": "The request was not made with a token"}},
)
async def delete_current_token(request: Request, user=Depends(api_user)):
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return JSONResponse({"detail": "Send the token to revoke as Authorization: Bearer <token>"}, 400)
    await asyncio.to_thread(actions.revoke_presented_token, runtime(request).engine, token.strip())
    credentials(runtime(request)).forget("t" + secret_hash(token.strip()))  # this worker refuses it at once
    return Response(status_code=204)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke an API token (yours; admins: any of the workspace)",
    responses=NOT_FOUND,
)
async def delete_token(token_id: IdPath, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    admin = user["role"] == "admin"
    done = await asyncio.to_thread(
        actions.revoke_token,
        rt.engine,
        token_id=token_id,
        workspace_id=user["workspace_id"],
        user_id=None if admin else user["id"],
    )
    if not done:
        return JSONResponse({"detail": "No such token"}, 404)
    credentials(rt).clear()  # it stops here at once; other workers within the cache's 10 seconds
    return Response(status_code=204)


@router.get("/sessions", summary="Where you are signed in (this browser is marked current)")
async def get_sessions(request: Request, user=Depends(api_user)):
    rt = runtime(request)
    mine = request.cookies.get(SESSION_COOKIE)
    current = secret_hash(mine) if mine else None

    def read():
        with rt.engine.connect() as conn:
            return actions.list_sessions(conn, user["id"], now=rt.clock())

    return {
        "sessions": [
            {
                "id": s["id"],
                "created_at": iso_z(s["created_at"]),
                "expires_at": iso_z(s["expires_at"]),
                "ip": s["ip"],
                "user_agent": s["user_agent"],
                "current": s["token_hash"] == current,
            }
            for s in await asyncio.to_thread(read)
        ]
    }


@router.delete("/sessions/{session_id}", status_code=204, summary="Sign out one of your sessions", responses=NOT_FOUND)
async def delete_session(session_id: IdPath, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    if not await asyncio.to_thread(actions.revoke_session, rt.engine, user_id=user["id"], session_id=session_id):
        return JSONResponse({"detail": "No such session"}, 404)
    credentials(rt).clear()
    return Response(status_code=204)
