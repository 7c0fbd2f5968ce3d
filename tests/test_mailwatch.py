"""Replies over IMAP: a real dovecot, a rep's mailbox connected through the API, the watcher in
IDLE (or polling) — replies, auto-replies and bounces reach the open window; foreign mail, the
same message twice and a restart record nothing extra; the password is never shown or logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from livefeed.db.engine import make_engine
from livefeed.db.tables import events, mailboxes
from livefeed.edge.mailwatch import Timing
from livefeed.integrations.services import ServiceTiming

from .conftest import LiveServer, free_port, ready_stream, send
from .support.mail import PASSWORD, message


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


def timing(*, prefer_idle: bool = True) -> ServiceTiming:
    # Short retry and poll intervals: the tests wait for events, never for a clock.
    return ServiceTiming(
        lease_retry_seconds=0.05,
        reconcile_seconds=3600,
        mail=Timing(retry_seconds=0.05, poll_seconds=0.05, prefer_idle=prefer_idle),
    )


async def connect(client, rep, dovecot, **changes):
    body = {
        "host": dovecot.host,
        "port": dovecot.port,
        "security": "plain",
        "username": rep.email,
        "password": PASSWORD,
        **changes,
    }
    return await client.put("/api/v1/mailbox", json=body, headers=rep.headers)


async def watching(server, user_id: int):
    """The rep's watcher, once it has read the folder up to now and waits for more."""
    services = server.runtime.services
    await asyncio.wait_for(services.held.wait(), 5)
    for _ in range(500):
        watcher = services.mail.watcher(user_id)
        if watcher is not None and watcher.passes:
            return watcher
        await asyncio.sleep(0.01)
    raise AssertionError("the watcher did not start")


async def started(settings, clock, **kw):
    return await LiveServer(settings, clock, services=timing(**kw)).start()


async def test_connecting_checks_the_server_and_never_shows_the_password(settings, clock, rep, dovecot, caplog):
    caplog.set_level(logging.DEBUG)
    server = await started(settings, clock)
    try:
        async with server.client() as client:
            refused = await connect(client, rep, dovecot, password="wrong-password")
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["loc"] == ["body", "password"]
            assert "refused the username or password" in refused.json()["detail"][0]["msg"]
            assert (await client.get("/api/v1/mailbox", headers=rep.headers)).status_code == 404  # nothing stored
            unreachable = await connect(client, rep, dovecot, port=free_port())
            assert unreachable.status_code == 422 and unreachable.json()["detail"][0]["loc"] == ["body", "host"]
            folder = await connect(client, rep, dovecot, folder="No Such Folder")
            assert folder.status_code == 422 and folder.json()["detail"][0]["loc"] == ["body", "folder"]
            bad = await connect(client, rep, dovecot, security="starttls-maybe")
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "security"]

            ok = await connect(client, rep, dovecot)
            assert ok.status_code == 200, ok.text
            shown = (await client.get("/api/v1/mailbox", headers=rep.headers)).json()
            await watching(server, rep.id)
            shown = (await client.get("/api/v1/mailbox", headers=rep.headers)).json()
    finally:
        await server.stop()
    assert shown["password_set"] is True and shown["status"] == "idle" and shown["username"] == rep.email
    assert PASSWORD not in str(shown)
    with server.runtime.engine.connect() as conn:
        stored = conn.execute(select(mailboxes.c.secret)).scalar()
    assert PASSWORD not in stored and len(stored) > 60  # sealed
    assert PASSWORD not in caplog.text and "wrong-password" not in caplog.text


