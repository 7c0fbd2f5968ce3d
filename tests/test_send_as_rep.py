"""Mail goes out through the rep's connected Google or Microsoft account (the Gmail API, Microsoft
Graph), each copy as over SMTP — pixel, links and the signed Message-ID — so it is in their Sent
folder; 429/5xx retried honouring Retry-After, other refusals failing the copy, an expired access
token refreshed once, a revoked grant marking the connection "reconnect needed"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from livefeed.db.tables import emails, mail_connections, send_queue

from .conftest import send
from .support.oidc import connected


@pytest.mark.parametrize("provider", ["google", "microsoft"])
async def test_each_copy_goes_out_through_the_reps_own_account(setup, rep, engine, provider):
    server, google, microsoft, gmail, graph = setup
    await connected(server, rep, provider, google if provider == "google" else microsoft)
    api = gmail if provider == "google" else graph
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test", "zoe@prospect.test"], subject="Pricing")
    assert sent["status"] == "sent"
    assert [m["To"] for _, m in api.sent] == ["paul@prospect.test", "zoe@prospect.test"]  # each copy to its person alone
    assert all(m["Cc"] is None for _, m in api.sent)
    message = api.sent[0][1]
    assert message["Subject"] == "Pricing" and message["Message-ID"].startswith("<lf.")
    assert "/o/" in message.get_body(("html",)).get_content()  # the copy is tracked as over SMTP
    assert {how for how, _ in api.sent} == {"gmail" if provider == "google" else "graph"}


async def test_a_large_message_uses_gmails_media_upload(setup, rep, engine):
    server, google, _, gmail, _ = setup
    await connected(server, rep, "google", google)
    async with server.client() as client:
        sent = await send(client, rep, text="x" * 1_900_000, html="<p>" + "y" * 1_900_000 + "</p>")  # two parts: over 3 MB
    assert sent["status"] == "sent" and [how for how, _ in gmail.sent] == ["gmail-upload"]


async def test_busy_answers_are_retried_after_retry_after_and_refusals_fail_the_copy(setup, rep, engine, clock):
    server, google, _, gmail, _ = setup
    await connected(server, rep, "google", google)
    gmail.fail_next = [(429, {"retry-after": "600"}, {"error": {"code": 429, "message": "User-rate limit exceeded"}})]
    async with server.client() as client:
        busy = await client.post(
            "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hi", "text": "x"}
        )
        clock.advance(seconds=61)
        assert await server.runtime.sender.send_due() == 0  # Retry-After (600 s) outweighs the first backoff (60 s)
        clock.advance(seconds=600)
        assert await server.runtime.sender.send_due() == 1
        gmail.fail_next = [(400, {}, {"error": {"code": 400, "message": "Invalid To header"}})]
        refused = await client.post(
            "/api/v1/emails", headers=rep.headers, json={"to": ["zoe@prospect.test"], "subject": "Hi", "text": "x"}
        )
    assert busy.status_code == 202 and "User-rate limit exceeded" in busy.json()["detail"]
    assert refused.status_code == 502 and "Invalid To header" in refused.json()["detail"]
    assert len(gmail.sent) == 1  # sent once, after the wait
    with engine.connect() as conn:
        assert [row.status for row in conn.execute(select(emails.c.status).order_by(emails.c.id))] == ["sent", "failed"]


async def test_an_expired_access_token_is_refreshed_once_and_a_revoked_grant_asks_to_reconnect(setup, rep, engine):
    server, google, _, gmail, _ = setup
    await connected(server, rep, "google", google)
    async with server.client() as client:
        await send(client, rep)
        google.access_tokens.clear()  # the access token LiveFeed holds expired early
        again = await send(client, rep)
        refused_tokens = gmail.unauthorised
        google.access_tokens.clear()
        google.refresh_tokens.clear()  # the rep revoked LiveFeed at Google
        revoked = await client.post(
            "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hi", "text": "x"}
        )
        shown = (await client.get("/api/v1/mail-connection", headers=rep.headers)).json()
        after = await client.post(
            "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "Hi", "text": "x"}
        )
    assert again["status"] == "sent" and len(gmail.sent) == 2 and refused_tokens == 1  # one 401, one refresh, sent
    assert revoked.status_code == 502 and "reconnect" in revoked.json()["detail"]
    assert shown["status"] == "reconnect" and "no longer accepts" in shown["error"]
    assert after.status_code == 502 and "connecting again" in after.json()["detail"]  # not silently another account
    with engine.connect() as conn:
        assert conn.execute(select(mail_connections.c.status)).scalar() == "reconnect"
        assert all(row.status in ("sent", "failed") for row in conn.execute(select(send_queue.c.status)))


async def test_a_reply_written_in_a_gmail_thread_is_sent_in_that_thread(setup, rep, engine):
    server, google, _, gmail, _ = setup
    await connected(server, rep, "google", google)
    gmail.threads["18c2f0a1b2c3d4e5"] = [
        {"Message-ID": "<first@prospect.test>"},
        {"Message-ID": "<second@prospect.test>", "References": "<first@prospect.test>"},
    ]
    async with server.client() as client:
        await send(client, rep, subject="Re: Hello", thread_id="18c2f0a1b2c3d4e5")
        await send(client, rep, subject="Elsewhere", thread_id="0000000000000bad")  # not a thread of this mailbox
    reply, other = gmail.sent[0][1], gmail.sent[1][1]
    assert gmail.sent_threads == ["18c2f0a1b2c3d4e5", None]
    assert reply["In-Reply-To"] == "<second@prospect.test>"
    assert reply["References"] == "<first@prospect.test> <second@prospect.test>"
    assert other["In-Reply-To"] is None
