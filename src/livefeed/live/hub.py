"""The hub: committed events fan out to each rep's open streams through bounded queues.

The database is the source of truth; the push is an optimisation. A subscriber whose queue is full
is cut off (`overflowed`) rather than buffered without bound; its client resumes by event id.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One frame for one rep's streams, serialised once however many streams receive it."""

    user_id: int
    event_id: int | None  # None for updates that carry no new event (a revised verdict)
    frame: bytes


def sse_frame(*, event: str, data: dict, event_id: int | None = None) -> bytes:
    """An SSE frame; json.dumps escapes newlines, so untrusted text cannot break the framing."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


HEARTBEAT = Message(0, None, b": heartbeat\n\n")
CLOSE = Message(0, None, b"")


class Subscription:
    __slots__ = ("user_id", "queue", "overflowed", "closed")

    def __init__(self, user_id: int, maxsize: int):
        self.user_id = user_id
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.closed = False

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
    def wants(self, user_id: int) -> bool: ...
    def heartbeat(self) -> None: ...
    def subscribe(self, user_id: int) -> Subscription: ...
    def unsubscribe(self, subscription: Subscription) -> None: ...
    async def publish(self, messages: list[Message]) -> None: ...


class MemoryHub:
    """In-process hub (the SQLite default): publish and subscribe on one event loop."""

    def __init__(self, *, queue_size: int = 256):
        self._queue_size = queue_size
        self._subscribers: dict[int, set[Subscription]] = {}

    def wants(self, user_id: int) -> bool:
        """Whether any stream of this rep is open here (frames for nobody are not built)."""
        return user_id in self._subscribers

    def subscribe(self, user_id: int) -> Subscription:
        subscription = Subscription(user_id, self._queue_size)
        self._subscribers.setdefault(user_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        group = self._subscribers.get(subscription.user_id)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._subscribers[subscription.user_id]

    async def publish(self, messages: list[Message]) -> None:
        for message in messages:
            for subscription in tuple(self._subscribers.get(message.user_id, ())):
                try:
                    subscription.queue.put_nowait(message)
                except asyncio.QueueFull:
                    subscription.overflowed = True
                    self.unsubscribe(subscription)

    def heartbeat(self) -> None:
        """Queue a heartbeat comment on every idle stream (one timer for all, not one per stream)."""
        for group in self._subscribers.values():
            for subscription in group:
                if subscription.queue.empty():
                    subscription.queue.put_nowait(HEARTBEAT)

    def count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())
