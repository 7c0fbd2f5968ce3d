"""A rep's Google or Microsoft account connected for mail: stored (the refresh token sealed and
bound to the endpoint that issued it), shown (never the token), marked for reconnection, removed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update

from ..core.model import NOTICE
from ..db.eventlog import event_row
from ..db.tables import mail_connections
from ..db.vault import MAIL_CONNECTION, Vault, vault_for

PROVIDERS = ("google", "microsoft")


def connection_vault(secret_key: bytes) -> Vault:
    return vault_for(secret_key, MAIL_CONNECTION)


def connect_mail(
    engine: Engine, vault: Vault, *, user, provider: str, address: str, refresh_token: str, token_endpoint: str, now: datetime
) -> None:
    """Store (or replace) the rep's connection."""
    values = dict(
        provider=provider,
        address=address,
        secret=vault.seal(refresh_token),
        token_endpoint=token_endpoint,
        status="connected",
        error=None,
        updated_at=now,
    )
    with engine.begin() as conn:
        done = conn.execute(update(mail_connections).where(mail_connections.c.user_id == user["id"]).values(**values))
        if not done.rowcount:
            conn.execute(
                insert(mail_connections).values(user_id=user["id"], workspace_id=user["workspace_id"], created_at=now, **values)
            )


def read_connection(engine: Engine, user_id: int):
    with engine.connect() as conn:
        return conn.execute(select(mail_connections).where(mail_connections.c.user_id == user_id)).mappings().first()


def mark_connection(engine: Engine, user_id: int, *, status: str, error: str | None, now: datetime) -> None:
    """Record the connection's state after using it (`reconnect` when the grant is gone)."""
    with engine.begin() as conn:
        conn.execute(
            update(mail_connections)
            .where(mail_connections.c.user_id == user_id)
            .values(status=status, error=error, checked_at=now)
        )


def lose_connection(conn: Connection, *, user_id: int, error: str, settings_url: str, now: datetime) -> tuple[bool, list[dict]]:
    """A recorder job: the provider no longer accepts the rep's grant. The connection is marked
    "reconnect needed" (the poller skips it) and, the first time only, one notice row tells the rep
    in the feed; marking it again while it waits for the rep changes nothing."""
    row = (
        conn.execute(
            select(
                mail_connections.c.workspace_id,
                mail_connections.c.provider,
                mail_connections.c.address,
                mail_connections.c.status,
            ).where(mail_connections.c.user_id == user_id)
        )
        .mappings()
        .first()
    )
    if row is None:  # disconnected meanwhile: nothing to tell
        return False, []
    conn.execute(
        update(mail_connections)
        .where(mail_connections.c.user_id == user_id)
        .values(status="reconnect", error=error, checked_at=now)
    )
    if row["status"] != "connected":
        return False, []
    name = "Google" if row["provider"] == "google" else "Microsoft 365"
    return True, [
        event_row(
            workspace_id=row["workspace_id"],
            user_id=user_id,
            kind=NOTICE,
            cls=NOTICE,
            at=now,
            reason=f"Your {name} mail needs connecting again",
            detail=(
                f"{name} no longer accepts LiveFeed's access to {row['address']} (revoked, expired or the password "
                f"changed): mail is not sent through it and replies are not read until you connect it again in Settings."
            ),
            url=settings_url,
            # for the live frame
            subject=None,
            person_email=None,
            person_name=None,
            person_added_at=None,
            link_url=settings_url,
            forward_state=None,
        )
    ]


def remove_connection(engine: Engine, user_id: int):
    """Delete the connection; the removed row (to revoke its grant), or None."""
    with engine.begin() as conn:
        row = conn.execute(select(mail_connections).where(mail_connections.c.user_id == user_id)).mappings().first()
        if row is not None:
            conn.execute(delete(mail_connections).where(mail_connections.c.user_id == user_id))
        return row


def view(row) -> dict:
    from ..core.model import iso_z

    return {
        "provider": row["provider"],
        "address": row["address"],
        "status": row["status"],
        "error": row["error"],
        "checked_at": iso_z(row["checked_at"]),
        "connected_at": iso_z(row["created_at"]),
    }
