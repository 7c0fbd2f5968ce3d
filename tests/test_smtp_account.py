"""A rep's own SMTP account: tested by signing in to a real (aiosmtpd) server that reports its
exact refusal, stored sealed, used for that rep's mail only, removed."""

from __future__ import annotations

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import func, select

from livefeed.db.tables import outbox, smtp_accounts
from livefeed.integrations.smtp import smtp_vault

from .conftest import free_port, make_rep, send
from .support.mail import Inbox, account


def outbox_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)).scalar()


async def test_test_reports_what_failed_naming_the_setting_and_stores_nothing(server, rep, engine, mail_server):
    port, _ = mail_server
    async with server.client() as client:
        ok = await client.post("/api/v1/smtp/test", json=account(port), headers=rep.headers)
        wrong = await client.post("/api/v1/smtp/test", json=account(port, password="nope"), headers=rep.headers)
        closed = await client.post("/api/v1/smtp/test", json=account(free_port()), headers=rep.headers)
        no_tls = await client.post("/api/v1/smtp/test", json=account(port, security="starttls"), headers=rep.headers)
        bad_host = await client.post("/api/v1/smtp/test", json=account(port, host="smtp example"), headers=rep.headers)
        bad_security = await client.post("/api/v1/smtp/test", json=account(port, security="ssl"), headers=rep.headers)
        no_password = await client.post("/api/v1/smtp/test", json=account(port, password=None), headers=rep.headers)
        anonymous = await client.post("/api/v1/smtp/test", json=account(port))
    assert ok.status_code == 200 and "Signed in to 127.0.0.1 as rita" in ok.json()["message"]
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "password"]
    assert "refused the username or password (SMTP 535)" in wrong.json()["detail"][0]["msg"] and "nope" not in wrong.text
    assert closed.status_code == 422 and closed.json()["detail"][0]["loc"] == ["body", "host"]
    assert "cannot connect to 127.0.0.1" in closed.json()["detail"][0]["msg"]
    assert no_tls.status_code == 422 and no_tls.json()["detail"][0]["loc"] == ["body", "security"]
    assert "STARTTLS" in no_tls.json()["detail"][0]["msg"]
    assert bad_host.json()["detail"][0]["loc"] == ["body", "host"] and bad_security.json()["detail"][0]["loc"] == [
        "body",
        "security",
    ]
    assert no_password.status_code == 422 and no_password.json()["detail"][0]["loc"] == ["body", "password"]
    assert anonymous.status_code == 401
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(smtp_accounts)).scalar() == 0


async def test_a_saved_account_sends_that_reps_mail_only_until_removed(server, rep, engine, clock, mail_server):
    port, inbox = mail_server
    olga = make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        missing = await client.get("/api/v1/smtp", headers=rep.headers)
        refused = await client.put("/api/v1/smtp", json=account(port, password="nope"), headers=rep.headers)
        saved = await client.put("/api/v1/smtp", json=account(port), headers=rep.headers)
        kept = await client.put(
            "/api/v1/smtp", json=account(port, password=None), headers=rep.headers
        )  # keeps the stored password
        shown = await client.get("/api/v1/smtp", headers=rep.headers)
        mine = await send(client, rep, to=["paul@prospect.test"])
        theirs = await send(client, olga, to=["zoe@prospect.test"])
        removed = await client.delete("/api/v1/smtp", headers=rep.headers)
        again = await client.delete("/api/v1/smtp", headers=rep.headers)
        after = await send(client, rep, to=["paul@prospect.test"])
    assert missing.status_code == 404 and refused.status_code == 422
    assert saved.status_code == 200 and kept.status_code == 200, kept.text
    assert shown.json() == {
        **{k: v for k, v in account(port).items() if k != "password"},
        "password_set": True,
        "updated_at": shown.json()["updated_at"],
    }
    assert "app-password-1" not in shown.text
    assert mine["status"] == theirs["status"] == after["status"] == "sent"
    assert [(m[0], m[1]) for m in inbox.messages] == [("rita@seller.test", ["paul@prospect.test"])]
    assert "/o/" in inbox.messages[0][2].get_body(("html",)).get_content()  # tracked as usual
    assert outbox_count(engine) == 2  # Olga's, and Rita's after removing the account
    assert removed.status_code == 204 and again.status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(smtp_accounts)).scalar() == 0


async def test_a_refusal_at_send_time_fails_the_email_with_the_servers_words(server, rep, engine, mail_server):
    port, _ = mail_server
    async with server.client() as client:
        await client.put("/api/v1/smtp", json=account(port), headers=rep.headers)
    with engine.begin() as conn:  # the password was changed at the provider: stored one now wrong
        conn.execute(smtp_accounts.update().values(secret=smtp_vault(server.runtime.settings.secret_key).seal("old")))
    async with server.client() as client:
        response = await client.post(
            "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hello", "text": "hi"}
        )
    assert response.status_code == 502 and "535" in response.json()["detail"]
    assert outbox_count(engine) == 0


async def test_the_compose_page_says_local_outbox_only_while_the_rep_has_no_account(server, rep, mail_server):
    from .support.web import sign_in

    port, _ = mail_server
    async with server.client() as client:
        await sign_in(client)
        before = (await client.get("/app")).text
        await client.put("/api/v1/smtp", json=account(port), headers=rep.headers)
        after = (await client.get("/app")).text
    assert 'mail goes to the <a href="/app/outbox">local outbox</a>' in before
    assert "local outbox" not in after


async def test_a_provider_with_passwords_switched_off_is_reported_as_that(server, rep):
    def basic_auth_off(server_, session, envelope, mechanism, auth_data):  # Exchange Online with SMTP AUTH disabled
        return AuthResult(
            success=False, handled=False, message="535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
        )

    controller = Controller(
        Inbox(), hostname="127.0.0.1", port=free_port(), authenticator=basic_auth_off, auth_required=True, auth_require_tls=False
    )
    controller.start()
    try:
        async with server.client() as client:
            answer = await client.post("/api/v1/smtp/test", json=account(controller.port), headers=rep.headers)
    finally:
        controller.stop()
    assert answer.status_code == 422
    message = answer.json()["detail"][0]["msg"]
    assert "Microsoft 365 no longer accepts passwords" in message and "Connect Microsoft 365" in message
