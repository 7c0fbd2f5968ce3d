"""Sending as the rep through their provider: the Gmail API or Microsoft Graph.

Each copy is the same MIME message as over SMTP (the per-copy pixel, links and signed Message-ID),
sent through the rep's own account so it lands in their Sent folder, addressed to its recipient
alone (these APIs deliver to whoever the headers name):

- Gmail: `POST /gmail/v1/users/me/messages/send` with `{"raw": <base64url RFC 822>}`, or for a
  large message the media upload `POST /upload/gmail/v1/users/me/messages/send?uploadType=media`
  with the message as `message/rfc822` (Gmail API reference, "Method: users.messages.send").
- Graph: `POST /v1.0/me/sendMail` with the MIME message base64-encoded as `text/plain`; 202 when
  accepted (Microsoft Graph, "user: sendMail", example "Send a new message using MIME format").

Access tokens come from the stored refresh token (refreshed a minute before they expire, and once
more on a 401). 429 and 5xx are temporary (the send queue retries, honouring `Retry-After`); other
refusals fail the copy with the provider's words; a grant that is gone marks the connection
"reconnect needed" and fails the copy for good, since retrying cannot help.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses

import httpx

from ..mail.smtp import MailError, Outgoing
from .identity import GrantRevoked, IdentityError, OpenIdProvider

UPLOAD_ABOVE = 3 * 1024 * 1024  # 4 MB once base64url-encoded in JSON: larger messages take the media upload
REFRESH_EARLY = 60.0  # seconds before expiry an access token is renewed


class AccessTokens:
    """Access tokens by rep, in this process's memory only (they last an hour)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._tokens: dict[int, tuple[str, float]] = {}
        self._monotonic = monotonic

    def get(self, user_id: int) -> str | None:
        found = self._tokens.get(user_id)
        return found[0] if found and found[1] - REFRESH_EARLY > self._monotonic() else None

    def put(self, user_id: int, token: str, expires_in: float) -> None:
        self._tokens[user_id] = (token, self._monotonic() + expires_in)

    def forget(self, user_id: int) -> None:
        self._tokens.pop(user_id, None)


class ProviderMailer:
    """Sends one rep's copies through their connected Google or Microsoft account."""

    def __init__(self, *, user_id: int, provider: OpenIdProvider, api_url: str, refresh_token: str, token_endpoint: str,
                 tokens: AccessTokens, on_revoked: Callable[[str], object], timeout: float = 30.0):
        self.user_id, self.provider, self.api_url = user_id, provider, api_url.rstrip("/")
        self._refresh_token, self._token_endpoint, self._tokens = refresh_token, token_endpoint, tokens
        self._on_revoked, self._timeout = on_revoked, timeout

    async def send(self, sender: str, copies: list[Outgoing]) -> list[MailError | None]:
        token = await self._access_token()
        outcomes: list[MailError | None] = []
        async with httpx.AsyncClient(timeout=self._timeout, trust_env=False) as http:
            for copy in copies:
                outcomes.append(await self._send_one(http, copy, token))
                if isinstance(outcomes[-1], _Unauthorised):  # once: a fresh token, then the same copy again
                    self._tokens.forget(self.user_id)
                    token = await self._access_token()
                    outcomes[-1] = await self._send_one(http, copy, token)
                    if isinstance(outcomes[-1], _Unauthorised):
                        outcomes[-1] = MailError(f"{self._name} refused the access token twice", permanent=False)
        return outcomes

    @property
    def _name(self) -> str:
        return "Gmail" if self.provider.name == "google" else "Microsoft 365"

    async def _access_token(self) -> str:
        token = self._tokens.get(self.user_id)
        if token is not None:
            return token
        try:
            answer = await self.provider.refresh(self._refresh_token, token_endpoint=self._token_endpoint)
        except GrantRevoked as exc:
            await self._on_revoked(str(exc))
            raise MailError(f"{exc} (Settings → Your Google or Microsoft mail)", "account", permanent=True) from None
        except IdentityError as exc:
            raise MailError(str(exc), "account") from None
        self._tokens.put(self.user_id, answer["access_token"], float(answer.get("expires_in") or 3600))
        return answer["access_token"]

    async def _send_one(self, http: httpx.AsyncClient, copy: Outgoing, token: str) -> MailError | None:
        raw = addressed_to(copy.message, copy.rcpt).as_bytes()
        headers = {"authorization": f"Bearer {token}"}
        if self.provider.name == "google":
            if len(raw) > UPLOAD_ABOVE:
                request = http.post(f"{self.api_url}/upload/gmail/v1/users/me/messages/send", params={"uploadType": "media"},
                                    content=raw, headers={**headers, "content-type": "message/rfc822"})
            else:
                request = http.post(f"{self.api_url}/gmail/v1/users/me/messages/send",
                                    json={"raw": base64.urlsafe_b64encode(raw).decode()}, headers=headers)
        else:
            request = http.post(f"{self.api_url}/v1.0/me/sendMail", content=base64.b64encode(raw),
                                headers={**headers, "content-type": "text/plain"})
        try:
            response = await request
        except httpx.HTTPError as exc:
            return MailError(f"{self._name} could not be reached ({exc.__class__.__name__})")
        if response.status_code in (200, 202):
            return None
        if response.status_code == 401:
            return _Unauthorised("unauthorised")
        words = _words(response)
        if response.status_code == 429 or response.status_code >= 500:
            return MailError(f"{self._name} answered {response.status_code}: {words}", retry_after=_retry_after(response))
        return MailError(f"{self._name} refused the message ({response.status_code}): {words}", permanent=True)


def addressed_to(message: EmailMessage, rcpt: str) -> EmailMessage:
    """The copy with its recipient alone in To (and no Cc or Bcc). The Gmail API and Graph deliver to
    the addresses in the headers — there is no envelope to address a copy to one person — so a copy
    naming everyone would reach everyone, and each person's tracked copy would be read by the others."""
    copy = message_from_bytes(message.as_bytes(), policy=policy.default)
    shown = next((formataddr((name, address)) for name, address in getaddresses(copy.get_all("to", []) + copy.get_all("cc", []))
                  if address.lower() == rcpt.lower()), rcpt)
    for header in ("To", "Cc", "Bcc"):
        del copy[header]
    copy["To"] = shown
    return copy


class _Unauthorised(MailError):
    """A 401: the access token expired or was revoked early — refresh and try once more."""


def _words(response: httpx.Response) -> str:
    """The provider's own message: Google's and Graph's error bodies are {"error": {"message": …}}."""
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    except ValueError:
        pass
    return response.reason_phrase or "no reason given"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
