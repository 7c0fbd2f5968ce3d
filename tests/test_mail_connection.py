"""Connecting a rep's Google or Microsoft mail by signing in: consent to send and read with offline
access, the refresh token sealed and never shown, disconnect revoking the grant where it can."""

from __future__ import annotations

from sqlalchemy import select

from livefeed.db.tables import mail_connections

from .oidc_provider import OpenIdStandIn  # noqa: F401
from .support.oidc import connect  # noqa: F401 - used below
from .support.web import sign_in


async def test_a_rep_connects_google_mail_with_offline_consent_and_disconnects_revoking_it(live, providers, rep, engine):  # noqa: F811
    google, _ = providers
    google.knobs.claims = {"email": "rita.work@gmail.test", "email_verified": True}
    async with live.client() as client:
        await sign_in(client)
        connected = await connect(client, "google")
        shown = await client.get("/api/v1/mail-connection", headers=rep.headers)
        settings = await client.get("/app/settings")
        with engine.connect() as conn:
            stored = conn.execute(select(mail_connections)).mappings().one()
        [refresh_token] = google.refresh_tokens
        removed = await client.delete("/api/v1/mail-connection", headers=rep.headers)
        again = await client.get("/api/v1/mail-connection", headers=rep.headers)
    asked = google.authorize_requests[-1]
    assert asked["access_type"] == "offline" and asked["prompt"] == "consent"
    assert "https://www.googleapis.com/auth/gmail.send" in asked["scope"] and "gmail.readonly" in asked["scope"]
    assert connected.status_code == 303 and connected.headers["location"].startswith("/app/settings?connected=google")
    assert shown.json()["address"] == "rita.work@gmail.test" and shown.json()["status"] == "connected"
    assert refresh_token not in shown.text and refresh_token not in settings.text and refresh_token not in stored["secret"]
    assert 'href="/connect/google"' in settings.text and 'href="/connect/microsoft"' in settings.text
    assert stored["token_endpoint"] == f"{google.url}/token"
    assert removed.json()["revoked"] is True and google.revoked == [refresh_token] and again.status_code == 404


async def test_microsoft_connects_with_offline_access_and_says_it_cannot_revoke(live, providers, rep, engine):  # noqa: F811
    _, microsoft = providers
    microsoft.knobs.claims = {"email": rep.email, "xms_edov": True}
    async with live.client() as client:
        await sign_in(client)
        connected = await connect(client, "microsoft")
        removed = await client.delete("/api/v1/mail-connection", headers=rep.headers)
    asked = microsoft.authorize_requests[-1]
    assert set(asked["scope"].split()) >= {"offline_access", "Mail.Send", "Mail.Read"}
    assert connected.status_code == 303
    assert removed.json()["revoked"] is False and "Microsoft offers no way to revoke" in removed.json()["message"]


async def test_a_connection_without_the_mail_scopes_or_lasting_access_is_refused(live, providers, rep, engine):  # noqa: F811
    google, microsoft = providers
    google.knobs.claims = {"email": rep.email, "email_verified": True}
    google.knobs.withhold_scopes = ("https://www.googleapis.com/auth/gmail.send",)  # unticked on the consent screen
    microsoft.knobs.claims = {"email": rep.email, "xms_edov": True}
    microsoft.knobs.withhold_scopes = ("offline_access",)
    async with live.client() as client:
        await sign_in(client)
        no_send = await connect(client, "google")
        no_refresh = await connect(client, "microsoft")
    assert no_send.status_code == 403 and "gmail.send" in no_send.text
    assert no_refresh.status_code == 403 and "no lasting access" in no_refresh.text
    with engine.connect() as conn:
        assert conn.execute(select(mail_connections)).first() is None


async def test_connecting_needs_the_rep_signed_in_in_that_browser(live, providers, rep):  # noqa: F811
    async with live.client() as client:
        anonymous = await client.get("/connect/google")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin"
