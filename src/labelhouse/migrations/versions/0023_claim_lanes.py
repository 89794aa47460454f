"""claim lanes: partial index on task (project_id, id % 16, id) WHERE is_open (PostgreSQL)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 22:40:00

Concurrent claims on PostgreSQL all walked ix_task_queue from the head of the same open
range, stepping over the rows the others had locked and the dead entries their claims left
(issue 18): database work per claim grew with the number of annotators. Claims made while
another is in flight now walk one of 16 lanes (``id % 16``) of this index instead
(tasks/queue.py). SQLite serialises claims, so it gets no lane index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_task_lane ON task (project_id, (id % 16), id) WHERE is_open")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_task_lane")
