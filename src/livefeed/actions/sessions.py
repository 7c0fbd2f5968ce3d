"""Signing in and staying signed in: passwords (with a lockout against guessing), single-use
sign-in links, sessions and API tokens that expire and can be revoked, disabled users."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..core import compose, identity
from ..core.model import Invalid
from ..core.secrets import check_password, hash_password, new_secret, secret_hash
from ..core.tokens import SIGNIN, TokenSigner
from ..db.tables import api_tokens, sessions, signin_failures, used_signin_links, user_ips, users, workspaces

log = logging.getLogger(__name__)

SESSION_DAYS = 30
SIGNIN_LINK_MINUTES = 15
# Guessing: 5 wrong passwords for one address, or 20 from one client address, within 15 minutes
# lock further attempts until the oldest of them is 15 minutes old (OWASP's Authentication Cheat
# Sheet: lock out per account and throttle per source, the same answer for unknown accounts).
FAILURE_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
TOKEN_NAME_MAX = 100


class SignInLocked(Exception):
    """Too many failed sign-ins: try again in `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash checked for unknown addresses and password-less users, so every sign-in costs one scrypt."""
    return hash_password("decoy: no account has this password")


def find_user(conn: Connection, email: str):
    return conn.execute(select(users).where(users.c.email == email.strip().lower())).mappings().first()


# --- passwords ----------------------------------------------------------------------------------


def sign_in(engine: Engine, *, email: str, password: str, ip: str | None, now: datetime, user_agent: str | None = None):
    """Check the password; (user, session token) or None; SignInLocked while guessing is locked out.

    Known, unknown, password-less and disabled accounts cost the same work and answer the same."""
    typed = email.strip().lower()[:254]
    with engine.connect() as conn:
        _refuse_when_locked(conn, typed, ip, now)
        user = find_user(conn, typed)
    stored = user["password_hash"] if user is not None and user["password_hash"] else _decoy_hash()
    if not check_password(password, stored) or user is None or not user["password_hash"] or user["disabled_at"] is not None:
        _record_failure(engine, typed, ip, now)
        return None
    with engine.begin() as conn:
        conn.execute(delete(signin_failures).where(signin_failures.c.email == typed))
    return user, start_session(engine, user_id=user["id"], ip=ip, now=now, user_agent=user_agent)


def _refuse_when_locked(conn: Connection, email: str, ip: str | None, now: datetime) -> None:
    since = now - FAILURE_WINDOW
    waits = []
    for column, value, limit in (
        (signin_failures.c.email, email, ACCOUNT_FAILURES),
        (signin_failures.c.ip, ip, ADDRESS_FAILURES),
    ):
        if value is None:
            continue
        times = list(
            conn.execute(
                select(signin_failures.c.at)
                .where(column == value, signin_failures.c.at > since)
                .order_by(signin_failures.c.at)
                .limit(limit)
            ).scalars()
        )
        if len(times) >= limit:
            waits.append(times[0] + FAILURE_WINDOW - now)
    if waits:
        raise SignInLocked(max(1, int(max(waits).total_seconds() + 0.999)))


def _record_failure(engine: Engine, email: str, ip: str | None, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(delete(signin_failures).where(signin_failures.c.at <= now - FAILURE_WINDOW))
        conn.execute(insert(signin_failures).values(email=email, ip=ip, at=now))
        count = conn.execute(
            select(func.count())
            .select_from(signin_failures)
            .where(signin_failures.c.email == email, signin_failures.c.at > now - FAILURE_WINDOW)
        ).scalar()
        by_ip = (
            conn.execute(
                select(func.count())
                .select_from(signin_failures)
                .where(signin_failures.c.ip == ip, signin_failures.c.at > now - FAILURE_WINDOW)
            ).scalar()
            if ip
            else 0
        )
    if count == ACCOUNT_FAILURES:
        log.warning("sign-in locked for %r: %d failed attempts in %d minutes", email, count, FAILURE_WINDOW.seconds // 60)
    if by_ip == ADDRESS_FAILURES:
        log.warning("sign-in locked for client %s: %d failed attempts in %d minutes", ip, by_ip, FAILURE_WINDOW.seconds // 60)


# --- sessions -----------------------------------------------------------------------------------


def start_session(engine: Engine, *, user_id: int, ip: str | None, now: datetime, user_agent: str | None = None) -> str:
    """A new session; the sign-in address is remembered so the rep's own opens are recognised."""
    token = new_secret("lfs_")
    with engine.begin() as conn:
        conn.execute(
            insert(sessions).values(
                user_id=user_id,
                token_hash=secret_hash(token),
                created_at=now,
                expires_at=now + timedelta(days=SESSION_DAYS),
                ip=ip,
                user_agent=(user_agent or "")[:300] or None,
            )
        )
        if ip:
            remember_ip(conn, user_id=user_id, ip=ip, now=now)
    return token


def remember_ip(conn: Connection, *, user_id: int, ip: str, now: datetime) -> None:
    updated = conn.execute(update(user_ips).where(user_ips.c.user_id == user_id, user_ips.c.ip == ip).values(last_seen=now))
    if not updated.rowcount:
        conn.execute(insert(user_ips).values(user_id=user_id, ip=ip, last_seen=now))


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == secret_hash(token)))


def user_for_session(conn: Connection, token: str, *, now: datetime):
    query = (
        select(users, sessions.c.expires_at)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == secret_hash(token), sessions.c.expires_at > now, users.c.disabled_at.is_(None))
    )
    return conn.execute(query).mappings().first()


def list_sessions(conn: Connection, user_id: int, *, now: datetime) -> list[dict]:
    rows = conn.execute(
        select(
            sessions.c.id,
            sessions.c.created_at,
            sessions.c.expires_at,
            sessions.c.ip,
            sessions.c.user_agent,
            sessions.c.token_hash,
        )
        .where(sessions.c.user_id == user_id, sessions.c.expires_at > now)
        .order_by(sessions.c.id.desc())
    )
    return [dict(row) for row in rows.mappings()]


def revoke_session(engine: Engine, *, user_id: int, session_id: int) -> bool:
    """End one of the rep's own sessions (signed out there at once); False when there is none."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(sessions).where(sessions.c.id == session_id, sessions.c.user_id == user_id)).rowcount)


# --- sign-in links ------------------------------------------------------------------------------


def signin_link_token(signer: TokenSigner, *, user_id: int, now: datetime) -> str:
    expires = int(now.timestamp()) + SIGNIN_LINK_MINUTES * 60
    return f"{expires}.{signer.sign(SIGNIN + str(expires).encode(), user_id)}"


def user_for_signin_link(signer: TokenSigner, token: str, *, now: datetime) -> int | None:
    """Whose link this is while it is valid; it is not used up (see use_signin_link)."""
    expires, _, signed = token.partition(".")
    if not expires.isdigit() or len(expires) > 12 or int(expires) < now.timestamp():
        return None
    return signer.verify(SIGNIN + expires.encode(), signed)


def use_signin_link(engine: Engine, signer: TokenSigner, token: str, *, now: datetime) -> int | None:
    """The user a valid, unused sign-in link names, marking it used; None when invalid, expired,
    used before, or the user is disabled."""
    user_id = user_for_signin_link(signer, token, now=now)
    if user_id is None:
        return None
    expires = datetime.fromtimestamp(int(token.partition(".")[0]), tz=now.tzinfo)
    if not use_once(engine, "link:" + token, expires=expires, now=now):
        return None
    with engine.connect() as conn:
        disabled = conn.execute(select(users.c.disabled_at).where(users.c.id == user_id)).first()
    if disabled is None or disabled.disabled_at is not None:
        return None
    return user_id


def use_once(engine: Engine, value: str, *, expires: datetime, now: datetime) -> bool:
    """Mark `value` (a sign-in link, an OpenID nonce) used; False when it was used before."""
    try:
        with engine.begin() as conn:
            conn.execute(delete(used_signin_links).where(used_signin_links.c.expires_at < now))
            conn.execute(insert(used_signin_links).values(token_hash=secret_hash(value), expires_at=expires))
    except IntegrityError:
        return False
    return True


# --- signing in with Google or Microsoft -----------------------------------------------------------


class IdentityRefused(Exception):
    """The provider vouched for an address LiveFeed does not let in; str() says why and what to do."""


def sign_in_with_identity(
    engine: Engine, *, email: str, name: str | None, ip: str | None, now: datetime, user_agent: str | None = None
):
    """(user, session token) for an address a provider verified: its user, or a new rep of the
    workspace that lists the address's domain among its sign-in domains. IdentityRefused otherwise."""
    with engine.begin() as conn:
        user = find_user(conn, email)
        if user is None:
            workspace_id = _workspace_for_domain(conn, identity.email_domain(email))
            if workspace_id is None:
                domain = identity.email_domain(email)
                raise IdentityRefused(
                    f"{email} has no LiveFeed account, and {domain} is not one of a workspace's sign-in "
                    f"domains. Ask your LiveFeed admin to add you, or to add {domain} to the sign-in domains."
                )
            shown = " ".join((name or "").split())[:200] or email.split("@")[0]
            if compose.header_problem(shown):
                shown = email.split("@")[0]
            conn.execute(
                insert(users).values(
                    workspace_id=workspace_id, email=email, name=shown, timezone="UTC", created_at=now, role="rep"
                )
            )
            user = find_user(conn, email)
            log.info("user %s added on signing in with a sign-in domain of workspace %s", user["id"], workspace_id)
        elif user["disabled_at"] is not None:
            raise IdentityRefused("This LiveFeed account is disabled. Ask your LiveFeed admin.")
    return user, start_session(engine, user_id=user["id"], ip=ip, now=now, user_agent=user_agent)


def _workspace_for_domain(conn: Connection, domain: str) -> int | None:
    rows = conn.execute(select(workspaces.c.id, workspaces.c.signin_domains).where(workspaces.c.signin_domains != ""))
    return next((row.id for row in rows if domain in row.signin_domains.split()), None)


# --- API tokens ---------------------------------------------------------------------------------


def create_token(
    engine: Engine, *, email: str, now: datetime, expires_in: timedelta | None = None, name: str | None = None
) -> str:
    """A new API token for the user; only its hash is stored. `expires_in` None: until revoked."""
    if expires_in is not None and expires_in <= timedelta(0):
        raise Invalid("expires_in", "must be a positive duration")
    if name is not None and (len(name) > TOKEN_NAME_MAX or any(ord(c) < 32 for c in name)):
        raise Invalid("name", f"at most {TOKEN_NAME_MAX} characters on one line")
    with engine.begin() as conn:
        user = find_user(conn, email)
        if user is None:
            raise Invalid("email", f"no user {email}")
        token = new_secret("lf_")
        conn.execute(
            insert(api_tokens).values(
                user_id=user["id"],
                token_hash=secret_hash(token),
                created_at=now,
                expires_at=now + expires_in if expires_in else None,
                name=name or None,
            )
        )
        return token


def user_for_token(conn: Connection, token: str, *, now: datetime):
    query = (
        select(users)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(
            api_tokens.c.token_hash == secret_hash(token),
            users.c.disabled_at.is_(None),
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
        )
    )
    return conn.execute(query).mappings().first()


def list_tokens(conn: Connection, *, workspace_id: int, user_id: int | None) -> list[dict]:
    """Tokens (never their secret) of one user, or of every user of the workspace (`user_id` None)."""
    query = (
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
            users.c.id.label("user_id"),
            users.c.email,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(users.c.workspace_id == workspace_id)
        .order_by(api_tokens.c.id)
    )
    if user_id is not None:
        query = query.where(users.c.id == user_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def revoke_token(engine: Engine, *, token_id: int, workspace_id: int | None, user_id: int | None) -> bool:
    """Delete a token: the user's own (`user_id`), any of a workspace (`workspace_id`, an admin),
    or any at all (both None: the operator's CLI). False when there is no such token."""
    with engine.begin() as conn:
        scope = ([users.c.workspace_id == workspace_id] if workspace_id is not None else []) + (
            [users.c.id == user_id] if user_id is not None else []
        )
        owner = select(users.c.id).where(*scope)
        return bool(conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id.in_(owner))).rowcount)


def revoke_presented_token(engine: Engine, token: str) -> bool:
    """Delete the token itself (its holder giving it up)."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == secret_hash(token))).rowcount)


# --- disabled users -----------------------------------------------------------------------------


def set_disabled(engine: Engine, *, user_id: int, disabled: bool, now: datetime, workspace_id: int | None = None) -> bool:
    """Disable (sessions ended, tokens refused, sign-in refused) or enable a user; False when there
    is no such user (in `workspace_id`, when given); Invalid for the workspace's last enabled admin."""
    with engine.begin() as conn:
        where = [users.c.id == user_id] + ([users.c.workspace_id == workspace_id] if workspace_id is not None else [])
        found = conn.execute(select(users.c.role, users.c.workspace_id, users.c.disabled_at).where(*where)).first()
        if found is None:
            return False
        if disabled and found.role == "admin" and found.disabled_at is None:
            admins = conn.execute(
                select(func.count())
                .select_from(users)
                .where(users.c.workspace_id == found.workspace_id, users.c.role == "admin", users.c.disabled_at.is_(None))
            ).scalar_one()
            if admins <= 1:
                raise Invalid("disabled", "the workspace's last admin cannot be disabled: make someone else admin first")
        conn.execute(
            update(users).where(users.c.id == user_id).values(disabled_at=(found.disabled_at or now) if disabled else None)
        )
        if disabled:
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
    return True


def signin_url(signer: TokenSigner, public_url: str, *, user_id: int, now) -> str:
    return f"{public_url}/signin/link/{signin_link_token(signer, user_id=user_id, now=now)}"
