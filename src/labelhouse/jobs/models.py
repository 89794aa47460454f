"""The ``job`` table (what people see of background work, and the truth crash recovery
reads), ``snapshot`` (a frozen export and its manifest), and the four tables huey's SQL
storage keeps its queue in on PostgreSQL (``huey_*``, created by our migrations so Alembic
stays the one source of the schema; unused on SQLite, where huey has a file of its own)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, JsonDoc, UtcDateTime, utcnow

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})


class Job(Base):
    """One background job. ``attempts`` is also the fencing token: a worker's heartbeat and
    its final update only apply while the row is ``running`` with *its* attempt number, so a
    worker that was given up on (stale heartbeat) can never overwrite its successor."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_project", "project_id", "id"),
        Index("ix_job_state", "state", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    result_key: Mapped[str | None] = mapped_column(String(300))
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_media_type: Mapped[str | None] = mapped_column(String(100))
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    # What a job without a file reports (an import's counts of rows, created, rejected…).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Snapshot(Base):
    """A frozen export: its settings at request time, and once its job has succeeded the
    manifest (hash and size of every stored file) and where the files are stored."""

    __tablename__ = "snapshot"
    __table_args__ = (Index("ix_snapshot_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    key_prefix: Mapped[str | None] = mapped_column(String(300))
    # The key of the snapshot's annotator pseudonyms (exports/formats/provenance.py): drawn
    # once, so the files rebuild identically; kept here, out of the settings and manifest,
    # because with it pseudonyms could be matched to user ids.
    pseudonym_key: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# -- huey's SQL storage (huey.contrib.sql_huey), under our own names -------------------------
# Column types as peewee creates them (CharField → VARCHAR(255), BlobField → bytes,
# TimestampField → BIGINT, FloatField → REAL); jobs/queue.py points huey's models here.


class HueyTask(Base):
    __tablename__ = "huey_task"
    __table_args__ = (Index("ix_huey_task_priority", "priority", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    priority: Mapped[float] = mapped_column(Float)


class HueySchedule(Base):
    __tablename__ = "huey_schedule"
    __table_args__ = (Index("ix_huey_schedule_queue", "queue", "timestamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class HueyKV(Base):
    __tablename__ = "huey_kv"

    queue: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class HueyCounter(Base):
    __tablename__ = "huey_counter"

    queue: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
