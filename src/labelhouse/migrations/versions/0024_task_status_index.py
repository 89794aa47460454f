"""indexes for the task browser's status and annotator filters

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 22:50:00

A status filter of the task browser walked ``ix_task_browse`` in id order and tested each
task's counters: a status that few tasks have, or none after the cursor, read most of the
project for one page (0.9-1.5 s at 1M tasks on SQLite). The status depends on the project's
overlap, so the index holds ``-1`` for a new task and ``done`` otherwise; each status is a few
of those values, each one id-ordered range (``tasks/status_pages.py``).

``ix_annotation_browse (project_id, user_id, status, task_id)``: the annotator filter reads
that person's submitted answers in task order instead of testing every task of the project
(``annotations/queries.py``: ``annotated_by``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_KEY_SQL = (
    "(\nCASE\n    WHEN taken = 0 AND done = 0 THEN -1\n    ELSE done\nEND)"  # models.py's
)


def upgrade() -> None:
    op.create_index("ix_task_status", "task", ["project_id", sa.text(STATUS_KEY_SQL), "id"])
    op.create_index(
        "ix_annotation_browse", "annotation", ["project_id", "user_id", "status", "task_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_annotation_browse", table_name="annotation")
    op.drop_index("ix_task_status", table_name="task")
