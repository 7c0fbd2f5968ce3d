"""Credentials at rest (mailbox passwords, connector secrets): Fernet (AES-128-CBC + HMAC-SHA256)
with a key derived from LIVEFEED_SECRET_KEY by HKDF, one key per purpose. Stored values never
leave the server: the API shows whether a secret is set, never the secret."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Every purpose a secret is sealed for, in one place: each has its own key, so a secret sealed
# for one can never be opened as another. The strings are the HKDF info: never change one.
MAILBOX_PASSWORD = "mailbox password"  # the rep's IMAP password (edge/mailwatch.py)
SMTP_PASSWORD = "smtp password"  # the rep's SMTP password (integrations/smtp.py)
CONNECTOR_CREDENTIALS = "connector credentials"  # Marketo / Salesforce secrets (integrations/connectors.py)
MAIL_CONNECTION = "mail connection refresh token"  # Google / Microsoft grants (actions/connections.py)
OAUTH_FLOW = "oauth flow"  # the sign-in flow's state, nonce and PKCE verifier, in a cookie (web/oauth.py)
PURPOSES = (MAILBOX_PASSWORD, SMTP_PASSWORD, CONNECTOR_CREDENTIALS, MAIL_CONNECTION, OAUTH_FLOW)


def vault_for(secret_key: bytes, purpose: str) -> Vault:
    """The vault of one of PURPOSES (ValueError for any other: a new purpose is added there)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown vault purpose {purpose!r}")
    return Vault(secret_key, purpose)


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
