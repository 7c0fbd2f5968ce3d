"""The browser extension's way in: the page where a signed-in rep approves it, the code-for-token
trade (actions/extension.py), and CORS for the extension's own origin (its pages and service worker
call the API with their token; no host permission, no cookies)."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.cors import CORSMiddleware

from ..actions import extension as actions
from ..core.model import Invalid
from .api.feed import error_422
from .auth import check_csrf, runtime
from .pages.app import render, signed_in_rep

router = APIRouter()
api_router = APIRouter(prefix="/api/v1")


def cors(app, settings):
    """CORS for chrome-extension:// origins (only the configured ids when some are): bearer
    tokens only — never credentials, so a page's cookies cannot be used from an extension."""
    ids = "|".join(map(re.escape, settings.extension_ids)) or "[a-p]{32}"
    return CORSMiddleware(
        app,
        allow_origin_regex=f"chrome-extension://(?:{ids})",
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["authorization", "content-type", "last-event-id"],
        max_age=600,
    )


def _allowed(request: Request, return_to: str) -> bool:
    """Whether the extension `return_to` belongs to may connect (only a well-formed return page is
    judged here; redeem_code refuses the rest)."""
    ids = runtime(request).settings.extension_ids
    return not ids or not actions.RETURN.fullmatch(return_to) or return_to.split("/")[2] in ids


@router.get("/extension/connect", include_in_schema=False)
async def connect_page(
    request: Request,
    return_to: str = Query("", max_length=200),
    code_challenge: str = Query("", max_length=100),
    state: str = Query("", max_length=100),
    user=Depends(signed_in_rep),
):
    """Asks the signed-in rep to let the extension act as them (signing in first returns here)."""
    try:
        actions.check_request(return_to, code_challenge)
        if not _allowed(request, return_to):
            raise Invalid("return_to", "this extension is not allowed on this server (LIVEFEED_EXTENSION_IDS)")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,100}", state):
            raise Invalid("state", "must be 16–100 characters of A–Z a–z 0–9 _ -")
    except Invalid as exc:
        return render(request, "extension_connect.html", status=400, user=user, error=f"{exc.field}: {exc.message}")
    return render(
        request, "extension_connect.html", user=user, error=None, return_to=return_to, code_challenge=code_challenge, state=state
    )


@router.post("/extension/connect", include_in_schema=False)
async def connect(
    request: Request,
    return_to: str = Form("", max_length=200),
    code_challenge: str = Form("", max_length=100),
    state: str = Form("", max_length=100),
    decision: str = Form(""),
    csrf: str = Form(""),
    user=Depends(signed_in_rep),
):
    check_csrf(request, csrf)
    rt = runtime(request)
    try:
        actions.check_request(return_to, code_challenge)
        if not _allowed(request, return_to) or not re.fullmatch(r"[A-Za-z0-9_-]{16,100}", state):
            raise Invalid("return_to", "not allowed")
    except Invalid as exc:
        return render(request, "extension_connect.html", status=400, user=user, error=f"{exc.field}: {exc.message}")
    if decision != "approve":
        answer = {"error": "access_denied", "state": state}
    else:
        answer = {
            "code": actions.issue_code(
                rt.signer, user_id=user["id"], return_to=return_to, challenge=code_challenge, now=rt.clock()
            ),
            "state": state,
        }
    response = RedirectResponse(f"{return_to}?{urlencode(answer)}", status_code=303)
    response.headers["referrer-policy"] = "no-referrer"
    return response


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(..., max_length=200, description="From the connect page's answer")
    code_verifier: str = Field(..., max_length=128, description="The PKCE verifier whose SHA-256 was the code_challenge")
    return_to: str = Field(..., max_length=200, description="chrome-extension://<id>/connected.html, as on the connect page")


@api_router.post(
    "/extension/token",
    summary="The browser extension trades its connect code for an API token of its own",
    responses={422: {"description": "The code is invalid, expired, used, or for another verifier or extension"}},
)
async def extension_token(body: TokenIn, request: Request):
    rt = runtime(request)
    try:
        if not _allowed(request, body.return_to):
            raise Invalid("return_to", "this extension is not allowed on this server (LIVEFEED_EXTENSION_IDS)")
        token, user = await asyncio.to_thread(
            actions.redeem_code,
            rt.engine,
            rt.signer,
            code=body.code,
            verifier=body.code_verifier,
            return_to=body.return_to,
            now=rt.clock(),
        )
    except Invalid as exc:
        return error_422(exc.field, exc.message)
    return JSONResponse({"token": token, "user": user}, headers={"cache-control": "no-store"})
