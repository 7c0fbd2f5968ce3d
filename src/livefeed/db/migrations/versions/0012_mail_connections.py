"""mail connections: a rep's Google or Microsoft account, connected by signing in, sends their mail

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 21:40:00
"""

import sqlalchemy as sa
from alembic import op

from livefeed.db.tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_connections",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("token_endpoint", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("cursor", sa.String(length=2000), nullable=True),
        sa.Column("subscription_id", sa.String(length=200), nullable=True),
        sa.Column("subscription_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("subscription_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mail_connections_user_id_users")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_mail_connections_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_mail_connections")),
    )
    op.create_index("ix_mail_connections_subscription_id", "mail_connections", ["subscription_id"])


def downgrade() -> None:
    op.drop_table("mail_connections")
