"""A rep's Google or Microsoft account connected for mail: stored (the refresh token sealed and
bound to the endpoint that issued it), shown (never the token), marked for reconnection, removed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from ..db.tables import mail_connections
from ..vault import Vault

PROVIDERS = ("google", "microsoft")


def connection_vault(secret_key: bytes) -> Vault:
    return Vault(secret_key, "mail connection refresh token")


def connect_mail(engine: Engine, vault: Vault, *, user, provider: str, address: str, refresh_token: str,
                 token_endpoint: str, now: datetime) -> None:
    """Store (or replace) the rep's connection."""
    values = dict(provider=provider, address=address, secret=vault.seal(refresh_token), token_endpoint=token_endpoint,
                  status="connected", error=None, updated_at=now)
    with engine.begin() as conn:
        done = conn.execute(update(mail_connections).where(mail_connections.c.user_id == user["id"]).values(**values))
        if not done.rowcount:
            conn.execute(insert(mail_connections).values(user_id=user["id"], workspace_id=user["workspace_id"],
                                                         created_at=now, **values))


def read_connection(engine: Engine, user_id: int):
    with engine.connect() as conn:
        return conn.execute(select(mail_connections).where(mail_connections.c.user_id == user_id)).mappings().first()


def mark_connection(engine: Engine, user_id: int, *, status: str, error: str | None, now: datetime) -> None:
    """Record the connection's state after using it (`reconnect` when the grant is gone)."""
    with engine.begin() as conn:
        conn.execute(update(mail_connections).where(mail_connections.c.user_id == user_id)
                     .values(status=status, error=error, checked_at=now))


def remove_connection(engine: Engine, user_id: int):
    """Delete the connection; the removed row (to revoke its grant), or None."""
    with engine.begin() as conn:
        row = conn.execute(select(mail_connections).where(mail_connections.c.user_id == user_id)).mappings().first()
        if row is not None:
            conn.execute(delete(mail_connections).where(mail_connections.c.user_id == user_id))
        return row


def view(row) -> dict:
    from ..core.model import iso_z

    return {"provider": row["provider"], "address": row["address"], "status": row["status"], "error": row["error"],
            "checked_at": iso_z(row["checked_at"]), "connected_at": iso_z(row["created_at"])}
