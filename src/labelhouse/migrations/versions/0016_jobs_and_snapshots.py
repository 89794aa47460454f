"""background jobs, snapshots, and huey's queue tables

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:30:00

``job``: every background job (export, snapshot) with its state, progress, attempts,
heartbeat and stored result; ``snapshot``: a frozen export's settings and manifest;
``huey_task``/``huey_schedule``/``huey_kv``/``huey_counter``: huey's SQL storage on
PostgreSQL (created on SQLite too so both schemas are the same; SQLite deployments keep
huey's queue in a file of its own).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_WHEN = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("requested_by", _ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", _WHEN, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result_key", sa.String(length=300), nullable=True),
        sa.Column("result_name", sa.String(length=200), nullable=True),
        sa.Column("result_media_type", sa.String(length=100), nullable=True),
        sa.Column("result_size", sa.BigInteger(), nullable=True),
        sa.Column("result_sha256", sa.String(length=64), nullable=True),
        sa.Column("outcome", _JSON, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("enqueued_at", _WHEN, nullable=False),
        sa.Column("started_at", _WHEN, nullable=True),
        sa.Column("finished_at", _WHEN, nullable=True),
        _fk("job", "organization_id", "organization", "CASCADE"),
        _fk("job", "project_id", "project", "CASCADE"),
        _fk("job", "requested_by", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index("ix_job_project", "job", ["project_id", "id"])
    op.create_index("ix_job_state", "job", ["state", "heartbeat_at"])
    op.create_table(
        "snapshot",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("manifest", _JSON, nullable=True),
        sa.Column("key_prefix", sa.String(length=300), nullable=True),
        sa.Column("pseudonym_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("completed_at", _WHEN, nullable=True),
        _fk("snapshot", "organization_id", "organization", "CASCADE"),
        _fk("snapshot", "project_id", "project", "CASCADE"),
        _fk("snapshot", "job_id", "job", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot")),
        sa.UniqueConstraint("job_id", name=op.f("uq_snapshot_job_id")),
    )
    op.create_index("ix_snapshot_project", "snapshot", ["project_id", "id"])
    op.create_table(
        "huey_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_huey_task")),
    )
    op.create_index("ix_huey_task_priority", "huey_task", ["priority", "id"])
    op.create_table(
        "huey_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_huey_schedule")),
    )
    op.create_index("ix_huey_schedule_queue", "huey_schedule", ["queue", "timestamp"])
    for name, value in (("huey_kv", sa.LargeBinary()), ("huey_counter", sa.Integer())):
        op.create_table(
            name,
            sa.Column("queue", sa.String(length=255), nullable=False),
            sa.Column("key", sa.String(length=255), nullable=False),
            sa.Column("value", value, nullable=False),
            sa.PrimaryKeyConstraint("queue", "key", name=op.f(f"pk_{name}")),
        )


def downgrade() -> None:
    op.drop_table("huey_counter")
    op.drop_table("huey_kv")
    op.drop_index("ix_huey_schedule_queue", table_name="huey_schedule")
    op.drop_table("huey_schedule")
    op.drop_index("ix_huey_task_priority", table_name="huey_task")
    op.drop_table("huey_task")
    op.drop_index("ix_snapshot_project", table_name="snapshot")
    op.drop_table("snapshot")
    op.drop_index("ix_job_state", table_name="job")
    op.drop_index("ix_job_project", table_name="job")
    op.drop_table("job")
