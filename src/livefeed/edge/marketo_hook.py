"""POST /hooks/marketo/<site-key>: Marketo smart-campaign webhooks (raw ASGI, ahead of FastAPI).

Authenticated by the workspace's secret in `X-LiveFeed-Secret` (401 without it), the body read by
core/marketo.read_hook (422 naming the field), then written with everything else queued meanwhile
in one transaction (group commit) and answered after the commit: 200 with what happened, 503 with
Retry-After when it could not be stored (Marketo's webhook retries). A replay records nothing new.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable

from sqlalchemy import select

from ..actions.marketing import Batcher, record_activities
from ..core.marketo import read_hook
from ..core.model import Invalid, TooDeep
from ..core.secrets import secret_hash
from ..db.tables import workspaces

log = logging.getLogger(__name__)
PREFIX = "/hooks/marketo/"
MAX_BODY = 64 * 1024
KEY_CACHE_SECONDS = 10.0
SECRET_HEADER = b"x-livefeed-secret"


class MarketoHook:
    def __init__(self, runtime_getter: Callable, *, monotonic: Callable[[], float] = time.monotonic):
        self._runtime, self._monotonic = runtime_getter, monotonic
        self._keys: dict[str, tuple[float, int | None, str | None]] = {}
        self._batcher: Batcher | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["method"] != "POST":
            return await _answer(send, 405, {"detail": "POST only"}, [(b"allow", b"POST")])
        rt = self._runtime()
        workspace_id, expected = await self._workspace(rt, scope["path"][len(PREFIX) :])
        if workspace_id is None:
            return await _answer(send, 404, {"detail": "No such webhook"})
        given = dict(scope["headers"]).get(SECRET_HEADER, b"").decode("latin-1")
        if expected is None or not given or not hmac.compare_digest(secret_hash(given), expected):
            return await _answer(send, 401, {"detail": "Missing or wrong X-LiveFeed-Secret"})
        body = await read_body(receive, MAX_BODY)
        if body is None:
            return await _answer(send, 413, {"detail": f"Body over {MAX_BODY} bytes"})
        try:
            engagement = read_hook(body, rt.clock())
        except TooDeep as exc:
            return await _answer(send, 400, {"detail": [{"loc": ["body"], "msg": exc.message, "type": "value_error"}]})
        except Invalid as exc:
            loc = ["body", *exc.field.split(".")] if exc.field != "body" else ["body"]
            return await _answer(send, 422, {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]})
        engagement.workspace_id = workspace_id
        if self._batcher is None:
            self._batcher = Batcher(lambda group: record_activities(rt, group), name="marketo webhook")
        try:
            result = await self._batcher.submit(engagement)
        except Exception:  # not stored: Marketo retries a 5xx
            log.exception("Marketo webhook not stored")
            return await _answer(send, 503, {"detail": "Not stored, retry later"}, [(b"retry-after", b"5")])
        await _answer(
            send,
            200,
            {
                "recorded": result.event_id is not None,
                "event_id": result.event_id,
                "duplicate": result.duplicate,
                "unassigned": result.unassigned,
                "person_id": result.person_id,
            },
        )

    async def _workspace(self, rt, key: str) -> tuple[int | None, str | None]:
        """The workspace of a site key and its hook secret's hash (cached a few seconds)."""
        now = self._monotonic()
        cached = self._keys.get(key)
        if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
            return cached[1], cached[2]
        if not key or len(key) > 64:
            return None, None

        def read():
            with rt.engine.connect() as conn:
                return conn.execute(
                    select(workspaces.c.id, workspaces.c.marketo_hook_secret_hash).where(workspaces.c.site_key == key)
                ).first()

        row = await asyncio.to_thread(read)
        found = (row.id, row.marketo_hook_secret_hash) if row else (None, None)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[key] = (now, *found)
        return found

    def forget(self) -> None:
        """A secret changed in this process: read the keys again."""
        self._keys.clear()

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()


async def read_body(receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send, status: int, body: dict, extra: list | None = None) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
