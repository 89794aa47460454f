"""Annotations (one per annotator per task), their full revision history, the records of
annotation imports, and the idempotency keys that make a retried write answer instead of
writing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, JsonDoc, UtcDateTime, utcnow


class Annotation(Base):
    __tablename__ = "annotation"
    __table_args__ = (
        UniqueConstraint("task_id", "user_id"),
        Index("ix_annotation_project_user", "project_id", "user_id"),
        # the task browser's annotator filter reads a person's answers in task order
        # (annotations/queries.py: annotated_by)
        Index("ix_annotation_browse", "project_id", "user_id", "status", "task_id"),
        # exports and quality read a project's answers task range by task range
        Index("ix_annotation_project_task", "project_id", "task_id"),
        # covers the stored analysis's freshness check (quality_report/stored.py)
        Index("ix_annotation_watermark", "project_id", "status", "review_status", "revision", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # draft | submitted
    # Set by review (review/service.py): accepted | rejected | corrected; NULL = not reviewed.
    review_status: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    schema_version: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    lead_time_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The annotation import (``annotation_import``) whose row wrote the current value; NULL
    # for an answer submitted here. Provenance only (no foreign key, like task.import_id):
    # everything downstream treats imported answers like native ones and marks them.
    import_id: Mapped[int | None] = mapped_column(BigId)


class AnnotationRevision(Base):
    """Append-only: every saved state of an annotation, so history is never destroyed."""

    __tablename__ = "annotation_revision"
    __table_args__ = (UniqueConstraint("annotation_id", "revision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotation.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    value: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    schema_version: Mapped[int] = mapped_column(Integer)
    lead_time_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    import_id: Mapped[int | None] = mapped_column(BigId)  # the import that wrote it, if any


class AnnotationImport(Base):
    """One run of an annotation import (``annotations/imports.py``): who, from what, and
    what it did. ``unchanged``: rows whose answer was stored already (a file imported
    again); ``updated``: rows that replaced an answer (``update=True``) with a revision."""

    __tablename__ = "annotation_import"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(500), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    externals_created: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(Base):
    """One write answered under a client's ``Idempotency-Key`` (``annotations/idempotency.py``):
    a retry with the same key by the same person gets ``status`` and ``response`` back
    instead of writing again. Stored in the write's own transaction, so a crash leaves
    neither; ``expires_at`` bounds how long a retry is recognised (rows past it are removed
    by later keyed writes)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_idempotency_key_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request (method, path, body): the same key for another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)  # NULL only inside its transaction
    # The JSON body as sent (text, not JSONB: a replay repeats it byte for byte, key order
    # included); NULL for an answer without a body (204).
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
