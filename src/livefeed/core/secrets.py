"""Password hashing (scrypt) and hashing of bearer secrets, standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt n=2**14, r=8, p=1: OWASP's minimum recommendation for interactive log-ins.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def new_secret(prefix: str) -> str:
    """A bearer secret (API token, session id) with a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored for a bearer secret: its SHA-256 (high-entropy input needs no salt)."""
    return hashlib.sha256(secret.encode()).hexdigest()
