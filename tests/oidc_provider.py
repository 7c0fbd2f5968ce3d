"""A local stand-in for Google's and Microsoft's OpenID providers, following their documented
request and response shapes:

- Google: "OpenID Connect" (developers.google.com/identity/openid-connect/openid-connect) —
  discovery at /.well-known/openid-configuration, the authorization request, the token exchange
  (`code`, `client_id`, `client_secret`, `redirect_uri`, `grant_type=authorization_code`), the ID
  token's claims (`iss`, `aud`, `sub`, `email`, `email_verified`, `name`, `nonce`, `iat`, `exp`), keys
  at `jwks_uri`.
- Microsoft: "OpenID Connect on the Microsoft identity platform" and "ID token claims reference"
  (learn.microsoft.com/entra/identity-platform) — multi-tenant discovery whose issuer is
  `…/{tenantid}/v2.0`, tokens whose `iss` names the user's tenant (`tid`); the optional claims
  `email` and `xms_edov` ("Optional claims reference").
- PKCE S256 (RFC 7636 §4.6) is checked at the token endpoint; a code works once.

Knobs let a test make it refuse, lie or rotate its keys.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from .standin import StandIn

TENANT = "9d2f6c1e-5b0a-4c3e-8f7a-2b1c0d9e8f7a"


@dataclass
class Knobs:
    claims: dict = field(default_factory=dict)  # the signed-in person's claims (email, name…)
    deny: bool = False  # the person declines consent: error=access_denied
    audience: str | None = None  # sign for another client
    lifetime: int = 3600  # seconds until exp (negative: already expired)
    forge: bool = False  # sign with a key that is not published
    reuse_codes: bool = False  # accept a code twice (to reach LiveFeed's own nonce check)
    withhold_scopes: tuple[str, ...] = ()  # scopes the person unticks on the consent screen (Google's granular consent)


class OpenIdStandIn(StandIn):
    def __init__(self, kind: str, *, client_id: str, client_secret: str, clock):
        self.kind, self.client_id, self.client_secret, self.clock = kind, client_id, client_secret, clock
        self.knobs = Knobs()
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig", "alg": "RS256"})]
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token → the scope it grants (removed when revoked)
        self.revoked: list[str] = []
        self.access_tokens: set[str] = set()  # what the mail API stand-ins accept (tests empty it: "expired")
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []
        super().__init__()
        self.app = self._build()

    def rotate(self) -> None:
        """Publish a new key and sign with it from now on (providers rotate without notice)."""
        self.keys.insert(
            0, RSAKey.generate_key(2048, parameters={"kid": f"key-{len(self.keys) + 1}", "use": "sig", "alg": "RS256"})
        )

    @property
    def issuer(self) -> str:
        return f"{self.url}/{{tenantid}}/v2.0" if self.kind == "microsoft" else self.url

    @property
    def discovery_url(self) -> str:
        base = f"{self.url}/organizations/v2.0" if self.kind == "microsoft" else self.url
        return f"{base}/.well-known/openid-configuration"

    def id_token(self, nonce: str) -> str:
        now = int(self.clock().timestamp())
        claims = {
            "iss": self.url if self.kind == "google" else f"{self.url}/{TENANT}/v2.0",
            "aud": self.knobs.audience or self.client_id,
            "sub": "subject-1",
            "iat": now,
            "exp": now + self.knobs.lifetime,
            "nonce": nonce,
            **self.knobs.claims,
        }
        if self.kind == "microsoft":
            claims.setdefault("tid", TENANT)
        key = RSAKey.generate_key(2048, parameters={"kid": self.keys[0].kid}) if self.knobs.forge else self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        @app.get("/organizations/v2.0/.well-known/openid-configuration")
        async def discovery():
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/keys",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                **({"revocation_endpoint": f"{self.url}/revoke"} if self.kind == "google" else {}),
            }

        @app.get("/keys")
        async def keys():
            return KeySet(self.keys).as_dict(private=False)

        @app.get("/authorize")
        async def authorize(request: Request):
            query = dict(request.query_params)
            self.authorize_requests.append(query)
            if self.knobs.deny:
                return RedirectResponse(
                    f"{query['redirect_uri']}?{urlencode({'error': 'access_denied', 'state': query.get('state', '')})}"
                )
            code = secrets.token_urlsafe(16)
            self.codes[code] = query
            return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}")

        @app.post("/token")
        async def token(request: Request):
            form = dict(await request.form())
            self.token_requests.append(form)
            basic = request.headers.get("authorization", "")
            expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if basic != expected:
                return JSONResponse({"error": "invalid_client"}, 401)
            if form.get("grant_type") == "refresh_token":  # RFC 6749 §6
                scope = self.refresh_tokens.get(form.get("refresh_token", ""))
                if scope is None:
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400
                    )
                access = "at-" + secrets.token_urlsafe(24)
                self.access_tokens.add(access)
                return {"access_token": access, "token_type": "Bearer", "expires_in": 3599, "scope": scope}
            code = form.get("code", "")
            asked = self.codes.get(code) if self.knobs.reuse_codes else self.codes.pop(code, None)
            if (
                form.get("grant_type") != "authorization_code"
                or asked is None
                or asked["redirect_uri"] != form.get("redirect_uri")
            ):
                return JSONResponse({"error": "invalid_grant"}, 400)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if asked.get("code_challenge_method") != "S256" or challenge != asked.get("code_challenge"):
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
            scope = " ".join(s for s in asked.get("scope", "").split() if s not in self.knobs.withhold_scopes)
            answer = {
                "access_token": "at-" + secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 3599,
                "scope": scope,
                "id_token": self.id_token(asked.get("nonce", "")),
            }
            self.access_tokens.add(answer["access_token"])
            offline = asked.get("access_type") == "offline" if self.kind == "google" else "offline_access" in scope.split()
            if offline:
                answer["refresh_token"] = "rt-" + secrets.token_urlsafe(24)
                self.refresh_tokens[answer["refresh_token"]] = scope
            return answer

        if self.kind == "google":

            @app.post("/revoke")  # Google: "Revoking a token" — POST token=…, 200 when revoked
            async def revoke(request: Request):
                token = dict(await request.form()).get("token", "")
                if self.refresh_tokens.pop(token, None) is None:
                    return JSONResponse({"error": "invalid_token"}, 400)
                self.revoked.append(token)
                return {}

        return app
