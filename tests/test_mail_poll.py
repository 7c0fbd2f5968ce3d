"""Replies read through the Gmail API and Microsoft Graph: the first look only takes the mailbox's
place; then new mail (paged history, the delta query, a change notification) goes through the
same reader as IMAP and smtpd — a reply row, once; a history too old to follow (or a lost delta
state) is read again without duplicates; a revoked grant stops the polling."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import select

from livefeed.db.tables import mail_connections
from livefeed.edge.mailpoll import PollTiming
from livefeed.integrations.identity import GrantRevoked
from livefeed.integrations.services import ServiceTiming
from livefeed.settings import OidcSettings

from .conftest import LiveServer, send
from .mail_apis import MailApiStandIn
from .oidc_provider import OpenIdStandIn
from .support.oidc import GOOGLE_ID, MICROSOFT_ID, SECRET, connected


@contextlib.asynccontextmanager
async def provider_server(settings, clock, kind: str, **changes):
    """(a live server, the provider's OpenID stand-in, its mail API stand-in), the provider connected-ready."""
    client_id = GOOGLE_ID if kind == "google" else MICROSOFT_ID
    async with (
        OpenIdStandIn(kind, client_id=client_id, client_secret=SECRET, clock=clock) as identity,
        MailApiStandIn(identity) as api,
    ):
        api_url = {"gmail_api_url": api.url} if kind == "google" else {"graph_api_url": api.url}
        configured = settings.with_(**{kind: OidcSettings(client_id, SECRET, identity.discovery_url)}, **api_url, **changes)
        quiet = ServiceTiming(poll=PollTiming(poll_seconds=3600))  # the test polls; the background round stays out of the way
        async with LiveServer(configured, clock, services=quiet) as server:
            await server.runtime.services.held.wait()
            yield server, identity, api


@pytest.fixture
async def gmail_setup(settings, clock):
    async with provider_server(settings, clock, "google") as found:
        yield found


def reply_to(message_id: str, sender: str = "paul@prospect.test", text: str = "Sounds good, call me Monday") -> bytes:
    return (
        f"From: Paul <{sender}>\r\nTo: rita@seller.test\r\nSubject: Re: Hello\r\nMessage-ID: <r-{text[:5]}@prospect.test>\r\n"
        f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n\r\n{text}\r\n"
    ).encode()


def replies(feed: list) -> list:
    return [e for e in feed if e["kind"] == "reply"]


async def test_a_reply_in_gmail_becomes_a_reply_row_once(gmail_setup, rep, engine):
    server, google, gmail = gmail_setup
    gmail.deliver(b"From: old@example.test\r\nSubject: before connecting\r\n\r\nold mail\r\n")
    await connected(server, rep, "google", google)
    poller = server.runtime.services.poller
    assert await poller.poll_all() == 0  # the first look takes the place: older mail is not read
    async with server.client() as client:
        sent = await send(client, rep)
        message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
        gmail.deliver(reply_to(message_id))
        gmail.deliver(b"From: news@example.test\r\nSubject: Newsletter\r\n\r\nnot a reply\r\n")
        gmail.deliver(reply_to(message_id, "anna@prospect.test", "Adding Anna from finance"))
        assert await poller.poll_all() == 3  # two pages of history
        assert await poller.poll_all() == 0
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert sorted(e["detail"].split("\n")[0] for e in replies(feed)) == [
        "Adding Anna from finance",
        "Sounds good, call me Monday",
    ]
    with engine.connect() as conn:
        assert conn.execute(select(mail_connections.c.cursor)).scalar() == str(gmail.history_id)


async def test_a_history_too_old_to_follow_is_read_again_without_duplicates(gmail_setup, rep, engine):
    server, google, gmail = gmail_setup
    await connected(server, rep, "google", google)
    poller = server.runtime.services.poller
    await poller.poll_all()
    async with server.client() as client:
        sent = await send(client, rep)
        message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
        gmail.deliver(reply_to(message_id))
        await poller.poll_all()
        gmail.deliver(reply_to(message_id, text="And one more thing"))
        gmail.oldest_history = gmail.history_id + 1  # Gmail keeps history for a limited time: the cursor is now too old
        assert await poller.poll_all() == 2  # the newest read again
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert len(replies(feed)) == 2  # the first reply is not recorded twice


async def test_a_revoked_grant_stops_the_polling_and_asks_to_reconnect(gmail_setup, rep, engine):
    server, google, gmail = gmail_setup
    await connected(server, rep, "google", google)
    poller = server.runtime.services.poller
    await poller.poll_all()
    with engine.connect() as conn:
        stale = dict(conn.execute(select(mail_connections)).mappings().one())  # as a send racing the poll read it
    google.access_tokens.clear()
    google.refresh_tokens.clear()
    assert await poller.poll_all() == 0
    server.runtime.sender.tokens.forget(rep.id)
    with pytest.raises(GrantRevoked):  # the racing send finds the grant gone too
        await server.runtime.sender.provider_account(stale).token()
    requests = len(google.token_requests)
    assert await poller.poll_all() == 0
    assert len(google.token_requests) == requests  # not polled again: no retry storm
    with engine.connect() as conn:
        assert conn.execute(select(mail_connections.c.status)).scalar() == "reconnect"
    async with server.client() as client:
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    notices = [e for e in feed if e["kind"] == "notice"]
    assert len(notices) == 1  # one row tells the rep, however often the grant is found gone
    assert notices[0]["person"] is None and notices[0]["alert"] is True
    assert "Google" in notices[0]["reason"] and "rita" in notices[0]["message"]
    assert notices[0]["link_url"].endswith("/settings#mail-connection")
    # connected again, then revoked again: news again, once
    await connected(server, rep, "google", google)
    await poller.poll_all()
    google.access_tokens.clear()
    google.refresh_tokens.clear()
    server.runtime.sender.tokens.forget(rep.id)
    await poller.poll_all()
    await poller.poll_all()
    async with server.client() as client:
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert len([e for e in feed if e["kind"] == "notice"]) == 2


@pytest.fixture
async def graph_setup(settings, clock):
    async with provider_server(settings, clock, "microsoft") as found:
        yield found


async def test_a_reply_in_microsoft_365_arrives_through_the_delta_query_once(graph_setup, rep, engine, clock):
    server, microsoft, graph = graph_setup
    for n in range(3):
        graph.deliver(f"From: old{n}@example.test\r\nSubject: before\r\n\r\nold\r\n".encode())
    await connected(server, rep, "microsoft", microsoft)
    poller = server.runtime.services.poller
    assert await poller.poll_all() == 0  # the first look follows the delta to its end, reading nothing
    async with server.client() as client:
        sent = await send(client, rep)
        message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
        graph.deliver(reply_to(message_id))
        graph.deliver(b"From: news@example.test\r\nSubject: Newsletter\r\n\r\nnot a reply\r\n")
        graph.deliver(reply_to(message_id, "anna@prospect.test", "Adding Anna from finance"))
        clock.advance(minutes=1)
        assert await poller.poll_all() == 3
        assert await poller.poll_all() == 0  # checked one minute after they arrived
        clock.advance(minutes=5)
        graph.deliver(reply_to(message_id, text="Gone state, one more"))
        graph.oldest_history = 10**6  # Graph dropped the sync state: 410
        assert await poller.poll_all() == 1  # only what arrived since the last check is read again
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert len(replies(feed)) == 3
    with engine.connect() as conn:
        assert conn.execute(select(mail_connections.c.cursor)).scalar().startswith(graph.url + "/v1.0/")


@pytest.fixture
async def notifying(settings, clock):
    """Microsoft with change notifications on (they need an https public URL in production)."""
    async with provider_server(settings, clock, "microsoft", graph_notifications=True) as found:
        yield found


async def test_a_graph_notification_brings_the_reply_at_once_and_forged_ones_read_nothing(notifying, rep, engine, clock):
    from livefeed.edge import graph_hook

    from .conftest import ready_stream

    server, microsoft, graph = notifying
    await connected(server, rep, "microsoft", microsoft)
    await server.runtime.services.poller.poll_all()  # the delta's place, and the subscription (validated by Graph)
    [subscription] = graph.subscriptions.values()
    assert subscription["notificationUrl"] == f"{server.url}/hooks/graph" and subscription["changeType"] == "created"
    assert subscription["resource"] == "me/mailFolders('Inbox')/messages" and len(subscription["clientState"]) >= 32
    async with server.client() as client:
        sent = await send(client, rep)
        message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
        async with ready_stream(client, rep.headers) as reader:
            arrived = graph.deliver(reply_to(message_id))
            forged = await graph.notify(arrived, client_state="guessed")
            assert forged == [202] and rep.id not in graph_hook._running  # a wrong clientState schedules no read
            answers = await graph.notify(arrived)
            frame = await reader.next_event("hit", timeout=10)  # no poll round: the notification read it
    assert answers == [202] and '"kind":"reply"' in frame["data"] and "Sounds good" in frame["data"]
    clock.advance(hours=59)  # 11 hours left of 70: renewed, not created again
    await server.runtime.services.poller.poll_all()
    assert len(graph.subscriptions) == 1 and subscription["expirationDateTime"] == "2026-12-01T18:00:00.0000000Z"  # now + 70 h


async def test_the_hook_answers_graphs_validation_and_refuses_junk(notifying):
    server, _, _ = notifying
    async with server.client() as client:
        validation = await client.post("/hooks/graph?validationToken=Validation%3A+abc", content=b"")
        junk = await client.post("/hooks/graph", content=b"not json")
        unknown = await client.post("/hooks/graph", json={"value": [{"subscriptionId": "nope", "clientState": "x"}]})
    assert validation.status_code == 200 and validation.text == "Validation: abc"
    assert validation.headers["content-type"].startswith("text/plain")
    assert junk.status_code == 400 and unknown.status_code == 202
