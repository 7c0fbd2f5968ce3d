"""Google and Microsoft as the tests meet them: the OpenID stand-ins (tests/oidc_provider.py), the
mail API stand-ins (tests/mail_apis.py), a LiveFeed configured for both, and the rep's clicks
through sign-in and mail connection."""

from __future__ import annotations

import httpx
import pytest

from livefeed.settings import OidcSettings

from ..conftest import LiveServer
from ..mail_apis import MailApiStandIn
from ..oidc_provider import OpenIdStandIn
from .web import sign_in

GOOGLE_ID, MICROSOFT_ID, SECRET = "livefeed-google-client", "livefeed-microsoft-client", "client-secret-1"


@pytest.fixture
async def providers(clock):
    async with (
        OpenIdStandIn("google", client_id=GOOGLE_ID, client_secret=SECRET, clock=clock) as google,
        OpenIdStandIn("microsoft", client_id=MICROSOFT_ID, client_secret=SECRET, clock=clock) as microsoft,
    ):
        yield google, microsoft


@pytest.fixture
async def live(settings, clock, providers):
    google, microsoft = providers
    configured = settings.with_(
        google=OidcSettings(GOOGLE_ID, SECRET, google.discovery_url),
        microsoft=OidcSettings(MICROSOFT_ID, SECRET, microsoft.discovery_url),
    )
    async with LiveServer(configured, clock) as server:
        yield server


async def sign_in_with(client: httpx.AsyncClient, provider: str, *, tamper=None) -> httpx.Response:
    """Press "Sign in with …", let the stand-in answer, and follow it back to LiveFeed's callback."""
    start = await client.get(f"/signin/{provider}")
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as browser_at_provider:
        consent = await browser_at_provider.get(start.headers["location"])
    back = consent.headers["location"]
    if tamper:
        back = tamper(back)
    return await client.get(back.replace(str(client.base_url), ""))


@pytest.fixture
async def setup(settings, clock):
    async with (
        OpenIdStandIn("google", client_id=GOOGLE_ID, client_secret=SECRET, clock=clock) as google,
        OpenIdStandIn("microsoft", client_id=MICROSOFT_ID, client_secret=SECRET, clock=clock) as microsoft,
        MailApiStandIn(google) as gmail,
        MailApiStandIn(microsoft) as graph,
    ):
        configured = settings.with_(
            google=OidcSettings(GOOGLE_ID, SECRET, google.discovery_url),
            microsoft=OidcSettings(MICROSOFT_ID, SECRET, microsoft.discovery_url),
            gmail_api_url=gmail.url,
            graph_api_url=graph.url,
        )
        async with LiveServer(configured, clock) as server:
            yield server, google, microsoft, gmail, graph


async def connected(server, rep, provider, stand_in):
    stand_in.knobs.claims = {"email": rep.email, "email_verified": True, "xms_edov": True}
    async with server.client() as client:
        await sign_in(client)
        assert (await connect(client, provider)).status_code == 303


async def connect(client: httpx.AsyncClient, provider: str) -> httpx.Response:
    start = await client.get(f"/connect/{provider}")
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as at_provider:
        back = (await at_provider.get(start.headers["location"])).headers["location"]
    return await client.get(back.replace(str(client.base_url), ""))
