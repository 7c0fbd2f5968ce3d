"""hardening: disabled users, expiring and named API tokens, sessions' origin, single-use sign-in links, failed sign-ins

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import op

from livefeed.db.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("name", sa.String(length=100), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("ip", sa.String(length=45), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(length=300), nullable=True))
    op.create_table(
        "used_signin_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_used_signin_links")),
    )
    op.create_table(
        "signin_failures",
        sa.Column("id", Id, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_failures")),
    )
    op.create_index("ix_signin_failures_email_at", "signin_failures", ["email", "at"])
    op.create_index("ix_signin_failures_ip_at", "signin_failures", ["ip", "at"])


def downgrade() -> None:
    op.drop_table("signin_failures")
    op.drop_table("used_signin_links")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("user_agent")
        batch.drop_column("ip")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("name")
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
