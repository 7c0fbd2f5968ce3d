"""scores never go back in time: the time of the delivery that last changed a person's lead fields

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 23:30:00
"""

import sqlalchemy as sa
from alembic import op

from livefeed.db.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fields_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("fields_at")
