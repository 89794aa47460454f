"""Annotations (one per annotator per task), their full revision history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, JsonDoc, UtcDateTime, utcnow


class Annotation(Base):
    __tablename__ = "annotation"
    __table_args__ = (
        UniqueConstraint("task_id", "user_id"),
        Index("ix_annotation_project_user", "project_id", "user_id"),
        # exports and quality read a project's answers task range by task range
        Index("ix_annotation_project_task", "project_id", "task_id"),
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
