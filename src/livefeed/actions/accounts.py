"""The rep's own mail accounts: the IMAP mailbox watched for replies and the SMTP account mail goes
out through. Passwords are sealed before they are stored, never shown back, and a stored one is
used only with the exact server, port, security and username it was saved for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Table, delete, insert, select, update

from ..core.model import Invalid
from ..db.tables import mailboxes, smtp_accounts
from ..db.vault import Vault, VaultError

MAILBOX, SMTP = "mailbox", "smtp"
TABLES: dict[str, Table] = {MAILBOX: mailboxes, SMTP: smtp_accounts}


def read_account(rt, kind: str, user_id: int) -> Mapping | None:
    """The rep's stored account of this kind, or None."""
    table = TABLES[kind]
    with rt.engine.connect() as conn:
        return conn.execute(select(table).where(table.c.user_id == user_id)).mappings().first()


def delete_account(rt, kind: str, user_id: int) -> bool:
    """Delete the rep's account (and so its sealed password); False when there was none."""
    table = TABLES[kind]
    with rt.engine.begin() as conn:
        return bool(conn.execute(delete(table).where(table.c.user_id == user_id)).rowcount)


def stored_password(rt, kind: str, vault: Vault, user_id: int, *, host: str, port: int, security: str, username: str) -> str:
    """The rep's stored password for the same server, port, security and username; Invalid
    ("password") otherwise — anything else could hand the rep's real password to a host of the
    caller's choosing."""
    row = read_account(rt, kind, user_id)
    if row is None:
        raise Invalid("password", "is required")
    if (row["host"], row["port"], row["security"], row["username"]) != (host, port, security, username):
        raise Invalid("password", "is required again: the server, port, security or username changed since it was saved")
    try:
        return vault.open(row["secret"])
    except VaultError as exc:
        raise Invalid("password", str(exc)) from None


def save_mailbox(rt, user: Mapping, values: dict, *, now: datetime) -> Mapping:
    """Store the checked mailbox settings (values hold the sealed secret); another mailbox than the
    stored one starts from its newest message. The stored row."""
    values = dict(values)
    with rt.engine.begin() as conn:
        found = conn.execute(
            select(mailboxes.c.host, mailboxes.c.username, mailboxes.c.folder).where(mailboxes.c.user_id == user["id"])
        ).first()
        if found is None:
            conn.execute(
                insert(mailboxes).values(user_id=user["id"], workspace_id=user["workspace_id"], created_at=now, **values)
            )
        else:
            if (found.host, found.username, found.folder) != (values["host"], values["username"], values["folder"]):
                values.update(uid_validity=None, last_uid=None)  # another mailbox: start from its newest
            conn.execute(update(mailboxes).where(mailboxes.c.user_id == user["id"]).values(**values))
        return conn.execute(select(mailboxes).where(mailboxes.c.user_id == user["id"])).mappings().one()


def save_smtp(rt, user: Mapping, values: dict, *, now: datetime) -> Mapping:
    """Store the checked SMTP settings (values hold the sealed secret). The stored row."""
    with rt.engine.begin() as conn:
        if not conn.execute(update(smtp_accounts).where(smtp_accounts.c.user_id == user["id"]).values(**values)).rowcount:
            conn.execute(
                insert(smtp_accounts).values(user_id=user["id"], workspace_id=user["workspace_id"], created_at=now, **values)
            )
        return conn.execute(select(smtp_accounts).where(smtp_accounts.c.user_id == user["id"])).mappings().one()
