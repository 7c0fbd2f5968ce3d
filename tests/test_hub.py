"""The hub contract, on every backend: after subscribe → replay → ready, a stream gets every later
event of its rep once, in id order; across runtimes (workers) on PostgreSQL too."""

import asyncio

import pytest

from livefeed.core.model import OPEN, Hit
from livefeed.db import queries
from livefeed.live.hub import Message
from livefeed.live.postgres import decode, encode

from .conftest import LiveServer, send

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


async def drain(subscription, count: int, timeout: float = 10) -> list[int]:
    """Read `count` new event ids the way the stream handler does (skipping ids already sent)."""
    ids = []
    while len(ids) < count:
        message = await asyncio.wait_for(subscription.queue.get(), timeout)
        if message.event_id is None or message.event_id <= subscription.sent:
            continue
        subscription.sent = message.event_id
        ids.append(message.event_id)
    return ids


def replay_and_ready(runtime, subscription, rep) -> None:
    with runtime.engine.connect() as conn:
        rows = queries.feed_after(conn, workspace_id=rep.workspace_id, user_id=rep.id, after=0, limit=1000)
    subscription.sent = rows[-1]["id"] if rows else 0
    runtime.hub.ready(subscription)


async def test_stream_gets_every_later_event_once_in_order(server, rep, clock):
    async with server.client() as client:
        sent = await send(client, rep)
    runtime = server.runtime
    recipient = sent["recipients"][0]["recipient_id"]
    hit = Hit(kind=OPEN, target_id=recipient, at=clock(), ip="81.2.69.142", user_agent=CHROME)
    await runtime.recorder.record_open(hit)  # before subscribing: replayed, not streamed
    subscription = runtime.hub.subscribe(rep.id, rep.workspace_id)
    await runtime.recorder.record_open(hit)  # between subscribe and ready
    replay_and_ready(runtime, subscription, rep)
    first = subscription.sent
    for _ in range(3):
        await asyncio.gather(*(runtime.recorder.record_open(hit) for _ in range(4)))
    ids = await drain(subscription, 12)
    assert ids == list(range(first + 1, first + 13))
    runtime.hub.unsubscribe(subscription)


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is one process: no other worker
async def test_events_recorded_by_one_worker_reach_streams_of_another(settings, clock, rep, backend):
    async with LiveServer(settings, clock) as a, LiveServer(settings, clock) as b:
        async with a.client() as client:
            sent = await send(client, rep)
        recipient = sent["recipients"][0]["recipient_id"]
        subscription = b.runtime.hub.subscribe(rep.id, rep.workspace_id)
        replay_and_ready(b.runtime, subscription, rep)
        hit = Hit(kind=OPEN, target_id=recipient, at=clock(), ip="81.2.69.142", user_agent=CHROME)
        # Both workers record concurrently: ids interleave, notifications may arrive out of order.
        await asyncio.gather(*(rt.recorder.record_open(hit) for rt in (a.runtime, b.runtime) * 10))
        ids = await drain(subscription, 20)
    assert ids == sorted(ids) and len(set(ids)) == 20


def test_notify_payloads_carry_ids_only_and_stay_under_8_kb():
    messages = [Message(user, 1000 + user, b"x" * 5000) for user in range(2000)]
    messages.append(Message(7, None, b"", revised=(3, 4, 5)))
    payloads = encode(messages)
    assert all(len(p.encode()) < 8000 for p in payloads)
    newest = {}
    for payload in payloads:
        kind, users = decode(payload)
        if kind == "e":
            newest.update({u: ids[0] for u, ids in users.items()})
        else:
            assert users == {7: [3, 4, 5]}
    assert newest == {user: 1000 + user for user in range(2000)}


async def test_a_streams_mailbox_is_a_bounded_fifo_that_wakes_its_reader():
    from livefeed.live.hub import Mailbox, Message

    box = Mailbox(2)
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not reader.done()
    box.put_nowait(Message(1, 1, b"a"))
    assert (await asyncio.wait_for(reader, 1)).event_id == 1
    box.put_nowait(Message(1, 2, b"b"))
    box.put_nowait(Message(1, 3, b"c"))
    with pytest.raises(asyncio.QueueFull):
        box.put_nowait(Message(1, 4, b"d"))
    assert box.qsize() == 2 and [(await box.get()).event_id, box.get_nowait().event_id] == [2, 3] and box.empty()
    cancelled = asyncio.create_task(box.get())  # a stream that ends while waiting leaves no waiter behind
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    box.put_nowait(Message(1, 5, b"e"))
    assert (await asyncio.wait_for(box.get(), 1)).event_id == 5


