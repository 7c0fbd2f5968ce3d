"""people, scores and tasks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 22:47:47.510080
"""

import sqlalchemy as sa
from alembic import op

import livefeed.db.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old", sa.Integer(), nullable=True),
        sa.Column("new", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_score_changes_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_changes")),
    )
    with op.batch_alter_table("score_changes", schema=None) as batch_op:
        batch_op.create_index("ix_score_changes_person_id_at", ["person_id", "at"], unique=False)
        batch_op.create_index("ix_score_changes_workspace_id_at", ["workspace_id", "at"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_time", sa.Time(), nullable=True),
        sa.Column("created_at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_tasks_assignee_id_users")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_tasks_created_by_users")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_tasks_person_id_people")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_tasks_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_assignee_id_status_due_date", ["assignee_id", "status", "due_date"], unique=False)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score_old", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("score_new", sa.Integer(), nullable=True))
        batch_op.alter_column("email_id", existing_type=livefeed.db.tables.Id, nullable=True)
        batch_op.alter_column("recipient_id", existing_type=livefeed.db.tables.Id, nullable=True)
        batch_op.create_index("ix_events_person_id_id", ["person_id", "id"], unique=False)

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("last_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("title", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("company", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("linkedin_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.add_column(sa.Column("lead_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("score_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("score_changed_at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_increase_at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", livefeed.db.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_people_owner_id_users"), "users", ["owner_id"], ["id"])
    op.create_index(
        "ix_people_owner_score",
        "people",
        ["owner_id", "lead_score", "last_increase_at"],
        unique=False,
        sqlite_where=sa.text("last_increase_at IS NOT NULL"),
        postgresql_where=sa.text("last_increase_at IS NOT NULL"),
    )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("salesforce_user_id", sa.String(length=18), nullable=True))

    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier_method", sa.String(length=16), server_default="percentile", nullable=False))
        batch_op.add_column(sa.Column("star_thresholds", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("flame_thresholds", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("engagement_ranking", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("engagement_ranking")
        batch_op.drop_column("flame_thresholds")
        batch_op.drop_column("star_thresholds")
        batch_op.drop_column("tier_method")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("salesforce_user_id")

    op.drop_index("ix_people_owner_score", table_name="people")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_people_owner_id_users"), type_="foreignkey")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("last_increase_at")
        batch_op.drop_column("score_changed_at")
        batch_op.drop_column("score_source")
        batch_op.drop_column("lead_score")
        batch_op.drop_column("owner_id")
        batch_op.drop_column("linkedin_url")
        batch_op.drop_column("phone")
        batch_op.drop_column("company")
        batch_op.drop_column("title")
        batch_op.drop_column("last_name")
        batch_op.drop_column("first_name")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_person_id_id")
        batch_op.alter_column("recipient_id", existing_type=livefeed.db.tables.Id, nullable=False)
        batch_op.alter_column("email_id", existing_type=livefeed.db.tables.Id, nullable=False)
        batch_op.drop_column("score_new")
        batch_op.drop_column("score_old")

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_assignee_id_status_due_date")

    op.drop_table("tasks")
    with op.batch_alter_table("score_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_score_changes_workspace_id_at")
        batch_op.drop_index("ix_score_changes_person_id_at")

    op.drop_table("score_changes")
