"""Sign in with Google or Microsoft (OpenID Connect: code flow, PKCE S256, state, nonce), against
local stand-ins of both providers (tests/oidc_provider.py names the documentation it follows)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from livefeed.db.tables import users
from livefeed.settings import OidcSettings

from .conftest import LiveServer, make_rep
from .support.oidc import GOOGLE_ID, MICROSOFT_ID, SECRET, sign_in_with  # noqa: F401 - used below


def user_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar()


async def test_a_known_rep_signs_in_with_google_through_the_code_flow_with_pkce(live, providers, rep, engine):
    google, _ = providers
    google.knobs.claims = {"email": "Rita@Seller.test", "email_verified": True, "name": "Rita"}
    async with live.client() as client:
        page = await client.get("/signin")
        answer = await sign_in_with(client, "google")
        home = await client.get("/app")
    asked = google.authorize_requests[0]
    assert 'href="/signin/google"' in page.text and 'href="/signin/microsoft"' in page.text
    assert asked["response_type"] == "code" and asked["scope"] == "openid email profile"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43 and asked["nonce"] and asked["state"]
    assert asked["redirect_uri"] == f"{live.url}/oauth/google/callback" and asked["client_id"] == GOOGLE_ID
    assert len(google.token_requests[0]["code_verifier"]) >= 43
    assert answer.status_code == 303 and answer.headers["location"] == "/app" and home.status_code == 200
    assert "lf_oauth" not in client.cookies  # the flow's secrets are gone


async def test_microsoft_work_accounts_sign_in_with_a_tenant_verified_address(live, providers, rep, engine):
    _, microsoft = providers
    microsoft.knobs.claims = {"email": rep.email, "xms_edov": True, "name": "Rita", "preferred_username": rep.email}
    async with live.client() as client:
        ok = await sign_in_with(client, "microsoft")
    microsoft.knobs.claims = {"email": rep.email, "name": "Rita"}  # no xms_edov: any address a user typed
    async with live.client() as client:
        unverified = await sign_in_with(client, "microsoft")
    assert ok.status_code == 303
    assert unverified.status_code == 403 and "did not confirm an email address" in unverified.text


async def test_an_unknown_address_joins_only_through_a_sign_in_domain(live, providers, rep, engine):
    google, _ = providers
    google.knobs.claims = {"email": "nina@seller.test", "email_verified": True, "name": "Nina Newcomer"}
    async with live.client() as client:
        refused = await sign_in_with(client, "google")
        assert user_count(engine) == 1  # nothing created
        domains = await client.patch(
            "/api/v1/workspace", json={"signin_domains": ["Seller.test", "@seller.test"]}, headers=rep.headers
        )
        bad = await client.patch("/api/v1/workspace", json={"signin_domains": ["not a domain"]}, headers=rep.headers)
        joined = await sign_in_with(client, "google")
        me = await client.get("/app")
    assert refused.status_code == 403 and "seller.test is not one of a workspace" in refused.text
    assert domains.json()["signin_domains"] == ["seller.test"]
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "signin_domains"]
    assert joined.status_code == 303 and "Nina Newcomer" in me.text
    with engine.connect() as conn:
        nina = conn.execute(select(users.c.role, users.c.workspace_id).where(users.c.email == "nina@seller.test")).one()
    assert nina.role == "rep" and nina.workspace_id == rep.workspace_id


async def test_a_domain_belongs_to_one_workspace(live, rep, engine, clock):
    other = make_rep(engine, clock, "sam@elsewhere.test", workspace="Elsewhere")
    async with live.client() as client:
        mine = await client.patch("/api/v1/workspace", json={"signin_domains": ["seller.test"]}, headers=rep.headers)
        theirs = await client.patch("/api/v1/workspace", json={"signin_domains": ["seller.test"]}, headers=other.headers)
    assert mine.status_code == 200 and theirs.status_code == 422 and "another workspace" in theirs.text


@pytest.mark.parametrize(
    "case, knob, expected",
    [
        ("declined", {"deny": True}, "you declined"),
        ("another client's token", {"audience": "someone-else"}, "not for this sign-in"),
        ("forged signature", {"forge": True}, "signature does not verify"),
        ("expired token", {"lifetime": -120}, "not for this sign-in"),
        ("unverified email", {"claims": {"email": "rita@seller.test", "email_verified": False}}, "did not confirm an email"),
    ],
)
async def test_every_refusal_is_a_page_and_nobody_is_signed_in(live, providers, rep, case, knob, expected, caplog):
    google, _ = providers
    google.knobs.claims = {"email": rep.email, "email_verified": True}
    for name, value in knob.items():
        setattr(google.knobs, name, value)
    caplog.set_level(logging.INFO)
    async with live.client() as client:
        answer = await sign_in_with(client, "google")
        after = await client.get("/app")
    assert answer.status_code in (400, 403) and expected in answer.text, (case, answer.text[-600:])
    assert "lf_session" not in client.cookies and after.status_code == 303
    server_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # not the test's client
    for request in google.token_requests:  # codes and verifiers never reach a page or the server's log
        assert request["code"] not in answer.text and request["code"] not in server_log
        assert request["code_verifier"] not in server_log


async def test_a_wrong_state_or_a_replayed_nonce_signs_nobody_in(live, providers, rep):
    google, _ = providers
    google.knobs.claims = {"email": rep.email, "email_verified": True}

    def other_state(url: str) -> str:
        query = parse_qs(urlsplit(url).query)
        return url.replace(query["state"][0], "forged-state")

    async with live.client() as client:
        wrong_state = await sign_in_with(client, "google", tamper=other_state)
    google.knobs.reuse_codes = True  # a provider that would hand the same ID token out twice
    async with live.client() as client:
        start = await client.get("/signin/google")
        async with httpx.AsyncClient() as provider:
            back = (await provider.get(start.headers["location"])).headers["location"].replace(live.url, "")
        flow = client.cookies.get("lf_oauth")
        first = await client.get(back)
        client.cookies.set("lf_oauth", flow, path="/oauth/")  # the same browser state, replayed
        client.cookies.delete("lf_session")
        second = await client.get(back)
    assert wrong_state.status_code == 400 and "does not match" in wrong_state.text
    assert first.status_code == 303 and second.status_code == 400 and "used already" in second.text


async def test_rotated_provider_keys_are_fetched_again(live, providers, rep):
    google, _ = providers
    google.knobs.claims = {"email": rep.email, "email_verified": True}
    async with live.client() as client:
        assert (await sign_in_with(client, "google")).status_code == 303
    google.rotate()  # a new kid LiveFeed has not cached
    async with live.client() as client:
        assert (await sign_in_with(client, "google")).status_code == 303


async def test_a_disabled_user_and_an_unconfigured_provider_are_refused(settings, clock, providers, rep, engine):
    from livefeed import actions

    google, _ = providers
    async with LiveServer(settings, clock) as plain, plain.client() as client:  # nothing configured
        page = await client.get("/signin")
        missing = await client.get("/signin/google")
    assert "Sign in with Google" not in page.text and missing.status_code == 404
    colleague = make_rep(engine, clock, "colin@seller.test")
    actions.set_disabled(engine, user_id=colleague.id, disabled=True, now=clock())
    google.knobs.claims = {"email": colleague.email, "email_verified": True}
    configured = settings.with_(google=OidcSettings(GOOGLE_ID, SECRET, google.discovery_url))
    async with LiveServer(configured, clock) as live, live.client() as client:
        answer = await sign_in_with(client, "google")
    assert answer.status_code == 403 and "disabled" in answer.text


def test_a_provider_needs_its_client_id_and_secret_together(tmp_path):
    from livefeed.settings import SettingsError, from_env

    with pytest.raises(SettingsError, match="LIVEFEED_MICROSOFT_CLIENT_SECRET"):
        from_env({"LIVEFEED_VAR_DIR": str(tmp_path), "LIVEFEED_MICROSOFT_CLIENT_ID": "app-id"})
    configured = from_env(
        {
            "LIVEFEED_VAR_DIR": str(tmp_path),
            "LIVEFEED_MICROSOFT_CLIENT_ID": "app-id",
            "LIVEFEED_MICROSOFT_CLIENT_SECRET": "the-secret",
            "LIVEFEED_MICROSOFT_TENANT": "contoso.com",
        }
    )
    assert (
        configured.microsoft.discovery_url
        == "https://login.microsoftonline.com/contoso.com/v2.0/.well-known/openid-configuration"
    )
    assert "client_secret" not in repr(configured.microsoft)  # the secret is never shown
