"""Sign-in that resists guessing, single-use links kept out of the access log, API tokens that
expire and can be revoked, users that can be disabled."""

from __future__ import annotations

import logging

from sqlalchemy import select
from typer.testing import CliRunner

from livefeed import actions
from livefeed.actions.sessions import signin_url
from livefeed.cli import app
from livefeed.core import secrets as core_secrets
from livefeed.db.tables import sessions
from livefeed.web.accesslog import RedactSecrets, redact

from .conftest import make_rep
from .support.web import csrf_of, sign_in, use_signin_link


async def test_five_wrong_passwords_lock_the_account_with_retry_after_the_same_for_unknown_addresses(server, rep, clock, caplog):
    caplog.set_level(logging.WARNING, logger="livefeed")
    async with server.client() as client:
        wrong = [(await sign_in(client, password=f"guess {i}")).status_code for i in range(5)]
        locked = await sign_in(client)  # even the right password waits now
        ghosts = [(await sign_in(client, email="nobody@seller.test", password=f"guess {i}")).status_code for i in range(6)]
        ghost = await sign_in(client, email="nobody@seller.test", password="guess")
    assert wrong == [401] * 5 and ghosts == [401] * 5 + [429]
    for answer in (locked, ghost):
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) == 15 * 60
        assert "Too many failed sign-ins" in answer.text and "lf_session" not in answer.headers.get("set-cookie", "")
    assert "sign-in locked for 'rita@seller.test'" in caplog.text
    clock.advance(minutes=15, seconds=1)
    async with server.client() as client:
        assert (await sign_in(client)).status_code == 303  # the window passed


async def test_one_client_address_is_throttled_across_accounts(server, rep, clock):
    async with server.client() as client:
        answers = [(await sign_in(client, email=f"user{i}@seller.test", password="x")).status_code for i in range(21)]
    assert answers[:20] == [401] * 20 and answers[20] == 429


def test_unknown_and_password_less_accounts_cost_one_scrypt_like_known_ones(engine, clock, monkeypatch):
    make_rep(engine, clock, "known@seller.test", password="the right one!")
    make_rep(engine, clock, "linkonly@seller.test")  # signs in by link: no password
    actions.sessions._decoy_hash()  # made once, at first use
    calls = []
    real = core_secrets.hashlib.scrypt
    monkeypatch.setattr(core_secrets.hashlib, "scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    for email in ("known@seller.test", "nobody@seller.test", "linkonly@seller.test"):
        calls.clear()
        assert actions.sign_in(engine, email=email, password="wrong!", ip=None, now=clock()) is None
        assert len(calls) == 1, email


async def test_a_sign_in_link_works_once_and_a_scanners_get_does_not_spend_it(server, rep, clock):
    link = signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock())
    async with server.client() as scanner:
        fetched = await scanner.get(link)  # Safe Links and friends open every link in the mail
        assert (
            fetched.status_code == 200 and rep.email in fetched.text and "lf_session" not in fetched.headers.get("set-cookie", "")
        )
    async with server.client() as client:
        first = await use_signin_link(client, link)
    async with server.client() as client:
        second = await use_signin_link(client, link)
    assert first.status_code == 303 and second.status_code == 401 and "used already" in second.text


def test_the_access_log_never_holds_a_link_or_a_tracking_token():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/signin/link/1795000000.AbCdEf", "1.1", 200),
        None,
    )
    RedactSecrets().filter(record)
    assert "AbCdEf" not in record.getMessage() and "/signin/link/…" in record.getMessage()
    assert redact("/o/AbCdEf.gif") == "/o/…" and redact("/c/XyZ?u=1") == "/c/…?u=1"
    assert redact("/hooks/marketo/sitekey123") == "/hooks/marketo/…"
    assert redact("/api/v1/health?probe=secret&x=1") == "/api/v1/health?probe=…&x=1"
    assert redact("/api/v1/feed?limit=5") == "/api/v1/feed?limit=5"


async def test_tokens_expire_and_are_revoked_by_their_owner_or_an_admin(server, rep, engine, clock):
    colleague = make_rep(engine, clock, "colin@seller.test")  # rita is the workspace's first user: its admin
    async with server.client() as client:
        made = await client.post(
            "/api/v1/tokens", json={"name": "Gmail extension", "expires_in_days": 1}, headers=colleague.headers
        )
        token = made.json()["token"]
        bearer = {"authorization": f"Bearer {token}"}
        works = await client.get("/api/v1/me", headers=bearer)
        own = (await client.get("/api/v1/tokens", headers=colleague.headers)).json()["tokens"]
        every = (await client.get("/api/v1/tokens", headers=rep.headers)).json()["tokens"]
        clock.advance(days=1, seconds=1)
        server.runtime.credentials.clear()
        expired = await client.get("/api/v1/me", headers=bearer)
        colleague_token_id = next(t["id"] for t in own if t["name"] is None)
        not_yours = await client.delete(f"/api/v1/tokens/{every[0]['id']}", headers=colleague.headers)  # rita's token
        revoked = await client.delete(f"/api/v1/tokens/{colleague_token_id}", headers=rep.headers)  # an admin's act
        gone = await client.get("/api/v1/me", headers=colleague.headers)
        huge = await client.delete("/api/v1/tokens/1343546490685962101719040", headers=rep.headers)
    assert made.status_code == 201 and works.status_code == 200 and token not in str(own)
    assert {t["name"] for t in own} == {None, "Gmail extension"} and len(every) == 3
    assert expired.status_code == 401
    assert not_yours.status_code == 404 and revoked.status_code == 204 and gone.status_code == 401
    assert huge.status_code == 422