@pytest.mark.parametrize("prefer_idle", [True, False], ids=["idle", "polling"])
async def test_replies_auto_replies_and_bounces_in_the_inbox_reach_the_window(settings, clock, rep, dovecot, prefer_idle):
    server = await started(settings, clock, prefer_idle=prefer_idle)
    try:
        async with server.client() as client:
            dovecot.deliver(rep.email, b"From: old@prospect.test\r\nSubject: before\r\n\r\nolder mail\r\n")
            assert (await connect(client, rep, dovecot)).status_code == 200
            watcher = await watching(server, rep.id)
            assert (await client.get("/api/v1/mailbox", headers=rep.headers)).json()["status"] == (
                "idle" if prefer_idle else "polling"
            )
            sent = await send(client, rep, to=["paul@prospect.test"], subject="Pricing for 250 seats")
            message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
            async with ready_stream(client, rep.headers) as reader:
                dovecot.deliver(rep.email, message("gmail_reply.eml", message_id))
                reply = await reader.next_event("hit", timeout=10)
                dovecot.deliver(
                    rep.email,
                    b"From: x@elsewhere.test\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <lf.AAAAAAAAAAAAAAAAAAAA@track.test>\r\n\r\nforged\r\n",
                )
                dovecot.deliver(rep.email, message("out_of_office.eml", message_id))
                auto = await reader.next_event("hit", timeout=10)
                dovecot.deliver(rep.email, message("postfix_bounce.eml", message_id))
                bounce = await reader.next_event("hit", timeout=10)
            kinds = [e["kind"] for e in (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]]
            place = (await client.get("/api/v1/mailbox", headers=rep.headers)).json()["last_uid"]
            newest = dovecot.newest_uid(rep.email)
    finally:
        await server.stop()
    assert '"kind":"reply"' in reply["data"] and "Tuesday at 3pm" in reply["data"]
    assert '"kind":"auto_reply"' in auto["data"] and '"kind":"bounce"' in bounce["data"]
    assert kinds == ["bounce", "auto_reply", "reply"]  # the older mail and the forged one: nothing
    assert place == newest and watcher.passes >= 2


async def test_a_restart_resumes_after_the_last_message_read_and_records_nothing_twice(settings, clock, rep, dovecot):
    user = "other@seller.test"
    server = await started(settings, clock)
    try:
        async with server.client() as client:
            body = {
                "host": dovecot.host,
                "port": dovecot.port,
                "security": "plain",
                "username": user,
                "password": "other-password",
            }
            assert (await client.put("/api/v1/mailbox", json=body, headers=rep.headers)).status_code == 200
            await watching(server, rep.id)
            sent = await send(client, rep, to=["paul@prospect.test", "anna@prospect.test"], subject="Pricing for 250 seats")
            ids = [server.runtime.sender.message_id(r["recipient_id"]) for r in sent["recipients"]]
            async with ready_stream(client, rep.headers) as reader:
                dovecot.deliver(user, message("gmail_reply.eml", ids[0]))
                await reader.next_event("hit", timeout=10)
    finally:
        await server.stop()
    # While LiveFeed is down, a reply arrives; the same Gmail message is also BCC'd by SMTP later.
    dovecot.deliver(user, message("outlook_reply.eml", ids[1]))
    server = await started(settings, clock)
    try:
        async with server.client() as client:
            async with ready_stream(client, rep.headers, "/api/v1/feed/stream?backlog=0") as reader:
                frame = await reader.next_event("hit", timeout=10)
            from livefeed.actions.replies import record_inbound

            assert await record_inbound(server.runtime, message("gmail_reply.eml", ids[0])) is None
    finally:
        await server.stop()
    assert "anna@prospect.test" in frame["data"] or '"kind":"reply"' in frame["data"]
    with server.runtime.engine.connect() as conn:
        replies = (
            conn.execute(select(events.c.recipient_id).where(events.c.kind == "reply").order_by(events.c.id)).scalars().all()
        )
    assert replies == [sent["recipients"][0]["recipient_id"], sent["recipients"][1]["recipient_id"]]


