"""Who is asking: a bearer API token, or a session cookie set by the web sign-in."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections import OrderedDict
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie

from fastapi import HTTPException, Request

from .. import actions
from ..core.secrets import secret_hash

SESSION_COOKIE = "lf_session"
CSRF_COOKIE = "lf_csrf"


def runtime(request: Request):
    return request.app.state.runtime


class Credentials:
    """Who a token or session is, remembered for TTL seconds: most API calls skip the lookup (and
    its thread hop). A session signed out here is forgotten at once; another worker may accept it
    for up to TTL seconds more. Unknown credentials are never remembered."""

    TTL = timedelta(seconds=10)
    MAX = 10_000

    def __init__(self) -> None:
        self._known: OrderedDict[str, tuple[datetime, object]] = OrderedDict()

    def get(self, key: str, now: datetime):
        found = self._known.get(key)
        if found is None or found[0] <= now:
            return None
        return found[1]

    def put(self, key: str, user, until: datetime) -> None:
        self._known[key] = (until, user)
        self._known.move_to_end(key)
        while len(self._known) > self.MAX:
            self._known.popitem(last=False)

    def forget(self, key: str) -> None:
        self._known.pop(key, None)

    def clear(self) -> None:
        """A user changed (a role): look everyone up again (other workers within TTL)."""
        self._known.clear()


def credentials(rt) -> Credentials:
    cache = getattr(rt, "credentials", None)
    if cache is None:
        cache = rt.credentials = Credentials()
    return cache


async def authenticate(rt, authorization: str | None, session: str | None):
    """The user behind a bearer token, else behind a session cookie, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    now = rt.clock()
    if scheme.lower() == "bearer" and token.strip():
        key = "t" + secret_hash(token.strip())
        lookup = lambda conn: actions.user_for_token(conn, token.strip(), now=now)  # noqa: E731
    elif session:
        key = "s" + secret_hash(session)
        lookup = lambda conn: actions.user_for_session(conn, session, now=now)  # noqa: E731
    else:
        return None
    cache = credentials(rt)
    user = cache.get(key, now)
    if user is None:
        user = await asyncio.to_thread(_with_conn, rt, lookup)
        if user is not None:
            until = now + Credentials.TTL
            if key[0] == "s":
                until = min(until, user["expires_at"])
            cache.put(key, user, until)
    return user


def forget_session(rt, session: str) -> None:
    credentials(rt).forget("s" + secret_hash(session))


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


def _with_conn(rt, fn):
    with rt.engine.connect() as conn:
        return fn(conn)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "x-csrf-token"


async def api_user(request: Request):
    """FastAPI dependency for the JSON API: 401 unless a valid token or session is presented; a
    session (cookie) that changes something must also prove the request comes from our own pages."""
    user = await _lookup(request)
    if user is None:
        raise HTTPException(401, "Sign in or send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not _has_bearer(request):
        check_same_origin(request)
    return user


def _has_bearer(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def check_same_origin(request: Request) -> None:
    """403 unless the request carries the page's CSRF token (double submit: header = cookie) and
    comes from this server's origin — the two checks OWASP's CSRF cheat sheet pairs."""
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise HTTPException(
            403, f"Changes made with a session need the page's {CSRF_HEADER} header: reload the page and try again"
        )
    origin = request.headers.get("origin")
    if not origin or not _is_our_origin(request, origin):
        raise HTTPException(403, "This request came from another site")


def _is_our_origin(request: Request, origin: str) -> bool:
    public = runtime(request).settings.public_url
    ours = "://".join(public.split("://", 1)[:1] + [public.split("://", 1)[1].split("/", 1)[0]])
    host = request.headers.get("host")
    return origin.lower() == ours.lower() or (host is not None and origin.split("://", 1)[-1].lower() == host.lower())


async def admin_user(request: Request):
    """FastAPI dependency for workspace settings: 403 unless the rep is a workspace admin."""
    user = await api_user(request)
    if user["role"] != "admin":
        raise HTTPException(403, "Only a workspace admin can change this")
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


async def text_form(request: Request) -> dict[str, str]:
    """A posted form's text fields. A file sent where text is expected is left out, so it reads as
    missing (a clear 4xx from the action) instead of reaching code that expects text."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(403, "The form expired or came from another site: reload the page and try again.")
