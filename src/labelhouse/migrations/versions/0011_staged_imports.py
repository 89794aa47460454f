"""imports on SQLite are staged out of sight and published in one short transaction

Revision ID: 0011
Revises: 0010_idempotency_keys
Create Date: 2026-12-05 14:00:00

On SQLite a large import no longer holds the write lock from its first row to its last:
each batch is committed on its own, into the project's ``task`` table, while the project
names the import in ``staging_import_id`` and every reader leaves that import's tasks out
(``tasks/visibility.py``). One short transaction then records the counts, sets the import's
``state`` to 'done' and clears the project's field. ``first_task_id`` is the lowest task id
of the staged import: every task of the project below it is visible, every one from it on is
staged, so the work queue and the clean-up of a dead import walk only what they need.
Existing imports are 'done'.

Clearing a failed import away deletes its tasks, and SQLite then looks up each task's rows
in every table that refers to it: ``review`` had no index led by ``task_id``, so each
deleted task scanned every review (50,000 tasks took 122 s with 10,000 reviews, 0.2 s with
``ix_review_task``). Undoing an import and deleting a project gain the same.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.add_column(sa.Column("staging_import_id", _ID, nullable=True))
    with op.batch_alter_table("task_import") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=10), nullable=False, server_default="done")
        )
        batch.add_column(sa.Column("first_task_id", _ID, nullable=True))
    op.create_index("ix_review_task", "review", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_review_task", table_name="review")
    with op.batch_alter_table("task_import") as batch:
        batch.drop_column("first_task_id")
        batch.drop_column("state")
    with op.batch_alter_table("project") as batch:
        batch.drop_column("staging_import_id")
