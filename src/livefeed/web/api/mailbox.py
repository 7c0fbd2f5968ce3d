"""The rep's mailbox, watched for replies: connect (checked against the server), show, disconnect.

The password is sealed before it is stored and never shown back: GET says only `password_set`.
"""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...actions import accounts
from ...core.model import Invalid, iso_z
from ...db.vault import Vault
from ...edge.mailwatch import SECURITY, ImapSession, MailboxConfig, MailboxError, mailbox_vault
from ..auth import api_user, runtime
from .feed import error_422

router = APIRouter(prefix="/api/v1")
HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]+\]?$")
CHECK_TIMEOUT_SECONDS = 15.0


class MailboxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(..., description="IMAP server, e.g. imap.gmail.com")
    port: int = Field(993, ge=1, le=65535)
    security: str = Field(
        "tls", description="tls (implicit TLS, port 993) or plain (unencrypted: only hosts on LIVEFEED_OUTBOUND_ALLOW)"
    )
    username: str = Field(..., min_length=1, max_length=254)
    password: str | None = Field(
        None, max_length=1000, description="The password or an app password; never shown back; omit to keep the stored one"
    )
    folder: str = Field("INBOX", min_length=1, max_length=200)


def stored_password(
    rt, kind: str, vault: Vault, user_id: int, *, host: str, port: int, security: str, username: str
) -> str | JSONResponse:
    """The rep's stored password for this exact server (actions/accounts.py), or a 422 saying why not."""
    try:
        return accounts.stored_password(rt, kind, vault, user_id, host=host, port=port, security=security, username=username)
    except Invalid as exc:
        return error_422(exc.field, exc.message)


async def server_password(rt, kind: str, vault: Vault, securities: tuple[str, ...], user, body) -> tuple[str, str] | JSONResponse:
    """The checked host name and the password to sign in with: the one in the body, else the stored
    one for this exact server; or a 422 naming the setting. Shared by the IMAP and SMTP settings."""
    host = body.host.strip().lower()
    if not HOST.match(host):
        return error_422("host", "is not a host name or an IP address")
    if body.security not in securities:
        return error_422("security", f"must be one of {', '.join(securities)}")
    password = body.password or await asyncio.to_thread(
        stored_password,
        rt,
        kind,
        vault,
        user["id"],
        host=host,
        port=body.port,
        security=body.security,
        username=body.username,
    )
    if isinstance(password, JSONResponse):
        return password
    return host, password


async def _check(rt, body: MailboxIn, user) -> tuple[MailboxConfig, bool] | JSONResponse:
    """Validate, then sign in to the server: (config, can_idle) or a 422."""
    if any(c in body.folder for c in '\r\n"'):
        return error_422("folder", "must be one line without quotes")
    found = await server_password(rt, accounts.MAILBOX, mailbox_vault(rt.settings.secret_key), SECURITY, user, body)
    if isinstance(found, JSONResponse):
        return found
    host, password = found
    config = MailboxConfig(user["id"], host, body.port, body.security, body.username, password, body.folder)
    session = ImapSession(config, CHECK_TIMEOUT_SECONDS, rt.outbound)
    try:
        await session.open()
        return config, session.can_idle
    except MailboxError as exc:
        return error_422(exc.field, str(exc))
    except Exception:  # a protocol failure: say what, never the far side's text nor the password
        return error_422("host", f"{host}:{body.port} did not answer as an IMAP server")
    finally:
        await session.close()


@router.post(
    "/mailbox/test",
    summary="Test IMAP settings by signing in (nothing is stored)",
    responses={422: {"description": "Invalid, or the server refused: the server's answer, `loc` names the setting"}},
)
async def test_mailbox(body: MailboxIn, request: Request, user=Depends(api_user)):
    checked = await _check(runtime(request), body, user)
    if isinstance(checked, JSONResponse):
        return checked
    config, can_idle = checked
    return {
        "ok": True,
        "idle": can_idle,
        "message": f"Signed in to {config.host}; folder {config.folder} opened"
        + (" (IDLE: replies arrive within seconds)" if can_idle else " (no IDLE: checked every minute)"),
    }


@router.put(
    "/mailbox",
    summary="Connect your mailbox (checked by signing in) and watch it for replies",
    responses={422: {"description": "Invalid, or the server refused: `detail[].loc` names the setting"}},
)
async def connect_mailbox(body: MailboxIn, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    checked = await _check(rt, body, user)
    if isinstance(checked, JSONResponse):
        return checked
    config, _ = checked
    host = config.host
    now = rt.clock()
    values = dict(
        host=host,
        port=body.port,
        security=body.security,
        username=body.username,
        secret=mailbox_vault(rt.settings.secret_key).seal(config.password),
        folder=body.folder,
        status="connecting",
        error=None,
        updated_at=now,
    )

    answer = view(await asyncio.to_thread(accounts.save_mailbox, rt, user, values, now=now))
    if rt.services is not None:
        await rt.services.changed_mailbox(user["id"])
    return JSONResponse(answer)


@router.get("/mailbox", summary="Your connected mailbox and the watcher's state (never the password)")
async def get_mailbox(request: Request, user=Depends(api_user)):
    rt = runtime(request)

    row = await asyncio.to_thread(accounts.read_account, rt, accounts.MAILBOX, user["id"])
    if row is None:
        return JSONResponse({"detail": "No mailbox connected"}, status_code=404)
    return JSONResponse(view(row))


@router.delete("/mailbox", status_code=204, summary="Disconnect your mailbox (the password is deleted)")
async def delete_mailbox(request: Request, user=Depends(api_user)):
    rt = runtime(request)
    if not await asyncio.to_thread(accounts.delete_account, rt, accounts.MAILBOX, user["id"]):
        return JSONResponse({"detail": "No mailbox connected"}, status_code=404)
    if rt.services is not None:
        await rt.services.changed_mailbox(user["id"])
    return Response(status_code=204)


def view(row) -> dict:
    return {
        "host": row["host"],
        "port": row["port"],
        "security": row["security"],
        "username": row["username"],
        "folder": row["folder"],
        "password_set": bool(row["secret"]),
        "status": row["status"],
        "error": row["error"],
        "checked_at": iso_z(row["checked_at"]),
        "last_uid": row["last_uid"],
        "updated_at": iso_z(row["updated_at"]),
    }
