"""reviewer leases: a reviewer holds the task they are shown

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:02:11.418305
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_lease",
        sa.Column("task_id", ID, autoincrement=False, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("reviewer_id", ID, nullable=False),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_review_lease_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["user_account.id"],
            name=op.f("fk_review_lease_reviewer_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_review_lease_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_review_lease")),
    )
    with op.batch_alter_table("review_lease", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_lease_reviewer", ["project_id", "reviewer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_lease", schema=None) as batch_op:
        batch_op.drop_index("ix_review_lease_reviewer")

    op.drop_table("review_lease")
