"""Tasks, imports, uploaded files and work-queue assignments (leases)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, JsonDoc, UtcDateTime, utcnow

# ``None`` must be SQL NULL (not JSON ``null``): the queue and its partial index test
# ``gold IS NULL``.
NullableJson = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
# The task browser's status key (tasks/status_pages.py): -1 for a new task, else ``done``.
# Spelled as PostgreSQL prints it back (pg_get_indexdef, newlines too): Alembic's model
# check compares the two texts.
STATUS_KEY_SQL = "(\nCASE\n    WHEN taken = 0 AND done = 0 THEN -1\n    ELSE done\nEND)"


class Task(Base):
    """One item to label.

    ``dedup_key`` is the external id when given, else a hash of the data: re-importing the
    same file adds nothing. ``taken`` counts active leases plus submitted annotations and
    ``is_open`` caches ``taken < project.overlap`` so the queue's index finds work directly.

    ``gold`` (expected value per field) marks a gold task. Gold tasks have no overlap limit
    (every annotator can be checked on them) and are handed out only by the gold rule of
    the queue (``tasks/gold.py``), so their ``is_open`` is always false.
    """

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("project_id", "dedup_key"),
        Index("ix_task_queue", "project_id", "is_open", "id"),
        # The task browser's keyset pages (project_id = ? AND id > ? ORDER BY id) in index
        # order: without it SQLite sorted the whole project for every page.
        Index("ix_task_browse", "project_id", "id"),
        # The queue of a project ordered by priority or uncertainty (tasks/queue_order.py):
        # claims walk (is_open, queue_rank, id) in index order, as ix_task_queue by id.
        Index("ix_task_queue_rank", "project_id", "is_open", "queue_rank", "id"),
        # The browser's status filters (tasks/status_pages.py): one id-ordered range per
        # status key value, so a sparse status is read without walking past the others.
        Index("ix_task_status", "project_id", text(STATUS_KEY_SQL), "id"),
        Index(
            "ix_task_gold",
            "project_id",
            "id",
            sqlite_where=text("gold IS NOT NULL"),
            postgresql_where=text("gold IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    dedup_key: Mapped[str] = mapped_column(String(240))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    done: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    gold: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    # For gold tasks: None (in use), "reserve" (waiting to replace an over-exposed item) or
    # "retired" (rotated out: no longer served).
    gold_state: Mapped[str | None] = mapped_column(String(10))
    # Which import made the task. Provenance only, without a foreign key: the check cost a
    # quarter of PostgreSQL's bulk-import time, and import records are deleted only with
    # their project, whose tasks go too (migration 0005).
    import_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Queue ordering (tasks/queue_order.py): an explicit priority (higher first), the
    # uncertainty of the task's predictions (0-1, NULL without usable scores), and the key
    # the project's ``queue_order`` serves by (ascending; 0 in the default order).
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    uncertainty_entropy: Mapped[float | None] = mapped_column(Float)
    uncertainty_margin: Mapped[float | None] = mapped_column(Float)
    queue_rank: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))


# Claim lanes (PostgreSQL only; tasks/queue.py): the open tasks split by ``id % CLAIM_LANES``,
# each lane in id order. Annotators claiming at the same moment walk different lanes, so they
# do not all start at the head of one index range, stepping over each other's locked rows
# and not-yet-removable dead entries (issue 18). Partial: only open tasks are entered, so a
# claim that closes a task adds nothing here. SQLite serialises claims and does without it.
CLAIM_LANES = 16
ix_task_lane = Index(
    "ix_task_lane",
    Task.__table__.c.project_id,
    Task.__table__.c.id % text(str(CLAIM_LANES)),
    Task.__table__.c.id,
    postgresql_where=Task.__table__.c.is_open,
).ddl_if(dialect="postgresql")


class TaskImport(Base):
    """A record of one import run, for the UI and the audit trail.

    ``state`` is 'staging' while an import on SQLite is still writing its batches (its
    tasks are hidden: tasks/visibility.py) and 'done' once published; only 'done' imports
    are shown. ``first_task_id``: the lowest id of a staging import's tasks (set by the
    first batch that stores any)."""

    __tablename__ = "task_import"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(500))
    file_format: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Tasks of this import taken out again (``tasks.undo``), and when it last happened.
    removed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(10), default="done", server_default="done")
    first_task_id: Mapped[int | None] = mapped_column(BigId)


class StoredFile(Base):
    """A file uploaded into a project (e.g. an image); bytes live in the Storage backend."""

    __tablename__ = "stored_file"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Assignment(Base):
    """A task handed to one annotator. One row per (task, user): never assigned twice.

    status: ``leased`` (active until ``expires_at``), ``submitted``, ``skipped``, ``expired``.
    A partial unique index allows at most one active lease per (project, user).
    """

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("task_id", "user_id"),
        Index(
            "uq_assignment_one_lease",
            "project_id",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'leased'"),
            postgresql_where=text("status = 'leased'"),
        ),
        Index("ix_assignment_expiry", "project_id", "status", "expires_at"),
        Index("ix_assignment_user", "user_id", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    leased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    skip_note: Mapped[str | None] = mapped_column(Text)  # written beside the chosen reason
    # How often this lease was served again (reload, second tab): see LeaseHold.
    hold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The workforce the person was in when the task was served to them (exposure counts,
    # vendor comparison; which route slot to give back). No foreign key: history stays.
    workforce_id: Mapped[int | None] = mapped_column(BigId)


class TaskRoute(Base):
    """A task routed to a workforce: up to ``quota`` of its annotations come from that
    workforce's people (``taken``: live leases + submissions by them, like ``task.taken``).
    ``is_open`` mirrors ``taken < quota`` for the queue index (see tasks/routing.py)."""

    __tablename__ = "task_route"
    __table_args__ = (
        UniqueConstraint("task_id", "workforce_id"),
        Index("ix_task_route_queue", "project_id", "workforce_id", "is_open", "task_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    workforce_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    quota: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)


class Prediction(Base):
    """A model's pre-annotation for a task, shown pre-filled to annotators."""

    __tablename__ = "prediction"
    # The stored analysis's watermark reads the count and last id of a project's
    # predictions on every quality read: index-only with this (quality_report/stored.py).
    __table_args__ = (Index("ix_prediction_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(200), default="")
    score: Mapped[float | None] = mapped_column(Float)
    value: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    # Class probabilities per field, ``{field: {option: probability}}`` (optional): what
    # the queue's uncertainty order reads (tasks/queue_order.py).
    scores: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