async def test_removing_the_mailbox_stops_its_watcher(settings, clock, rep, dovecot):
    server = await started(settings, clock)
    try:
        async with server.client() as client:
            assert (await connect(client, rep, dovecot)).status_code == 200
            watcher = await watching(server, rep.id)
            assert (await client.delete("/api/v1/mailbox", headers=rep.headers)).status_code == 204
            assert server.runtime.services.mail.watcher(rep.id) is None and watcher.stop_event.is_set()
            assert (await client.delete("/api/v1/mailbox", headers=rep.headers)).status_code == 404
    finally:
        await server.stop()


async def test_a_password_sealed_under_another_secret_key_shows_as_an_error(settings, clock, rep, dovecot):
    from livefeed.edge.mailwatch import mailbox_vault

    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            mailboxes.insert().values(
                user_id=rep.id,
                workspace_id=rep.workspace_id,
                host=dovecot.host,
                port=dovecot.port,
                security="plain",
                username=rep.email,
                secret=mailbox_vault(b"another-secret-key-0123456789abcdef").seal(PASSWORD),
                folder="INBOX",
                status="idle",
                created_at=clock(),
                updated_at=clock(),
            )
        )
    engine.dispose()
    server = await started(settings, clock)
    try:
        await asyncio.wait_for(server.runtime.services.held.wait(), 5)
        await server.runtime.services.mail.reconcile()
        async with server.client() as client:
            shown = (await client.get("/api/v1/mailbox", headers=rep.headers)).json()
    finally:
        await server.stop()
    assert shown["status"] == "error" and "enter them again" in shown["error"]


async def test_a_uidvalidity_change_starts_over_from_the_newest_message(settings, clock, rep, dovecot, engine):
    """The folder was renumbered while LiveFeed was down (RFC 3501 §2.3.1.1): the stored UID means
    nothing any more, so the watcher starts from the folder's newest message instead of reading
    (or re-reading) by old numbers; what arrives next is recorded."""
    user = "other@seller.test"
    body = {"host": dovecot.host, "port": dovecot.port, "security": "plain", "username": user, "password": "other-password"}
    server = await started(settings, clock)
    try:
        async with server.client() as client:
            assert (await client.put("/api/v1/mailbox", json=body, headers=rep.headers)).status_code == 200
            await watching(server, rep.id)
            sent = await send(client, rep, to=["paul@prospect.test", "anna@prospect.test"], subject="Renumbered")
            ids = [server.runtime.sender.message_id(r["recipient_id"]) for r in sent["recipients"]]
    finally:
        await server.stop()
    with engine.connect() as conn:
        before = conn.execute(select(mailboxes.c.uid_validity, mailboxes.c.last_uid).where(mailboxes.c.user_id == rep.id)).one()
    with engine.begin() as conn:  # as if the server had renumbered the folder: the stored validity no longer matches
        conn.execute(mailboxes.update().where(mailboxes.c.user_id == rep.id).values(uid_validity=before.uid_validity + 1))
    dovecot.deliver(user, message("gmail_reply.eml", ids[0]))  # arrives while down, under the new numbering
    server = await started(settings, clock)
    try:
        async with server.client() as client:
            await watching(server, rep.id)
            with engine.connect() as conn:
                after = conn.execute(
                    select(mailboxes.c.uid_validity, mailboxes.c.last_uid).where(mailboxes.c.user_id == rep.id)
                ).one()
            async with ready_stream(client, rep.headers, "/api/v1/feed/stream?backlog=0") as reader:
                dovecot.deliver(user, message("outlook_reply.eml", ids[1]))
                frame = await reader.next_event("hit", timeout=10)
    finally:
        await server.stop()
    assert after.uid_validity == before.uid_validity and after.last_uid > before.last_uid  # the server's, from its newest
    assert '"kind":"reply"' in frame["data"]
    with engine.connect() as conn:
        replies = conn.execute(select(events.c.recipient_id).where(events.c.kind == "reply")).scalars().all()
    assert replies == [sent["recipients"][1]["recipient_id"]]  # the renumbered folder's old mail is not read by old numbers
