"""account notices: a feed row about the rep's own account ("reconnect your mail") has no person

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # PostgreSQL drops the constraint in place; SQLite copies the table (batch mode).
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=Id, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE person_id IS NULL")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=Id, nullable=False)
