"""send queue: each recipient's copy kept until sent, retried after failures and crashes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 21:30:00
"""

import sqlalchemy as sa
from alembic import op

from livefeed.db.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "send_queue",
        sa.Column("recipient_id", Id, nullable=False),
        sa.Column("email_id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("rcpt", sa.String(length=254), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"], name=op.f("fk_send_queue_recipient_id_recipients")),
        sa.ForeignKeyConstraint(["email_id"], ["emails.id"], name=op.f("fk_send_queue_email_id_emails")),
        sa.PrimaryKeyConstraint("recipient_id", name=op.f("pk_send_queue")),
    )
    op.create_index(op.f("ix_send_queue_email_id"), "send_queue", ["email_id"])
    op.create_index("ix_send_queue_status_next_attempt_at", "send_queue", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("send_queue")
