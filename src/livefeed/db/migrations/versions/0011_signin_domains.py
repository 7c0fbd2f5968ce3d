"""sign-in domains: people of these domains may sign in with Google or Microsoft and are added as reps

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 21:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("signin_domains", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("signin_domains")