async def test_a_rep_signs_out_another_session(server, rep):
    async with server.client() as phone, server.client() as laptop:
        await sign_in(phone)
        await sign_in(laptop)
        listed = (await laptop.get("/api/v1/sessions")).json()["sessions"]
        other = next(s for s in listed if not s["current"])
        csrf = csrf_of((await laptop.get("/app/settings")).text)
        ended = await laptop.delete(f"/api/v1/sessions/{other['id']}", headers={"x-csrf-token": csrf, "origin": server.url})
        assert (await phone.get("/app")).status_code == 303  # back to the sign-in page
        assert (await laptop.get("/app")).status_code == 200
    assert len(listed) == 2 and ended.status_code == 204


async def test_a_disabled_user_is_signed_out_everywhere_and_the_last_admin_stays(server, rep, engine, clock):
    colleague = make_rep(engine, clock, "colin@seller.test", password="colin's password")
    async with server.client() as client:
        await sign_in(client, email=colleague.email, password="colin's password")
        disabled = await client.patch(f"/api/v1/users/{colleague.id}", json={"disabled": True}, headers=rep.headers)
        session_after = await client.get("/app")
        token_after = await client.get("/api/v1/me", headers=colleague.headers)
        password_after = await sign_in(client, email=colleague.email, password="colin's password")
        last_admin = await client.patch(f"/api/v1/users/{rep.id}", json={"disabled": True}, headers=rep.headers)
        enabled = await client.patch(f"/api/v1/users/{colleague.id}", json={"disabled": False}, headers=rep.headers)
        token_again = await client.get("/api/v1/me", headers=colleague.headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert session_after.status_code == 303 and token_after.status_code == 401 and password_after.status_code == 401
    assert last_admin.status_code == 422 and last_admin.json()["detail"][0]["loc"] == ["body", "disabled"]
    assert enabled.json()["disabled"] is False and token_again.status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(sessions.c.id).where(sessions.c.user_id == colleague.id)).first() is None


def test_tokens_and_users_from_the_command_line(tmp_path):
    env = {"LIVEFEED_VAR_DIR": str(tmp_path), "LIVEFEED_DATABASE_URL": f"sqlite:///{tmp_path / 'lf.db'}"}
    runner = CliRunner()
    assert runner.invoke(app, ["users", "add", "--email", "ada@seller.test", "--name", "Ada"], env=env).exit_code == 0
    assert runner.invoke(app, ["users", "add", "--email", "bob@seller.test", "--name", "Bob"], env=env).exit_code == 0
    made = runner.invoke(
        app, ["tokens", "create", "--email", "bob@seller.test", "--expires-in", "90d", "--name", "script"], env=env
    )
    bad = runner.invoke(app, ["tokens", "create", "--email", "bob@seller.test", "--expires-in", "soon"], env=env)
    listed = runner.invoke(app, ["tokens", "list", "--email", "bob@seller.test"], env=env)
    token_id = listed.output.split("\t")[0]
    revoked = runner.invoke(app, ["tokens", "revoke", token_id], env=env)
    again = runner.invoke(app, ["tokens", "revoke", token_id], env=env)
    disabled = runner.invoke(app, ["users", "disable", "--email", "bob@seller.test"], env=env)
    last_admin = runner.invoke(app, ["users", "disable", "--email", "ada@seller.test"], env=env)
    assert made.exit_code == 0 and made.output.startswith("lf_")
    assert bad.exit_code == 2 and "--expires-in" in bad.output
    assert "script" in listed.output and made.output.strip() not in listed.output
    assert revoked.exit_code == 0 and again.exit_code == 1 and "No token" in again.output
    assert disabled.exit_code == 0 and last_admin.exit_code == 1 and "last admin" in last_admin.output


async def test_a_cookie_session_changes_nothing_without_the_csrf_header_and_our_origin(server, rep):
    url = "/api/v1/workspace/marketo-webhook-secret"
    async with server.client() as client:
        await sign_in(client)
        csrf = csrf_of((await client.get("/app/settings")).text)
        forged = await client.post(url, headers={"origin": "https://evil.example"})  # what a cross-site form or fetch sends
        no_origin = await client.post(url, headers={"x-csrf-token": csrf})
        other_origin = await client.post(url, headers={"x-csrf-token": csrf, "origin": "https://evil.example"})
        ours = await client.post(url, headers={"x-csrf-token": csrf, "origin": server.url})
        reading = await client.get("/api/v1/me")  # reads need neither
    async with server.client() as client:
        bearer = await client.post(url, headers=rep.headers)  # browsers never send a token on their own
    assert [forged.status_code, no_origin.status_code, other_origin.status_code] == [403, 403, 403]
    assert ours.status_code == 200 and reading.status_code == 200 and bearer.status_code == 200


async def test_a_disabled_users_open_stream_ends_and_cannot_come_back(server, rep, engine, clock):
    import pytest as _pytest

    from .conftest import ready_stream

    colleague = make_rep(engine, clock, "colin@seller.test")
    async with server.client() as client:
        async with ready_stream(client, colleague.headers) as reader:
            disabled = await client.patch(f"/api/v1/users/{colleague.id}", json={"disabled": True}, headers=rep.headers)
            with _pytest.raises(EOFError):
                while True:
                    await reader.next(timeout=5)
        again = await client.get("/api/v1/feed/stream", headers=colleague.headers)
    assert disabled.status_code == 200 and again.status_code == 401