async def test_a_waiting_stream_is_written_in_place_and_a_busy_one_queues_in_order():
    """The fan-out writes to a stream that waits with nothing queued without waking its task; a
    write that has to wait for the socket is queued as a future the stream finishes before its
    next frame; while anything is queued (or the task is busy), messages queue behind it."""
    from livefeed.live.hub import CLOSE, Mailbox, Message

    box = Mailbox(3)
    written: list[int] = []
    socket_full: asyncio.Future | None = None

    def sink(message):
        if socket_full is not None:
            return socket_full
        written.append(message.event_id)
        return None

    box.sink = sink
    box.put_nowait(Message(1, 1, b"a"))  # no task waits yet: queued
    assert written == [] and box.qsize() == 1
    assert (await box.get()).event_id == 1
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.put_nowait(Message(1, 2, b"b"))
    box.put_nowait(Message(1, 3, b"c"))
    await asyncio.sleep(0)
    assert written == [2, 3] and not reader.done() and box.empty()  # written in place, the task never woke
    socket_full = draining = asyncio.get_running_loop().create_future()
    box.put_nowait(Message(1, 4, b"d"))  # the write waits: its future is queued and the task wakes
    socket_full = None
    box.put_nowait(Message(1, 5, b"e"))  # behind it, not written ahead of it
    assert (await asyncio.wait_for(reader, 1)) is draining and written == [2, 3]
    assert box.get_nowait().event_id == 5 and box.empty()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.put_nowait(CLOSE)  # the end of a stream always wakes its task
    assert (await asyncio.wait_for(reader, 1)) is CLOSE and written == [2, 3]


async def test_start_runs_a_coroutine_in_place_and_a_task_carries_on_where_it_waited():
    from livefeed.web.stream import start

    log: list[str] = []

    async def write(wait_for: asyncio.Future | None):
        try:
            log.append("written")
            if wait_for is not None:
                log.append(f"got {await wait_for}")
            return "done"
        finally:
            log.append("finally")

    assert start(write(None)) is None and log == ["written", "finally"]  # ran to the end, nothing scheduled
    log.clear()
    drained = asyncio.get_running_loop().create_future()
    rest = start(write(drained))
    assert rest is not None and log == ["written"]
    drained.set_result("drained")
    assert await asyncio.wait_for(rest, 1) == "done" and log == ["written", "got drained", "finally"]
    log.clear()
    failing = asyncio.get_running_loop().create_future()
    rest = start(write(failing))
    failing.set_exception(ConnectionResetError("client gone"))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(rest, 1)
    log.clear()
    rest = start(write(asyncio.get_running_loop().create_future()))
    await asyncio.sleep(0)
    assert rest is not None
    rest.cancel()  # a stream cancelled while its write waits: the coroutine is told, and cleans up
    with pytest.raises(asyncio.CancelledError):
        await rest
    assert log == ["written", "finally"]


async def test_a_write_that_fails_in_place_closes_that_stream_and_not_the_publish(caplog):
    from livefeed.live.hub import CLOSE, MemoryHub, Message
    from livefeed.web.stream import _write_in_place

    hub = MemoryHub(queue_size=4)
    broken, healthy = hub.subscribe(1), hub.subscribe(1)
    broken.sent = healthy.sent = 0
    written = []

    async def send_broken(message):
        raise RuntimeError("transport gone")

    async def send_healthy(message):
        written.append(message["body"])

    broken.queue.sink = lambda m: _write_in_place(broken, send_broken, m)
    healthy.queue.sink = lambda m: _write_in_place(healthy, send_healthy, m)
    readers = [asyncio.create_task(s.queue.get()) for s in (broken, healthy)]
    await asyncio.sleep(0)
    await hub.publish([Message(1, 1, b"frame")])
    assert written == [b"frame"] and broken.closed and not healthy.closed
    assert (await asyncio.wait_for(readers[0], 1)) is CLOSE and not readers[1].done()
    assert "writing a live frame failed" in caplog.text
    readers[1].cancel()


def test_a_postgresql_stream_catches_up_only_when_its_own_rep_has_newer_events():
    """After a restart 1,000 streams reconnect: comparing each with the tail (every rep's) sent all
    of them to the database at once and the live frames queued behind (600 ms stalls measured)."""
    from livefeed.live.postgres import PgNotifyHub

    hub = PgNotifyHub(None, database_url="postgresql://unused/0")  # not started: no connection
    asked: list[int] = []
    hub._catch_up = asked.append  # type: ignore[method-assign]
    hub._advance = lambda: None  # type: ignore[method-assign]
    hub._tail = 500
    hub._received("e 5:100 7:480")
    quiet, behind, current = hub.subscribe(6, 1), hub.subscribe(5, 1), hub.subscribe(7, 1)
    quiet.sent, behind.sent, current.sent = 90, 90, 480
    for subscription in (quiet, behind, current):
        hub.ready(subscription)
    assert asked == [5]
