"""The rep's own SMTP account for sending: test (the server's exact answer), save, show, remove.

Without one, mail goes out through the server's LIVEFEED_SMTP_URL (or the local outbox). The
password is sealed before it is stored and never shown back; saving again without a password
keeps the stored one.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...actions import accounts
from ...core.model import iso_z
from ...integrations.smtp import SECURITY, MailError, SmtpOptions, check, smtp_vault
from ..auth import api_user, runtime
from . import documented
from .feed import error_422
from .mailbox import CHECK_TIMEOUT_SECONDS, server_password

router = APIRouter(prefix="/api/v1")
REFUSED = documented(422, "Invalid, or the server refused: its answer, `detail[].loc` names the setting")


class SmtpAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(..., description="SMTP server, e.g. smtp.gmail.com")
    port: int = Field(587, ge=1, le=65535)
    security: str = Field(
        "starttls",
        description="starttls (port 587), tls (implicit TLS, port 465) or plain (unencrypted: only hosts on LIVEFEED_OUTBOUND_ALLOW)",
    )
    username: str = Field(..., min_length=1, max_length=254)
    password: str | None = Field(
        None, max_length=1000, description="The password or an app password; omit to keep the stored one"
    )


async def _check(rt, body: SmtpAccountIn, user) -> tuple[str, str] | JSONResponse:
    """Validate and sign in: (password, server name), or a 422 naming the setting."""
    found = await server_password(rt, accounts.SMTP, smtp_vault(rt.settings.secret_key), SECURITY, user, body)
    if isinstance(found, JSONResponse):
        return found
    host, password = found
    options = SmtpOptions.account(
        host=host,
        port=body.port,
        security=body.security,
        username=body.username,
        password=password,
        timeout=CHECK_TIMEOUT_SECONDS,
        outbound=rt.outbound,
    )
    try:
        server = await check(options)
    except MailError as exc:
        return error_422(exc.field, str(exc))
    return password, server


@router.post("/smtp/test", summary="Test SMTP settings by signing in (nothing is sent or stored)", responses=REFUSED)
async def test_smtp(body: SmtpAccountIn, request: Request, user=Depends(api_user)):
    checked = await _check(runtime(request), body, user)
    if isinstance(checked, JSONResponse):
        return checked
    _, server = checked
    return {"ok": True, "message": f"Signed in to {server} as {body.username}: mail can go out through this account"}


@router.put("/smtp", summary="Send your email through your own SMTP account (checked by signing in)", responses=REFUSED)
async def save_smtp(body: SmtpAccountIn, request: Request, user=Depends(api_user)):
    rt = runtime(request)
    checked = await _check(rt, body, user)
    if isinstance(checked, JSONResponse):
        return checked
    password, _ = checked
    now = rt.clock()
    values = dict(
        host=body.host.strip().lower(),
        port=body.port,
        security=body.security,
        username=body.username,
        secret=smtp_vault(rt.settings.secret_key).seal(password),
        updated_at=now,
    )

    return view(await asyncio.to_thread(accounts.save_smtp, rt, user, values, now=now))


@router.get(
    "/smtp",
    summary="Your SMTP account for sending (never the password)",
    responses={404: {"description": "None: mail goes out through the server's own"}},
)
async def get_smtp(request: Request, user=Depends(api_user)):
    row = await asyncio.to_thread(accounts.read_account, runtime(request), accounts.SMTP, user["id"])
    if row is None:
        return JSONResponse({"detail": "No SMTP account: your mail goes out through the server's"}, status_code=404)
    return view(row)


@router.delete("/smtp", status_code=204, summary="Stop sending through your SMTP account (the password is deleted)")
async def delete_smtp(request: Request, user=Depends(api_user)):
    if not await asyncio.to_thread(accounts.delete_account, runtime(request), accounts.SMTP, user["id"]):
        return JSONResponse({"detail": "No SMTP account"}, status_code=404)
    return Response(status_code=204)


def view(row) -> dict:
    return {
        "host": row["host"],
        "port": row["port"],
        "security": row["security"],
        "username": row["username"],
        "password_set": bool(row["secret"]),
        "updated_at": iso_z(row["updated_at"]),
    }
