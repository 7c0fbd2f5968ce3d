"""The local outbox: with no SMTP server configured, copies are stored for the web app to show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, insert

from ..db.tables import outbox
from .smtp import MailError, Outgoing


class OutboxMailer:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]):
        self._engine, self._clock = engine, clock

    async def send(self, sender: str, copies: list[Outgoing]) -> list[MailError | None]:
        await asyncio.to_thread(self._store, copies)
        return [None] * len(copies)

    def _store(self, copies: list[Outgoing]) -> None:
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(
                insert(outbox),
                [
                    {
                        "workspace_id": c.workspace_id,
                        "user_id": c.user_id,
                        "email_id": c.email_id,
                        "recipient_id": c.recipient_id,
                        "rcpt": c.rcpt,
                        "subject": str(c.message["Subject"]),
                        "raw": c.message.as_string(),
                        "created_at": now,
                    }
                    for c in copies
                ],
            )
