"""GET /api/v1/feed and the SSE stream: scoping, replay by Last-Event-ID, heartbeats, slow clients."""

import asyncio
import json

import pytest
from sqlalchemy import select

from livefeed.core.model import OPEN, Hit
from livefeed.db.tables import events
from livefeed.live.hub import MemoryHub, Message

from .conftest import LiveServer, SseReader, make_rep, pixel_path, ready_stream, send


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """This module's tests run on both databases."""
    return request.param


CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


async def open_email(client, server, recipient_id, ip="81.2.69.142"):
    response = await client.get(
        pixel_path(server.runtime.signer, recipient_id), headers={"user-agent": CHROME, "x-forwarded-for": ip}
    )
    assert response.status_code == 200


async def test_feed_lists_only_the_reps_own_events_newest_first(server, rep, engine, clock):
    other = make_rep(engine, clock, "olga@seller.test")
    stranger = make_rep(engine, clock, "sam@other.test", workspace="Other Co")
    async with server.client() as client:
        mine = await send(client, rep)
        theirs = await send(client, other)
        for _ in range(3):
            await open_email(client, server, mine["recipients"][0]["recipient_id"])
        await open_email(client, server, theirs["recipients"][0]["recipient_id"])
        my_feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()
        their_feed = (await client.get("/api/v1/feed", headers=other.headers)).json()
        stranger_feed = (await client.get("/api/v1/feed", headers=stranger.headers)).json()
        page = (await client.get("/api/v1/feed?limit=2", headers=rep.headers)).json()
        rest = (await client.get(f"/api/v1/feed?limit=2&before={page['next_before']}", headers=rep.headers)).json()
    ids = [e["id"] for e in my_feed["events"]]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    assert {e["email"]["id"] for e in my_feed["events"]} == {mine["id"]}
    assert [e["email"]["id"] for e in their_feed["events"]] == [theirs["id"]]
    assert stranger_feed["events"] == []
    assert [e["id"] for e in page["events"] + rest["events"]] == ids
    event = my_feed["events"][0]
    assert event["person"]["email"] == "paul@prospect.test" and event["class"] == "human" and event["alert"] is True
    assert event["location"]["label"] == "Willesden, England, United Kingdom (±200 km)"


async def test_feed_rejects_bad_query_values(server, rep):
    async with server.client() as client:
        response = await client.get("/api/v1/feed?limit=0", headers=rep.headers)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_stream_delivers_a_committed_open(server, rep):
    async with server.client() as client:
        sent = await send(client, rep)
        async with client.stream("GET", "/api/v1/feed/stream", headers=rep.headers) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SseReader(response)
            await reader.next_event("ready")
            await open_email(client, server, sent["recipients"][0]["recipient_id"])
            frame = await reader.next_event("hit")
    data = json.loads(frame["data"])
    assert frame["id"] == str(data["id"]) and data["kind"] == "open"


async def test_stream_replays_what_was_missed_without_gap_or_duplicate(server, rep):
    async with server.client() as client:
        sent = await send(client, rep)
        recipient = sent["recipients"][0]["recipient_id"]
        async with ready_stream(client, rep.headers) as reader:
            await open_email(client, server, recipient)
            first = int((await reader.next_event("hit"))["id"])
        for _ in range(4):  # while disconnected
            await open_email(client, server, recipient)
        seen = []
        async with client.stream("GET", "/api/v1/feed/stream", headers={**rep.headers, "last-event-id": str(first)}) as response:
            reader = SseReader(response)
            while True:
                frame = await reader.next()
                if frame.get("event") == "ready":
                    break
                if frame.get("event") == "hit":
                    seen.append(int(frame["id"]))
            await open_email(client, server, recipient)  # live again after the replay
            seen.append(int((await reader.next_event("hit"))["id"]))
    assert seen == list(range(first + 1, first + 6))


