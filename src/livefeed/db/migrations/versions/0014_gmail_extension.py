"""the Gmail extension: Gmail thread ids, emails Gmail sent with one shared tracked body, alert settings kept per rep

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("shared_with", sa.Integer(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("alert_settings")
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_column("shared_with")
        batch_op.drop_column("thread_id")
