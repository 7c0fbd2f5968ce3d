"""mailboxes, connectors, website visitors and page views; marketing-only people; site keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 01:00:00
"""

import secrets

import sqlalchemy as sa
from alembic import op

from livefeed.db.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("site_origins", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("anonymize_ips", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("marketo_hook_secret_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_workspaces_site_key", ["site_key"])
    conn = op.get_bind()
    for (workspace_id,) in conn.execute(sa.text("SELECT id FROM workspaces")).all():
        conn.execute(
            sa.text("UPDATE workspaces SET site_key = :k WHERE id = :i"), {"k": secrets.token_urlsafe(12), "i": workspace_id}
        )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("added_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("marketo_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("salesforce_id", sa.String(length=18), nullable=True))
    conn.execute(sa.text("UPDATE people SET added_at = created_at"))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_id", Id, nullable=True))
    op.create_table(
        "mailboxes",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_mailboxes_user_id_users"), nullable=False),
        sa.Column(
            "workspace_id", Id, sa.ForeignKey("workspaces.id", name="fk_mailboxes_workspace_id_workspaces"), nullable=False
        ),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uid_validity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_mailboxes"),
    )
    op.create_table(
        "connectors",
        sa.Column(
            "workspace_id", Id, sa.ForeignKey("workspaces.id", name="fk_connectors_workspace_id_workspaces"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), server_default="300", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "kind", name="pk_connectors"),
    )
    op.create_table(
        "visitors",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, sa.ForeignKey("workspaces.id", name="fk_visitors_workspace_id_workspaces"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("person_id", Id, sa.ForeignKey("people.id", name="fk_visitors_person_id_people"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("identified_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_visitors"),
        sa.UniqueConstraint("workspace_id", "key", name="uq_visitors_workspace_key"),
    )
    op.create_table(
        "page_views",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("visitor_id", Id, sa.ForeignKey("visitors.id", name="fk_page_views_visitor_id_visitors"), nullable=False),
        sa.Column("person_id", Id, nullable=True),
        sa.Column("visit_id", Id, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("referrer", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_page_views"),
    )
    op.create_index("ix_page_views_visitor_id_at", "page_views", ["visitor_id", "at"])
    op.create_index("ix_page_views_person_id_at", "page_views", ["person_id", "at"])


def downgrade() -> None:
    op.drop_table("page_views")
    op.drop_table("visitors")
    op.drop_table("connectors")
    op.drop_table("mailboxes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("visit_id")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("salesforce_id")
        batch_op.drop_column("marketo_id")
        batch_op.drop_column("added_at")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_constraint("uq_workspaces_site_key", type_="unique")
        batch_op.drop_column("marketo_hook_secret_hash")
        batch_op.drop_column("anonymize_ips")
        batch_op.drop_column("site_origins")
        batch_op.drop_column("site_key")
