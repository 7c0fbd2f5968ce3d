"""The hub: committed events fan out to each rep's open streams through bounded queues.

The database is the source of truth; the push is an optimisation. A subscriber whose queue is full
is cut off (`overflowed`) rather than buffered without bound; its client resumes by event id.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One frame for one rep's streams, serialised once however many streams receive it."""

    user_id: int
    event_id: int | None  # None for updates that carry no new event (a revised verdict)
    frame: bytes
    revised: tuple[int, ...] = ()  # for a revised verdict: the events it changes


def sse_frame(*, event: str, data: dict, event_id: int | None = None) -> bytes:
    """An SSE frame; json.dumps escapes newlines, so untrusted text cannot break the framing."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


HEARTBEAT = Message(0, None, b": heartbeat\n\n")
CLOSE = Message(0, None, b"")
# What a "changed" frame can say: the window reloads that list (it holds no event of the log).
CHANGED = ("tasks", "targets")


def changed_frame(what: str) -> bytes:
    return sse_frame(event="changed", data={"what": what})


class Mailbox:
    """A stream's bounded queue: the part of asyncio.Queue a stream uses (put_nowait raising
    QueueFull, get, get_nowait, empty, qsize) without what it does not (the putters' deque, the unfinished-task
    count and its Event): one deque and at most one waiter. 10,000 streams hold 10,000 of these.

    With a `sink` (the stream's own writer, set once its replay is out), a message put while the
    stream waits here with nothing queued is handed to the sink at once instead of waking the
    stream's task: fan-out then costs a socket write per stream, not a task switch. Only a waiting
    stream with an empty queue is written in place, so frames still go out in the order they were
    put. A sink that cannot finish without waiting (the socket is full) returns the future that
    finishes it; that future is queued, and the stream awaits it before its next frame. `CLOSE`
    always goes through the queue: it ends the stream's task."""

    __slots__ = ("_items", "_maxsize", "_waiter", "sink")

    def __init__(self, maxsize: int):
        self._items: deque[Message | asyncio.Future] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future | None = None
        self.sink: Callable[[Message], asyncio.Future | None] | None = None

    def put_nowait(self, item: Message) -> None:
        if len(self._items) >= self._maxsize:
            raise asyncio.QueueFull
        waiter = self._waiter
        queued: Message | asyncio.Future = item
        if self.sink is not None and item is not CLOSE and not self._items and waiter is not None and not waiter.done():
            pending = self.sink(item)
            if pending is None:
                return
            queued = pending
        self._items.append(queued)
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Message | asyncio.Future:
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        return self._items.popleft()

    def get_nowait(self) -> Message | asyncio.Future:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Subscription:
    __slots__ = ("user_id", "workspace_id", "queue", "overflowed", "closed", "sent", "queued")

    def __init__(self, user_id: int, workspace_id: int, maxsize: int):
        self.user_id, self.workspace_id = user_id, workspace_id
        self.queue = Mailbox(maxsize)
        self.overflowed = False
        self.closed = False
        self.sent: int | None = None  # the last event id written; None until the replay is done
        self.queued = 0  # the last event id a hub that reads the database has queued here

    @property
    def position(self) -> int:
        return max(self.sent or 0, self.queued)

    @property
    def ended(self) -> bool:
        return self.overflowed or self.closed

    def close(self) -> None:
        """The client went away: wake the stream so it ends (a full queue wakes it anyway)."""
        self.closed = True
        try:
            self.queue.put_nowait(CLOSE)
        except asyncio.QueueFull:
            pass


class Hub(Protocol):
    """Fan-out of committed events. Contract (tests/test_hub.py runs it on every backend): a stream
    that subscribes, replays from the database, then calls `ready` receives every later event of
    its rep exactly once and in id order (it skips ids it already sent)."""

    # Called with the reps whose feed got an event or whose Target list changed, from any process
    # (the Target list cache listens: runtime.py).
    watchers: list[Callable[[set[int]], None]]

    def wants(self, user_id: int) -> bool: ...
    def users(self) -> list[int]: ...  # the reps with a stream open in this process
    def notices(self, messages: list[Message]) -> list[tuple[str, str]]: ...
    def heartbeat(self) -> None: ...
    def subscribe(self, user_id: int, workspace_id: int) -> Subscription: ...
    def ready(self, subscription: Subscription) -> None: ...
    def unsubscribe(self, subscription: Subscription) -> None: ...
    def subscriptions(self, user_id: int) -> tuple[Subscription, ...]: ...
    async def publish(self, messages: list[Message]) -> None: ...
    async def signal(self, user_ids: set[int], what: str) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class MemoryHub:
    """In-process hub (the SQLite default): publish and subscribe on one event loop."""

    def __init__(self, *, queue_size: int = 256):
        self._queue_size = queue_size
        self._subscribers: dict[int, set[Subscription]] = {}
        # Told the reps whose feed got an event or whose Target list changed, from any process
        # (the Target list cache listens).
        self.watchers: list[Callable[[set[int]], None]] = []

    def touched(self, user_ids: set[int]) -> None:
        for watcher in self.watchers:
            watcher(user_ids)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def wants(self, user_id: int) -> bool:
        """Whether any stream of this rep is open here (frames for nobody are not built)."""
        return user_id in self._subscribers

    def notices(self, messages: list[Message]) -> list[tuple[str, str]]:
        """Database notifications to send with the writer's commit (none in one process)."""
        return []

    def subscribe(self, user_id: int, workspace_id: int = 0) -> Subscription:
        subscription = Subscription(user_id, workspace_id, self._queue_size)
        self._subscribers.setdefault(user_id, set()).add(subscription)
        return subscription

    def ready(self, subscription: Subscription) -> None:
        """In one process the queue already holds everything published since `subscribe`."""

    def subscriptions(self, user_id: int) -> tuple[Subscription, ...]:
        return tuple(self._subscribers.get(user_id, ()))

    def users(self) -> list[int]:
        return list(self._subscribers)

    def deliver(self, subscription: Subscription, message: Message) -> None:
        """Queue one message for one stream; a full queue cuts the stream off."""
        try:
            subscription.queue.put_nowait(message)
        except asyncio.QueueFull:
            subscription.overflowed = True
            self.unsubscribe(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        group = self._subscribers.get(subscription.user_id)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._subscribers[subscription.user_id]

    async def publish(self, messages: list[Message]) -> None:
        self.touched({m.user_id for m in messages if m.event_id is not None or m.revised})
        for message in messages:
            if message.frame:
                for subscription in self.subscriptions(message.user_id):
                    self.deliver(subscription, message)

    async def signal(self, user_ids: set[int], what: str) -> None:
        """Tell these reps' open windows that a list changed (tasks, targets); after the commit."""
        self.deliver_changed(user_ids, what)

    def deliver_changed(self, user_ids, what: str) -> None:
        if what == "targets":
            self.touched(set(user_ids))
        message = Message(0, None, changed_frame(what))
        for user_id in user_ids:
            for subscription in self.subscriptions(user_id):
                self.deliver(subscription, message)

    def heartbeat(self) -> None:
        """Queue a heartbeat comment on every idle stream (one timer for all, not one per stream)."""
        for group in self._subscribers.values():
            for subscription in group:
                if subscription.queue.empty():
                    subscription.queue.put_nowait(HEARTBEAT)

    def count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())
