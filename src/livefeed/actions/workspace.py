"""The workspace's settings: Target ranking, website tracking, privacy, tracking links, the Marketo
webhook's secret. A change resets what holds them (the tracking edge, the tier cache, every Target
list) after its commit (actions/changes.py)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, insert, select, update

from ..core.secrets import new_secret, secret_hash
from ..db.tables import connectors, workspaces
from .changes import commit


async def change_settings(rt, workspace_id: int, values: dict) -> None:
    """Store checked values (the API checks them: pydantic and core/ rules)."""

    def job(conn, changes):
        if values:
            conn.execute(update(workspaces).where(workspaces.c.id == workspace_id).values(**values))
        changes.settings_of(workspace_id)

    await commit(rt, job)


async def new_hook_secret(rt, workspace_id: int) -> str:
    """A new Marketo webhook secret (shown once; only its hash is kept; the old one stops working)."""
    secret = new_secret("lfwh_")

    def job(conn, changes):
        conn.execute(
            update(workspaces).where(workspaces.c.id == workspace_id).values(marketo_hook_secret_hash=secret_hash(secret))
        )
        changes.settings_of(workspace_id)

    await commit(rt, job)
    return secret


def domains_elsewhere(rt, workspace_id: int, domains: list[str]) -> str | None:
    """The first of `domains` another workspace already lets sign in (a domain belongs to one)."""
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(workspaces.c.signin_domains).where(workspaces.c.id != workspace_id, workspaces.c.signin_domains != "")
        ).scalars()
        taken = {d for row in rows for d in row.split()}
    return next((d for d in domains if d in taken), None)


def settings_view(rt, workspace_id: int) -> dict:
    with rt.engine.connect() as conn:
        row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).mappings().one()
    public = rt.settings.public_url
    return {
        "id": row["id"],
        "name": row["name"],
        "tier_method": row["tier_method"],
        "star_thresholds": row["star_thresholds"],
        "flame_thresholds": row["flame_thresholds"],
        "engagement_ranking": bool(row["engagement_ranking"]),
        "site_key": row["site_key"],
        "site_origins": row["site_origins"].split(),
        "anonymize_ips": bool(row["anonymize_ips"]),
        "honour_dnt": bool(row["honour_dnt"]),
        "do_not_track": row["do_not_track"].split(),
        "signin_domains": row["signin_domains"].split(),
        "tracking_url": row["tracking_url"],
        "tracking_links": row["tracking_url"] or public,
        "website_script": f'<script async src="{public}/w.js" data-site="{row["site_key"]}"'
        + ("" if row["honour_dnt"] else ' data-honour-dnt="false"')
        + "></script>",
        "marketo_webhook": {
            "url": f"{public}/hooks/marketo/{row['site_key']}",
            "secret_set": row["marketo_hook_secret_hash"] is not None,
        },
    }


# --- the Marketo and Salesforce connections (the connectors themselves: integrations/connectors.py)


def save_connector(rt, workspace_id: int, kind: str, values: dict) -> Mapping:
    """Store a checked connection (values hold the sealed secrets); another instance than the
    stored one starts over from its beginning. The stored row."""
    values = dict(values)
    where = (connectors.c.workspace_id == workspace_id, connectors.c.kind == kind)
    with rt.engine.begin() as conn:
        found = conn.execute(select(connectors.c.base_url).where(*where)).first()
        if found is None:
            conn.execute(insert(connectors).values(workspace_id=workspace_id, kind=kind, **values))
        else:
            if found.base_url != values["base_url"]:
                values["cursor"] = None  # another instance: start over
            conn.execute(update(connectors).where(*where).values(**values))
        return conn.execute(select(connectors).where(*where)).mappings().one()


def list_connectors(rt, workspace_id: int) -> list[Mapping]:
    with rt.engine.connect() as conn:
        query = select(connectors).where(connectors.c.workspace_id == workspace_id).order_by(connectors.c.kind)
        return list(conn.execute(query).mappings())


def remove_connector(rt, workspace_id: int, kind: str) -> bool:
    """Delete the connection and its credentials; False when there was none."""
    with rt.engine.begin() as conn:
        where = (connectors.c.workspace_id == workspace_id, connectors.c.kind == kind)
        return bool(conn.execute(delete(connectors).where(*where)).rowcount)
