"""gold tasks, review decisions, quality-control project settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:12:30.101928
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
GOLD_ONLY = sa.text("gold IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "gold_pause_lift",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("lifted_by_id", ID, nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lifted_by_id"],
            ["user_account.id"],
            name=op.f("fk_gold_pause_lift_lifted_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_gold_pause_lift_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_gold_pause_lift_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_pause_lift")),
        sa.UniqueConstraint("project_id", "user_id", name=op.f("uq_gold_pause_lift_project_id")),
    )
    op.create_table(
        "review",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("reviewer_id", ID, nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("value", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_review_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["user_account.id"],
            name=op.f("fk_review_reviewer_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_review_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index("ix_review_project_task", ["project_id", "task_id"], unique=False)

    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_status", sa.String(length=20), nullable=True))

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("gold_rate", sa.Float(), server_default=sa.text("0.1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("gold_first_n", sa.Integer(), server_default=sa.text("3"), nullable=False)
        )
        batch_op.add_column(sa.Column("gold_min_accuracy", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "gold_min_answers", sa.Integer(), server_default=sa.text("10"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("review_mode", sa.String(length=20), server_default="off", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "review_sample_rate", sa.Float(), server_default=sa.text("0.2"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "review_agreement_threshold",
                sa.Float(),
                server_default=sa.text("1.0"),
                nullable=False,
            )
        )

    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gold", JSON, nullable=True))
        batch_op.create_index(
            "ix_task_gold",
            ["project_id", "id"],
            unique=False,
            sqlite_where=GOLD_ONLY,
            postgresql_where=GOLD_ONLY,
        )


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_gold", sqlite_where=GOLD_ONLY, postgresql_where=GOLD_ONLY)
        batch_op.drop_column("gold")

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("review_agreement_threshold")
        batch_op.drop_column("review_sample_rate")
        batch_op.drop_column("review_mode")
        batch_op.drop_column("gold_min_answers")
        batch_op.drop_column("gold_min_accuracy")
        batch_op.drop_column("gold_first_n")
        batch_op.drop_column("gold_rate")

    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.drop_column("review_status")

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index("ix_review_project_task")

    op.drop_table("review")
    op.drop_table("gold_pause_lift")
