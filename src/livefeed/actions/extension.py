"""The browser extension's own API token, handed over without a password ever reaching it.

The extension opens `/extension/connect` in a tab with a PKCE challenge and its own page as the
place to return to; the signed-in rep approves; the server answers that page with a short-lived,
single-use code bound to the challenge and the return address; the extension trades the code and
its verifier for an API token named for it (listed and revocable like any token). It is the OAuth
authorization-code flow with PKCE (RFC 7636) between LiveFeed and its own extension."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from ..core.model import Invalid
from ..core.tokens import EXTENSION, TokenSigner
from ..db.tables import users
from .sessions import create_token, use_once

CODE_SECONDS = 120
TOKEN_NAME = "Chrome extension"
# Chrome's extension ids are 32 letters a–p; the page the extension finishes on is fixed.
RETURN = re.compile(r"chrome-extension://[a-p]{32}/connected\.html")
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url(SHA-256), unpadded
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1


def check_request(return_to: str, challenge: str) -> None:
    if not RETURN.fullmatch(return_to or ""):
        raise Invalid("return_to", "must be chrome-extension://<the extension's id>/connected.html")
    if not CHALLENGE.fullmatch(challenge or ""):
        raise Invalid("code_challenge", "must be the base64url SHA-256 of the verifier (43 characters)")


def _purpose(expires: int, return_to: str, challenge: str) -> bytes:
    bound = hashlib.sha256(f"{return_to}\n{challenge}".encode()).digest()
    return EXTENSION + str(expires).encode() + bound


def issue_code(signer: TokenSigner, *, user_id: int, return_to: str, challenge: str, now: datetime) -> str:
    """A code for `user_id`, good once, for CODE_SECONDS, only with this return address and challenge."""
    check_request(return_to, challenge)
    expires = int(now.timestamp()) + CODE_SECONDS
    return f"{expires}.{signer.sign(_purpose(expires, return_to, challenge), user_id)}"


def redeem_code(
    engine: Engine, signer: TokenSigner, *, code: str, verifier: str, return_to: str, now: datetime
) -> tuple[str, dict]:
    """(a new API token, its user) for a valid, unused code and the verifier of its challenge;
    Invalid("code") for anything else (expired, used, another challenge or return address)."""
    if not VERIFIER.fullmatch(verifier or ""):
        raise Invalid("code_verifier", "must be 43–128 characters of A–Z a–z 0–9 . _ ~ -")
    if not RETURN.fullmatch(return_to or ""):
        raise Invalid("return_to", "must be chrome-extension://<the extension's id>/connected.html")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    expires, _, signed = (code or "").partition(".")
    refused = Invalid("code", "is invalid, has expired or was used: connect the extension again")
    if not expires.isdigit() or len(expires) > 12 or int(expires) < now.timestamp():
        raise refused
    user_id = signer.verify(_purpose(int(expires), return_to, challenge), signed)
    if user_id is None:
        raise refused
    if not use_once(
        engine, "extension:" + code, expires=datetime.fromtimestamp(int(expires), tz=now.tzinfo) + timedelta(seconds=1), now=now
    ):
        raise refused
    with engine.connect() as conn:
        user = (
            conn.execute(select(users.c.id, users.c.email, users.c.name, users.c.disabled_at).where(users.c.id == user_id))
            .mappings()
            .first()
        )
    if user is None or user["disabled_at"] is not None:
        raise refused
    token = create_token(engine, email=user["email"], now=now, name=TOKEN_NAME)
    return token, {"id": user["id"], "email": user["email"], "name": user["name"]}
