"""roles: admin or rep; each workspace's first rep becomes its admin

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 02:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=8), server_default="rep", nullable=False))
    op.execute("UPDATE users SET role = 'admin' WHERE id IN (SELECT MIN(id) FROM users GROUP BY workspace_id)")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("role")
