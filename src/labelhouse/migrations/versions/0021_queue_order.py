"""queue ordering by priority or by the uncertainty of predictions

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:30:00

``project.queue_order`` chooses the order the queue serves tasks in (issue 16): "default"
(import order, ``ix_task_queue``), "priority", "entropy" or "margin". A task keeps its
``priority`` and the two uncertainty measures of its predictions; ``queue_rank`` is the key
of the project's current order, and ``ix_task_queue_rank (project_id, is_open,
queue_rank, id)`` lets a claim walk it in index order instead of sorting the project.
``prediction.scores`` holds optional class probabilities per field.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.add_column(
        "project",
        sa.Column("queue_order", sa.String(length=20), server_default="default", nullable=False),
    )
    op.add_column(
        "task", sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("task", sa.Column("uncertainty_entropy", sa.Float(), nullable=True))
    op.add_column("task", sa.Column("uncertainty_margin", sa.Float(), nullable=True))
    op.add_column(
        "task", sa.Column("queue_rank", sa.Float(), server_default=sa.text("0"), nullable=False)
    )
    op.create_index("ix_task_queue_rank", "task", ["project_id", "is_open", "queue_rank", "id"])
    op.add_column("prediction", sa.Column("scores", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("prediction", "scores")
    op.drop_index("ix_task_queue_rank", table_name="task")
    for column in ("queue_rank", "uncertainty_margin", "uncertainty_entropy", "priority"):
        op.drop_column("task", column)
    op.drop_column("project", "queue_order")
