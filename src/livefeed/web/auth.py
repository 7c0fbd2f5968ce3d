"""Who is asking: a bearer API token, or a session cookie set by the web sign-in."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from http.cookies import CookieError, SimpleCookie

from fastapi import HTTPException, Request

from .. import actions

SESSION_COOKIE = "lf_session"
CSRF_COOKIE = "lf_csrf"


def runtime(request: Request):
    return request.app.state.runtime


async def authenticate(rt, authorization: str | None, session: str | None):
    """The user behind a bearer token, else behind a session cookie, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await asyncio.to_thread(_with_conn, rt, actions.user_for_token, token.strip())
    if session:
        return await asyncio.to_thread(_with_conn, rt, lambda conn, t: actions.user_for_session(conn, t, now=rt.clock()), session)
    return None


def cookie_value(header: bytes | None, name: str = SESSION_COOKIE) -> str | None:
    """One cookie's value from a raw Cookie header (for the raw ASGI paths)."""
    if not header or name.encode() not in header:
        return None
    try:
        morsel = SimpleCookie(header.decode("latin-1")).get(name)
    except CookieError:
        return None
    return morsel.value if morsel else None


async def _lookup(request: Request):
    return await authenticate(runtime(request), request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))


def _with_conn(rt, fn, *args):
    with rt.engine.connect() as conn:
        return fn(conn, *args)


async def api_user(request: Request):
    """FastAPI dependency for the JSON API: 401 unless a valid token or session is presented."""
    user = await _lookup(request)
    if user is None:
        raise HTTPException(401, "Sign in or send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    return user


async def page_user(request: Request):
    """The signed-in rep of a page request, or None."""
    if request.cookies.get(SESSION_COOKIE) is None:
        return None
    return await _lookup(request)


def csrf_token(request: Request) -> str:
    """The double-submit token: the CSRF cookie's value (issued on the first page view)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(403, "The form expired or came from another site: reload the page and try again.")
