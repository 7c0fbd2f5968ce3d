"""Credentials at rest (mailbox passwords, connector secrets): Fernet (AES-128-CBC + HMAC-SHA256)
with a key derived from LIVEFEED_SECRET_KEY by HKDF, one key per purpose. Stored values never
leave the server: the API shows whether a secret is set, never the secret."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class VaultError(ValueError):
    """A stored secret does not decrypt: the server's secret key changed since it was stored."""


class Vault:
    def __init__(self, secret_key: bytes, purpose: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"livefeed vault", info=purpose.encode()).derive(secret_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise VaultError("stored credentials do not decrypt with this LIVEFEED_SECRET_KEY; enter them again") from None

    def __repr__(self) -> str:  # never the key
        return "Vault(…)"
