"""sending: reps' SMTP accounts, saved templates, the tracking hostname, people's do-not-track flag

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 04:00:00
"""

import sqlalchemy as sa
from alembic import op

from livefeed.db.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "smtp_accounts",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_smtp_accounts_user_id_users")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_smtp_accounts_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_smtp_accounts")),
    )
    op.create_table(
        "templates",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_templates_user_id_users")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_templates_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index("ix_templates_workspace_id_name", "templates", ["workspace_id", "name"])
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracking_url", sa.String(length=300), nullable=True))
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("do_not_track", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("do_not_track")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("tracking_url")
    op.drop_index("ix_templates_workspace_id_name", table_name="templates")
    op.drop_table("templates")
    op.drop_table("smtp_accounts")
