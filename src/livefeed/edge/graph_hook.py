"""POST /hooks/graph: Microsoft Graph's change notifications for connected reps' Inboxes.

Graph ("Receive change notifications through webhooks") first validates the URL by POSTing
`?validationToken=…`, which must come back as plain text within 10 seconds. Then each
notification names its subscription and carries the `clientState` we gave it: only a known
subscription with its own secret counts, and it only makes us read that rep's delta at once — the
notification's content is never trusted. The answer is 202 at once; the reading happens after.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from ..core.secrets import secret_hash
from ..db.tables import mail_connections
from ..web.auth import runtime
from .mailpoll import MailPoller

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
MAX_ITEMS = 100


@router.post("/hooks/graph")
async def graph_hook(request: Request):
    token = request.query_params.get("validationToken")
    if token is not None:
        return PlainTextResponse(token[:2048])
    rt = runtime(request)
    try:
        items = json.loads(await request.body()).get("value", [])
    except (ValueError, AttributeError, RecursionError):
        return Response(status_code=400)
    if not isinstance(items, list):
        return Response(status_code=400)
    wanted = {}
    for item in items[:MAX_ITEMS]:
        if isinstance(item, dict) and isinstance(item.get("subscriptionId"), str) and isinstance(item.get("clientState"), str):
            wanted[item["subscriptionId"][:200]] = item["clientState"]
    users = await asyncio.to_thread(_verified_users, rt, wanted)
    for user_id in users:
        _read_soon(rt, user_id)
    return Response(status_code=202)


def _verified_users(rt, wanted: dict[str, str]) -> set[int]:
    if not wanted:
        return set()
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(
                mail_connections.c.user_id, mail_connections.c.subscription_id, mail_connections.c.subscription_secret_hash
            ).where(mail_connections.c.subscription_id.in_(list(wanted)))
        ).all()
    return {
        row.user_id
        for row in rows
        if row.subscription_secret_hash
        and hmac.compare_digest(row.subscription_secret_hash, secret_hash(wanted[row.subscription_id]))
    }


_running: dict[int, bool] = {}  # user id → another notification came while reading


def _read_soon(rt, user_id: int) -> None:
    """Read the rep's delta now; notifications arriving meanwhile make one more read, not one each."""
    if user_id in _running:
        _running[user_id] = True
        return
    _running[user_id] = False

    async def read() -> None:
        try:
            while True:
                await MailPoller(rt).poll_user(user_id)
                if not _running.get(user_id):
                    break
                _running[user_id] = False
        except Exception:
            log.exception("reading the mailbox of user %s after a Graph notification failed", user_id)
        finally:
            _running.pop(user_id, None)

    task = asyncio.create_task(read(), name=f"livefeed-graph-{user_id}")
    rt.background.append(task)
    task.add_done_callback(lambda t: rt.background.remove(t) if t in rt.background else None)
