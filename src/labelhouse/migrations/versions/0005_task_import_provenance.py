"""task.import_id is provenance, not a relation the database must police

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:00:00

Every imported row paid a foreign-key check against ``task_import`` (a quarter of
PostgreSQL's time in a bulk import, measured with perf). Nothing joins on it, and import
records are only ever deleted together with their project (which deletes its tasks too), so
the constraint guarded nothing. The column stays: it still says which import made a task.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_task_import_id_task_import"
GOLD_ONLY = "gold IS NOT NULL"


def _restore_partial_index() -> None:
    # SQLite's batch mode rebuilds the table; make sure the partial gold index keeps its
    # WHERE clause whatever reflection made of it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_task_gold")
        op.execute(f"CREATE INDEX ix_task_gold ON task (project_id, id) WHERE {GOLD_ONLY}")


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
    _restore_partial_index()


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_foreign_key(FK, "task_import", ["import_id"], ["id"], ondelete="SET NULL")
    _restore_partial_index()
