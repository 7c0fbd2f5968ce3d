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
import re
import time
from collections.abc import Awaitable, Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses

import httpx

from .identity import GrantRevoked, IdentityError, OpenIdProvider
from .smtp import MailError, Outgoing

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


class ProviderAccount:
    """One rep's connected account: access tokens from the stored refresh token, and API calls that
    renew the token once on a 401."""

    def __init__(
        self,
        *,
        user_id: int,
        provider: OpenIdProvider,
        api_url: str,
        refresh_token: str,
        token_endpoint: str,
        tokens: AccessTokens,
        on_revoked: Callable[[str], Awaitable[object]],
    ):
        self.user_id, self.provider, self.api_url = user_id, provider, api_url.rstrip("/")
        self._refresh_token, self._token_endpoint, self._tokens, self._on_revoked = (
            refresh_token,
            token_endpoint,
            tokens,
            on_revoked,
        )

    @property
    def name(self) -> str:
        return "Gmail" if self.provider.name == "google" else "Microsoft 365"

    async def token(self) -> str:
        """A valid access token; GrantRevoked (after marking the connection) when the grant is gone."""
        token = self._tokens.get(self.user_id)
        if token is not None:
            return token
        try:
            answer = await self.provider.refresh(self._refresh_token, token_endpoint=self._token_endpoint)
        except GrantRevoked as exc:
            await self._on_revoked(str(exc))
            raise
        self._tokens.put(self.user_id, answer["access_token"], float(answer.get("expires_in") or 3600))
        return answer["access_token"]

    async def call(self, http: httpx.AsyncClient, method: str, path_or_url: str, **options) -> httpx.Response:
        """An API request with the rep's token, repeated once with a fresh token after a 401."""
        url = path_or_url if path_or_url.startswith("http") else self.api_url + path_or_url
        for attempt in (1, 2):
            headers = {**options.pop("headers", {}), "authorization": f"Bearer {await self.token()}"}
            response = await http.request(method, url, headers=headers, **options)
            if response.status_code != 401 or attempt == 2:
                return response
            self._tokens.forget(self.user_id)
            options["headers"] = {k: v for k, v in headers.items() if k != "authorization"}
        return response


class ProviderMailer:
    """Sends one rep's copies through their connected Google or Microsoft account."""

    def __init__(self, account: ProviderAccount, *, timeout: float = 30.0):
        self.account, self._timeout = account, timeout

    async def send(self, sender: str, copies: list[Outgoing]) -> list[MailError | None]:
        try:
            await self.account.token()
        except GrantRevoked as exc:
            raise MailError(f"{exc} (Settings → Your Google or Microsoft mail)", "account", permanent=True) from None
        except IdentityError as exc:
            raise MailError(str(exc), "account") from None
        async with httpx.AsyncClient(timeout=self._timeout, trust_env=False) as http:
            threads: dict[str, tuple[str, str] | None] = {}
            return [await self._send_one(http, copy, threads) for copy in copies]

    async def _thread_headers(self, http: httpx.AsyncClient, thread_id: str) -> tuple[str, str] | None:
        """(In-Reply-To, References) for a reply in this Gmail thread: its newest message's
        Message-ID and references ("Method: users.threads.get", format=metadata); None when Gmail
        does not know the thread (the reply then starts a new one)."""
        try:
            response = await self.account.call(
                http,
                "GET",
                f"/gmail/v1/users/me/threads/{thread_id}",
                params=[("format", "metadata"), ("metadataHeaders", "Message-ID"), ("metadataHeaders", "References")],
            )
            messages = response.json().get("messages") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
            return None
        headers = {
            str(h.get("name", "")).lower(): str(h.get("value", ""))
            for h in (messages[-1].get("payload") or {}).get("headers") or []
            if isinstance(h, dict)
        }
        last = headers.get("message-id", "").strip()
        if not re.fullmatch(r"<[^<>\s@]{1,250}@[^<>\s@]{1,250}>", last):
            return None
        earlier = [r for r in headers.get("references", "").split() if re.fullmatch(r"<[^<>\s]{1,500}>", r)]
        return last, " ".join(earlier[-20:] + [last])

    async def _send_one(self, http: httpx.AsyncClient, copy: Outgoing, threads: dict) -> MailError | None:
        message = addressed_to(copy.message, copy.rcpt)
        thread_id = copy.thread_id if self.account.provider.name == "google" else None
        if thread_id is not None:
            if thread_id not in threads:
                threads[thread_id] = await self._thread_headers(http, thread_id)
            found = threads[thread_id]
            if found is None:  # not a thread of this mailbox: sent on its own, never into another thread
                thread_id = None
            elif message["In-Reply-To"] is None:
                message["In-Reply-To"], message["References"] = found
        raw = message.as_bytes()
        name = self.account.name
        try:
            if self.account.provider.name == "google" and len(raw) > UPLOAD_ABOVE:
                response = await self.account.call(
                    http,
                    "POST",
                    "/upload/gmail/v1/users/me/messages/send",
                    params={"uploadType": "media"},
                    content=raw,
                    headers={"content-type": "message/rfc822"},
                )
            elif self.account.provider.name == "google":
                response = await self.account.call(
                    http,
                    "POST",
                    "/gmail/v1/users/me/messages/send",
                    json={"raw": base64.urlsafe_b64encode(raw).decode(), **({"threadId": thread_id} if thread_id else {})},
                )
            else:
                response = await self.account.call(
                    http, "POST", "/v1.0/me/sendMail", content=base64.b64encode(raw), headers={"content-type": "text/plain"}
                )
        except GrantRevoked as exc:
            return MailError(f"{exc} (Settings → Your Google or Microsoft mail)", "account", permanent=True)
        except IdentityError as exc:
            return MailError(str(exc), "account")
        except httpx.HTTPError as exc:
            return MailError(f"{name} could not be reached ({exc.__class__.__name__})")
        if response.status_code in (200, 202):
            return None
        words = words_of(response)
        if response.status_code == 401:
            return MailError(f"{name} refused the access token twice: {words}")
        if response.status_code == 429 or response.status_code >= 500:
            return MailError(f"{name} answered {response.status_code}: {words}", retry_after=_retry_after(response))
        return MailError(f"{name} refused the message ({response.status_code}): {words}", permanent=True)


def addressed_to(message: EmailMessage, rcpt: str) -> EmailMessage:
    """The copy with its recipient alone in To (and no Cc or Bcc). The Gmail API and Graph deliver to
    the addresses in the headers — there is no envelope to address a copy to one person — so a copy
    naming everyone would reach everyone, and each person's tracked copy would be read by the others."""
    copy = message_from_bytes(message.as_bytes(), policy=policy.default)
    shown = next(
        (
            formataddr((name, address))
            for name, address in getaddresses(copy.get_all("to", []) + copy.get_all("cc", []))
            if address.lower() == rcpt.lower()
        ),
        rcpt,
    )
    for header in ("To", "Cc", "Bcc"):
        del copy[header]
    copy["To"] = shown
    return copy


def words_of(response: httpx.Response) -> str:
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