async def test_stream_backlog_sends_the_newest_events_oldest_first(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        for _ in range(4):
            await open_email(client, server, sent["recipients"][0]["recipient_id"])
        async with client.stream("GET", "/api/v1/feed/stream?backlog=2", headers=rep.headers) as response:
            reader = SseReader(response)
            ids = [int((await reader.next_event("hit"))["id"]) for _ in range(2)]
            ready = await reader.next()
    with engine.connect() as conn:
        stored = conn.execute(select(events.c.id).where(events.c.kind == "open").order_by(events.c.id)).scalars().all()
    assert len(stored) == 4 and ids == stored[-2:]  # the newest two, the older of them first
    assert ready["event"] == "ready"


async def test_stream_sends_heartbeats_when_idle(settings, clock, rep):
    async with LiveServer(settings.with_(heartbeat_seconds=0.05), clock) as server:
        async with server.client() as client:
            async with ready_stream(client, rep.headers) as reader:
                frame = await reader.next(timeout=5)
    assert frame == {"comment": "heartbeat"}


async def test_stream_requires_authentication(server):
    async with server.client() as client:
        response = await client.get("/api/v1/feed/stream")
    assert response.status_code == 401


async def test_slow_subscriber_is_cut_off_instead_of_buffered():
    hub = MemoryHub(queue_size=3)
    slow, other = hub.subscribe(1), hub.subscribe(2)
    await hub.publish([Message(1, n, b"x") for n in range(5)])
    assert slow.overflowed and slow.queue.qsize() == 3
    assert hub.count() == 1  # the slow one is gone; the other rep's stream is untouched
    await hub.publish([Message(2, 9, b"y")])
    assert other.queue.get_nowait().event_id == 9 and not other.overflowed


async def test_stream_of_a_slow_client_ends_so_it_can_resume(settings, clock, rep):
    """A client that stops reading: once its socket and the server's write buffer are full, the next
    write waits and later frames wait in the stream's queue; one more than the queue holds and the
    stream is cut off rather than buffered without bound. It resumes by id and gets all, once each."""
    async with LiveServer(settings.with_(stream_queue_size=2), clock) as server:
        hub = server.runtime.hub
        async with server.client() as client:
            sent = await send(client, rep)
            recipient = sent["recipients"][0]["recipient_id"]
            async with ready_stream(client, rep.headers) as reader:
                # The client reads nothing more for now. 16 MB is more than the kernel's socket
                # buffers take (tcp_wmem's largest is 4 MB), so the server's write buffer fills too.
                for subscription in hub.subscriptions(rep.id):
                    hub.deliver(subscription, Message(rep.id, None, b": " + b"x" * (16 << 20) + b"\n\n"))
                hit = Hit(kind=OPEN, target_id=recipient, at=clock(), ip="81.2.69.142", user_agent=CHROME)
                await asyncio.gather(*(server.runtime.recorder.record_open(hit) for _ in range(5)))
                await until(lambda: hub.count() == 0)  # cut off while its client still reads nothing
                received = []
                try:
                    while True:
                        received.append(await reader.next(timeout=5))
                except EOFError:
                    pass
            assert len([f for f in received if f.get("event") == "hit"]) <= 2  # cut off, not buffered
            # It resumes by id and gets all five, once each.
            async with client.stream("GET", "/api/v1/feed/stream?backlog=0&after=0", headers=rep.headers) as response:
                reader = SseReader(response)
                ids = [int((await reader.next_event("hit"))["id"]) for _ in range(5)]
    assert ids == sorted(set(ids))


async def test_a_stream_keeps_up_with_a_burst_larger_than_its_queue(settings, clock, rep):
    """A client that reads: frames go straight to its socket as they come, so a burst of more
    events than the stream's queue holds reaches it whole, in order, and the stream stays open."""
    async with LiveServer(settings.with_(stream_queue_size=2), clock) as server:
        async with server.client() as client:
            sent = await send(client, rep)
            recipient = sent["recipients"][0]["recipient_id"]
            async with ready_stream(client, rep.headers) as reader:
                hit = Hit(kind=OPEN, target_id=recipient, at=clock(), ip="81.2.69.142", user_agent=CHROME)
                await asyncio.gather(*(server.runtime.recorder.record_open(hit) for _ in range(5)))
                ids = [int((await reader.next_event("hit"))["id"]) for _ in range(5)]
                assert server.runtime.hub.count() == 1
    assert ids == sorted(set(ids))


async def until(condition, seconds: float = 5.0) -> None:
    """Wait for a condition the server's own tasks make true (not for a length of time)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not come true"
        await asyncio.sleep(0.01)


async def test_stream_rejects_bad_query_values(server, rep):
    async with server.client() as client:
        for query, field in (("after=-1", "after"), ("backlog=201", "backlog"), ("after=x", "after")):
            response = await client.get(f"/api/v1/feed/stream?{query}", headers=rep.headers)
            assert response.status_code == 422, query
            assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_stream_accepts_the_session_cookie(server, rep, clock):
    from livefeed.actions.sessions import signin_url

    async with server.client() as client:
        from .support.web import use_signin_link

        await use_signin_link(client, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
        async with client.stream("GET", "/api/v1/feed/stream") as response:
            assert response.status_code == 200
            assert (await SseReader(response).next_event("ready"))["data"] == '{"last_id":0}'


async def test_a_place_from_a_work_address_says_it_may_be_the_companys_network(server, rep):
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test", "paul.home@gmail.com"])
        for recipient in sent["recipients"]:
            await open_email(client, server, recipient["recipient_id"])
        events = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    caveats = {e["person"]["email"]: e["location"]["caveat"] for e in events}
    assert caveats == {
        "paul@prospect.test": "may be the company's network or VPN, not where the person is",
        "paul.home@gmail.com": None,
    }
