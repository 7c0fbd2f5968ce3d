"""Google and Microsoft as OpenID Connect providers: the authorization request (code flow, PKCE
S256, state, nonce), the code exchange and the ID token's verification.

Authlib builds the authorization URL and exchanges the code; joserfc (Authlib's JOSE library)
checks the ID token — its signature against the provider's JWKS (fetched again when a token names
a key id it has not seen: providers rotate keys), `iss`, `aud`, `exp` and `nonce`. The endpoints
come from the provider's discovery document (OpenID Connect Discovery 1.0), which the operator's
configuration names: they are trusted, not subject to the outbound policy for user-named hosts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from ..settings import OidcSettings

SCOPE = "openid email profile"
# Connecting mail: send as the rep and read their new mail (replies), with a refresh token.
# Google: the Gmail API scopes, access_type=offline and prompt=consent (Google's "Using OAuth 2.0 for
# Web Server Applications": a refresh token comes only with offline access, and again only on consent).
# Microsoft: Graph's delegated Mail.Send and Mail.Read, and offline_access for the refresh token.
MAIL_SCOPES = {
    "google": "openid email https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/gmail.readonly",
    "microsoft": "openid email offline_access Mail.Send Mail.Read",
}
MAIL_EXTRA = {"google": {"access_type": "offline", "prompt": "consent"}, "microsoft": {}}
DISCOVERY_SECONDS = 3600.0  # re-read the discovery document and keys at most hourly (unless a new kid appears)
LEEWAY_SECONDS = 60  # clock skew allowed on exp / iat
TIMEOUT_SECONDS = 15.0


class IdentityError(Exception):
    """The provider's answer or token is not acceptable; str() says why, for the refusal page."""


class GrantRevoked(IdentityError):
    """The refresh token no longer works: the rep must connect again."""


class OpenIdProvider:
    """One configured provider (google or microsoft), its discovery document and keys cached."""

    def __init__(self, name: str, settings: OidcSettings, *, monotonic: Callable[[], float] = time.monotonic):
        self.name, self.settings, self._monotonic = name, settings, monotonic
        self._metadata: dict | None = None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")

    async def metadata(self) -> dict:
        if self._metadata is None or self._monotonic() - self._fetched_at > DISCOVERY_SECONDS:
            self._metadata = await self._get_json(self.settings.discovery_url)
            self._keys = None
            self._fetched_at = self._monotonic()
        return self._metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(await self._get_json((await self.metadata())["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    async def _get_json(self, url: str) -> dict:
        try:
            async with httpx2.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.get(url)
                response.raise_for_status()
                return response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise IdentityError(f"{self.name.title()} could not be reached ({exc.__class__.__name__})") from None

    def _client(self, redirect_uri: str | None = None, scope: str = SCOPE) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            self.settings.client_id,
            self.settings.client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT_SECONDS,
        )

    async def authorization_url(
        self, redirect_uri: str, *, state: str, nonce: str, code_verifier: str, scope: str = SCOPE, **extra: str
    ) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        url, _ = self._client(redirect_uri, scope).create_authorization_url(
            endpoint, state=state, nonce=nonce, code_verifier=code_verifier, **extra
        )
        return url

    async def refresh(self, refresh_token: str, *, token_endpoint: str) -> dict:
        """A fresh access token from the endpoint that issued `refresh_token` (and no other).
        GrantRevoked when the provider says the grant is gone (revoked, expired, password changed)."""
        try:
            async with self._client() as client:
                return dict(await client.refresh_token(token_endpoint, refresh_token=refresh_token))
        except httpx2.HTTPError as exc:
            raise IdentityError(f"{self.name.title()} could not be reached ({exc.__class__.__name__})") from None
        except Exception as exc:  # Authlib's OAuth errors
            if getattr(exc, "error", None) == "invalid_grant":
                raise GrantRevoked(f"{self.name.title()} no longer accepts this connection: reconnect") from None
            raise IdentityError(
                f"{self.name.title()} refused to refresh the connection ({getattr(exc, 'error', None) or exc.__class__.__name__})"
            ) from None

    async def revoke(self, token: str) -> bool:
        """Revoke a grant where the provider offers it (Google's revocation endpoint, RFC 7009);
        False where it does not (Microsoft has no revocation endpoint for a single grant)."""
        endpoint = (await self.metadata()).get("revocation_endpoint")
        if not endpoint:
            return False
        try:
            async with httpx2.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.post(endpoint, data={"token": token})
        except httpx2.HTTPError:
            return False
        return response.status_code == 200

    async def exchange(self, code: str, redirect_uri: str, *, code_verifier: str) -> dict:
        """The token response for an authorization code (PKCE: the verifier goes with it)."""
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            async with self._client(redirect_uri) as client:
                return dict(
                    await client.fetch_token(endpoint, grant_type="authorization_code", code=code, code_verifier=code_verifier)
                )
        except httpx2.HTTPError as exc:
            raise IdentityError(f"{self.name.title()} could not be reached ({exc.__class__.__name__})") from None
        except Exception as exc:  # Authlib's OAuth errors: the provider refused the code
            raise IdentityError(
                f"{self.name.title()} refused the sign-in ({getattr(exc, 'error', None) or exc.__class__.__name__})"
            ) from None

    async def verify(self, id_token: str, *, nonce: str, now: datetime) -> dict:
        """The ID token's claims once its signature, issuer, audience, expiry and nonce hold."""
        try:
            kid = extract_compact(id_token.encode()).protected.get("kid")
        except (JoseError, ValueError):
            raise IdentityError("the ID token is malformed") from None
        keys = await self.keys()
        if kid is not None and not any(key.kid == kid for key in keys.keys):
            keys = await self.keys(refresh=True)  # a key the provider rotated in since we last looked
        try:
            token = jwt.decode(id_token, keys, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise IdentityError(f"the ID token's signature does not verify ({exc.__class__.__name__})") from None
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer(await self.metadata(), claims)},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise IdentityError(f"the ID token is not for this sign-in ({exc.__class__.__name__}: {exc.error})") from None
        return claims

    def issuer(self, metadata: dict, claims: dict) -> str:
        """The issuer the token must name. Microsoft's multi-tenant discovery says
        `https://login.microsoftonline.com/{tenantid}/v2.0`: the token's own tenant (`tid`) fills it."""
        issuer = metadata["issuer"]
        if "{tenantid}" in issuer:
            issuer = issuer.replace("{tenantid}", str(claims.get("tid", "")))
        return issuer


def providers(google: OidcSettings | None, microsoft: OidcSettings | None) -> dict[str, OpenIdProvider]:
    """The configured providers by name."""
    found = {}
    if google is not None:
        found["google"] = OpenIdProvider("google", google)
    if microsoft is not None:
        found["microsoft"] = OpenIdProvider("microsoft", microsoft)
    return found
