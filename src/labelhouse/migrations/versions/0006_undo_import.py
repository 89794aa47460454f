"""An import can be undone: task_import records how many of its tasks were removed, and when

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_import", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_import", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
        batch_op.drop_column("removed")
