"""Sign in with Google or Microsoft: the redirect to the provider and its callback.

The flow's secrets (state, nonce, PKCE verifier) travel in a sealed, HttpOnly cookie limited to
/oauth/ for ten minutes, so the callback can check that this browser started this sign-in. Every
refusal — an error from the provider, a wrong state, a token that does not verify, a nonce seen
before, an address the provider does not vouch for, an address LiveFeed does not let in — is a
page that says so; nobody is signed in and nothing is created.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from .. import actions
from ..actions import connections
from ..core import identity
from ..db.vault import OAUTH_FLOW, Vault, VaultError, vault_for
from ..integrations.identity import MAIL_EXTRA, MAIL_SCOPES, IdentityError
from .auth import page_user, runtime
from .pages.app import _peer_ip, _signed_in, local_path, render, to_signin

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "lf_oauth"
FLOW_SECONDS = 600
NAMES = {"google": "Google", "microsoft": "Microsoft"}


def _flow_vault(rt) -> Vault:
    return vault_for(rt.settings.secret_key, OAUTH_FLOW)


def redirect_uri(rt, provider: str) -> str:
    """One redirect URI per provider, for signing in and (later) connecting mail alike."""
    return f"{rt.settings.public_url}/oauth/{provider}/callback"


def _refusal(request: Request, message: str, status: int = 400):
    response = render(request, "signin.html", status=status, error=message, email="")
    response.delete_cookie(FLOW_COOKIE, path="/oauth/")
    return response


@router.get("/signin/{provider}")
async def signin_with(request: Request, provider: str, next: str | None = Query(None, max_length=1000)):
    return await _start(request, provider, purpose="signin", then=local_path(next))


@router.get("/connect/{provider}")
async def connect_with(request: Request, provider: str):
    """A signed-in rep connects their Google or Microsoft mail: consent to send and read, offline."""
    user = await page_user(request)
    if user is None:
        return to_signin()
    return await _start(request, provider, purpose="connect", user_id=user["id"])


async def _start(request: Request, provider: str, *, purpose: str, user_id: int | None = None, then: str | None = None):
    rt = runtime(request)
    found = rt.identity.get(provider)
    if found is None:
        return _refusal(request, "Signing in that way is not set up on this server.", 404)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    extra = {"scope": MAIL_SCOPES[provider], **MAIL_EXTRA[provider]} if purpose == "connect" else {}
    try:
        url = await found.authorization_url(redirect_uri(rt, provider), state=state, nonce=nonce, code_verifier=verifier, **extra)
    except IdentityError as exc:
        return _refusal(request, f"{exc}. Try again in a moment.", 502)
    flow = {
        "provider": provider,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "user_id": user_id,
        "expires": int(rt.clock().timestamp()) + FLOW_SECONDS,
        "purpose": purpose,
        "then": then,
    }
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _flow_vault(rt).seal(json.dumps(flow)),
        max_age=FLOW_SECONDS,
        path="/oauth/",
        httponly=True,
        samesite="lax",
        secure=rt.settings.secure_cookies,
    )
    return response


@router.get("/oauth/{provider}/callback")
async def callback(request: Request, provider: str):
    rt = runtime(request)
    name = NAMES.get(provider, provider)
    found = rt.identity.get(provider)
    query = request.query_params
    if found is None:
        return _refusal(request, "Signing in that way is not set up on this server.", 404)
    if query.get("error"):
        reason = "you declined" if query["error"] == "access_denied" else f"the answer was {query['error'][:60]!r}"
        return _refusal(request, f"{name} did not sign you in: {reason}. Nobody was signed in.")
    flow = _read_flow(rt, request.cookies.get(FLOW_COOKIE))
    if flow is None or flow["provider"] != provider:
        return _refusal(request, "This sign-in expired, or was started in another browser. Start again.")
    if not hmac.compare_digest(str(query.get("state", "")), flow["state"]):
        return _refusal(request, "This sign-in does not match the one this browser started. Start again.")
    if not query.get("code"):
        return _refusal(request, f"{name} sent no authorization code. Start again.")
    try:
        token = await found.exchange(query["code"], redirect_uri(rt, provider), code_verifier=flow["verifier"])
        if not isinstance(token.get("id_token"), str):
            raise IdentityError(f"{name} sent no ID token")
        claims = await found.verify(token["id_token"], nonce=flow["nonce"], now=rt.clock())
    except IdentityError as exc:
        return _refusal(request, f"Not signed in: {exc}.")
    expires = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    if not await asyncio.to_thread(
        actions.use_once, rt.engine, f"nonce:{provider}:{flow['nonce']}", expires=expires, now=rt.clock()
    ):
        return _refusal(request, "This sign-in was used already. Start again.")
    email = identity.verified_email(provider, claims)
    if email is None:
        return _refusal(
            request, f"{name} did not confirm an email address for this account, so LiveFeed cannot tell who you are.", 403
        )
    if flow["purpose"] == "connect":
        return await _connected(request, rt, provider, flow, token, email)
    try:
        user, session = await asyncio.to_thread(
            actions.sign_in_with_identity,
            rt.engine,
            email=email,
            name=claims.get("name"),
            ip=_peer_ip(request),
            now=rt.clock(),
            user_agent=request.headers.get("user-agent"),
        )
    except actions.IdentityRefused as exc:
        return _refusal(request, str(exc), 403)
    response = _signed_in(request, user["id"], session, flow.get("then"))
    response.delete_cookie(FLOW_COOKIE, path="/oauth/")
    return response


def _read_flow(rt, sealed: str | None) -> dict | None:
    if not sealed:
        return None
    try:
        flow = json.loads(_flow_vault(rt).open(sealed))
    except (VaultError, ValueError):
        return None
    if (
        not isinstance(flow, dict)
        or flow.get("purpose") not in ("signin", "connect")
        or flow.get("expires", 0) < rt.clock().timestamp()
    ):
        return None
    return flow


async def _connected(request: Request, rt, provider: str, flow: dict, token: dict, email: str):
    """The callback of a connect flow: the same rep, a refresh token and the mail scopes granted."""
    name = NAMES[provider]
    user = await page_user(request)
    if user is None or user["id"] != flow["user_id"]:
        return _settings_answer(request, "Sign in to LiveFeed as the rep who started connecting, then connect again.", 403)
    granted = set(str(token.get("scope", MAIL_SCOPES[provider])).split())
    missing = [s for s in MAIL_SCOPES[provider].split() if s not in granted and s not in ("openid", "email", "offline_access")]
    if missing:
        return _settings_answer(
            request, f"{name} did not allow {', '.join(missing)}: connect again and allow sending and reading mail.", 403
        )
    if not token.get("refresh_token"):
        return _settings_answer(
            request, f"{name} gave no lasting access (no refresh token): connect again and accept every step.", 403
        )
    endpoint = (await rt.identity[provider].metadata())["token_endpoint"]
    await asyncio.to_thread(
        connections.connect_mail,
        rt.engine,
        connections.connection_vault(rt.settings.secret_key),
        user=user,
        provider=provider,
        address=email,
        refresh_token=token["refresh_token"],
        token_endpoint=endpoint,
        now=rt.clock(),
    )
    response = RedirectResponse(f"/app/settings?connected={provider}#mail-connection", status_code=303)
    response.delete_cookie(FLOW_COOKIE, path="/oauth/")
    return response


def _settings_answer(request: Request, message: str, status: int):
    response = render(request, "notice.html", status=status, title="Mail not connected", message=message, user=None)
    response.delete_cookie(FLOW_COOKIE, path="/oauth/")
    return response
