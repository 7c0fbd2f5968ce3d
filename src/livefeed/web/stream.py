"""GET /api/v1/feed/stream — Server-Sent Events for the signed-in rep.

On connect: subscribe to the hub, replay from Last-Event-ID (or the last `backlog` events), then
drain live messages, skipping ids already sent — no gap, no duplicate. A heartbeat comment keeps
proxies from closing the connection; a client whose queue overflows is cut off and resumes by id.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from ..db import queries
from ..live.hub import sse_frame
from .auth import api_user, runtime

router = APIRouter()
REPLAY_PAGE = 500
MAX_BACKLOG = 200
RETRY_MS = 2000


@router.get("/api/v1/feed/stream", summary="Live feed events (Server-Sent Events)")
async def feed_stream(
    request: Request,
    user=Depends(api_user),
    after: int | None = Query(None, ge=0, description="Resume after this event id (as Last-Event-ID)"),
    backlog: int = Query(0, ge=0, le=MAX_BACKLOG, description="On a fresh connect, first send the last N events"),
):
    rt = runtime(request)
    header = request.headers.get("last-event-id", "")
    last_id = int(header) if header.isdigit() else after
    return StreamingResponse(
        _events(rt, user, last_id, backlog),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _events(rt, user, last_id: int | None, backlog: int):
    subscription = rt.hub.subscribe(user["id"])
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        sent = last_id or 0
        for row in await asyncio.to_thread(_replay, rt, user, last_id, backlog):
            yield sse_frame(event="hit", data=queries.event_view(row), event_id=row["id"])
            sent = row["id"]
        yield sse_frame(event="ready", data={"last_id": sent})
        queue = subscription.queue
        while not subscription.overflowed:
            try:
                message = await asyncio.wait_for(queue.get(), rt.settings.heartbeat_seconds)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if message.event_id is not None:
                if message.event_id <= sent:
                    continue
                sent = message.event_id
            yield message.frame
    finally:
        rt.hub.unsubscribe(subscription)


def _replay(rt, user, last_id: int | None, backlog: int) -> list:
    scope = {"workspace_id": user["workspace_id"], "user_id": user["id"]}
    with rt.engine.connect() as conn:
        if last_id is None:
            return list(reversed(queries.feed_page(conn, **scope, limit=backlog))) if backlog else []
        rows, after = [], last_id
        while page := queries.feed_after(conn, **scope, after=after, limit=REPLAY_PAGE):
            rows.extend(page)
            after = page[-1]["id"]
            if len(page) < REPLAY_PAGE:
                break
        return rows
