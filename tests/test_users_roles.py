"""Roles: a workspace's first rep is its admin; only admins change workspace settings,
integrations and users; the last admin cannot be demoted."""

from __future__ import annotations

import pytest

from .conftest import make_rep


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


async def test_admins_manage_users_and_reps_cannot_change_the_workspace(server, rep, engine, clock):
    other = make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        me = (await client.get("/api/v1/me", headers=rep.headers)).json()
        them = (await client.get("/api/v1/me", headers=other.headers)).json()
        refused = [
            await client.patch("/api/v1/workspace", json={"anonymize_ips": True}, headers=other.headers),
            await client.post("/api/v1/workspace/marketo-webhook-secret", headers=other.headers),
            await client.put(
                "/api/v1/connectors/marketo",
                json={"base_url": "https://x.mktorest.com", "client_id": "a", "client_secret": "b"},
                headers=other.headers,
            ),
            await client.post("/api/v1/users", json={"email": "new@seller.test", "name": "New"}, headers=other.headers),
        ]
        added = await client.post(
            "/api/v1/users",
            json={
                "email": "Nora@Seller.test",
                "name": "Nora",
                "timezone": "Europe/Oslo",
                "role": "rep",
                "salesforce_user_id": "005xx000001Sv6AAAS",
            },
            headers=rep.headers,
        )
        duplicate = await client.post("/api/v1/users", json={"email": "nora@seller.test", "name": "Nora"}, headers=rep.headers)
        bad_zone = await client.post(
            "/api/v1/users", json={"email": "z@seller.test", "name": "Z", "timezone": "Mars/Base"}, headers=rep.headers
        )
        last_admin = await client.patch(f"/api/v1/users/{rep.id}", json={"role": "rep"}, headers=rep.headers)
        promoted = await client.patch(f"/api/v1/users/{other.id}", json={"role": "admin"}, headers=rep.headers)
        now_allowed = await client.patch("/api/v1/workspace", json={"anonymize_ips": True}, headers=other.headers)
        demoted = await client.patch(f"/api/v1/users/{rep.id}", json={"role": "rep"}, headers=other.headers)
        listed = (await client.get("/api/v1/users", headers=rep.headers)).json()["users"]
        link = added.json()["signin_link"]
        from .support.web import use_signin_link

        signed_in = await use_signin_link(client, link.replace(server.url, ""))
    assert me["role"] == "admin" and them["role"] == "rep"
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert added.status_code == 201 and added.json()["email"] == "nora@seller.test" and "/signin/link/" in link
    assert duplicate.status_code == 422 and duplicate.json()["detail"][0]["loc"] == ["body", "email"]
    assert bad_zone.status_code == 422 and bad_zone.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert last_admin.status_code == 422 and "at least one admin" in last_admin.json()["detail"][0]["msg"]
    assert promoted.status_code == 200 and now_allowed.status_code == 200 and demoted.status_code == 200
    assert {u["email"]: u["role"] for u in listed} == {
        "rita@seller.test": "rep",
        "olga@seller.test": "admin",
        "nora@seller.test": "rep",
    }
    assert signed_in.status_code in (302, 303)


async def test_users_of_another_workspace_are_out_of_reach(server, rep, engine, clock):
    stranger = make_rep(engine, clock, "sam@elsewhere.test", workspace="Elsewhere")
    async with server.client() as client:
        answer = await client.patch(f"/api/v1/users/{stranger.id}", json={"role": "rep"}, headers=rep.headers)
        listed = (await client.get("/api/v1/users", headers=rep.headers)).json()["users"]
    assert answer.status_code == 404 and [u["email"] for u in listed] == ["rita@seller.test"]


async def test_the_users_page_adds_a_rep_and_changes_roles_and_reps_cannot_open_it(server, rep, engine, clock):
    from .support.web import csrf_of, sign_in

    make_rep(engine, clock, "olga@seller.test", password="olga's long password")
    async with server.client() as client:
        await sign_in(client)
        page = await client.get("/app/admin/users")
        added = await client.post(
            "/app/admin/users",
            data={
                "csrf": csrf_of(page.text),
                "email": "nora@seller.test",
                "name": "Nora",
                "timezone": "Europe/Oslo",
                "role": "rep",
            },
        )
        bad = await client.post(
            "/app/admin/users",
            data={"csrf": csrf_of(page.text), "email": "x@seller.test", "name": "X", "timezone": "Nowhere/City", "role": "rep"},
        )
        last = await client.post(f"/app/admin/users/{rep.id}", data={"csrf": csrf_of(page.text), "role": "rep"})
        settings = (await client.get("/app/settings")).text
    async with server.client() as other:
        await sign_in(other, "olga@seller.test", "olga's long password")
        refused = await other.get("/app/admin/users")
        their_settings = (await other.get("/app/settings")).text
    assert page.status_code == 200 and "rita@seller.test" in page.text
    assert added.status_code == 200 and "/signin/link/" in added.text and "nora@seller.test" in added.text
    assert bad.status_code == 422 and "Timezone" in bad.text
    assert last.status_code == 422 and "at least one admin" in last.text
    assert 'id="website"' in settings and 'href="/app/admin/users"' in settings
    assert refused.status_code == 403
    assert 'id="website"' not in their_settings and "set by your workspace's admins" in their_settings


async def test_the_users_page_disables_and_enables_a_rep(server, rep, engine, clock):
    from .support.web import csrf_of, sign_in

    olga = make_rep(engine, clock, "olga@seller.test", password="olga's long password")
    async with server.client() as admin, server.client() as her:
        await sign_in(her, "olga@seller.test", "olga's long password")
        await sign_in(admin)
        page = await admin.get("/app/admin/users")
        disabled = await admin.post(f"/app/admin/users/{olga.id}", data={"csrf": csrf_of(page.text), "disabled": "1"})
        listed = await admin.get("/app/admin/users")
        her_page = await her.get("/app")
        enabled = await admin.post(f"/app/admin/users/{olga.id}", data={"csrf": csrf_of(page.text), "disabled": "0"})
        token_again = await her.get("/api/v1/me", headers=olga.headers)
    assert disabled.status_code == 303 and "disabled</span>" in listed.text and ">Enable<" in listed.text
    assert her_page.status_code == 303  # her session ended
    assert enabled.status_code == 303 and token_again.status_code == 200


async def test_a_file_posted_where_the_users_page_expects_text_is_a_422_naming_the_field(server, rep, engine):
    from sqlalchemy import func, select

    from livefeed.db.tables import users

    from .support.web import csrf_of, sign_in

    async with server.client() as client:
        await sign_in(client)
        page = await client.get("/app/admin/users")
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(users)).scalar_one()
        answer = await client.post(
            "/app/admin/users",
            data={"csrf": csrf_of(page.text), "name": "Nora", "timezone": "UTC", "role": "rep"},
            files={"email": ("email.txt", b"nora@seller.test", "text/plain")},
        )
    assert answer.status_code == 422 and "Email" in answer.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(users)).scalar_one() == before
