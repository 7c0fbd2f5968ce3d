"""privacy switches: honour DNT/GPC, the do-not-track list

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("honour_dnt", sa.Boolean(), server_default=sa.text("true"), nullable=False))
        batch_op.add_column(sa.Column("do_not_track", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("do_not_track")
        batch_op.drop_column("honour_dnt")
