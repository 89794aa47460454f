"""Review decisions, reviewers' leases on the tasks they are shown, lifted gold pauses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, UtcDateTime, utcnow
from labelhouse.tasks.models import NullableJson


class Review(Base):
    """One reviewer's decision on a finished task: ``accept``, ``reject`` (with ``reason``;
    the task went back to the queue) or ``correct`` (``value`` is the reviewed value; the
    annotators' originals are kept). A task may collect several reviews over time (a
    rejected task is re-annotated and reviewed again)."""

    __tablename__ = "review"
    __table_args__ = (
        Index("ix_review_project_task", "project_id", "task_id"),
        # Deleting tasks (a failed import cleared away, an undo) makes SQLite look up each
        # one's reviews by task id; without this index, a scan of every review per task.
        Index("ix_review_task", "task_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    value: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReviewOutcome(Base):
    """What one review decided about one revision of one annotation: ``accepted``,
    ``rejected`` or ``corrected`` (a correction marks the answers that already equalled it
    ``accepted``). ``annotation.review_status`` only tells the current revision's fate; these
    rows keep which revision a decision judged, so the annotator is shown the decision and
    reason on their answer, a resubmission after a rejection is recognised as one, and the
    annotator's "Returned to you" list can tell what they have already seen (``seen_at``)."""

    __tablename__ = "review_outcome"
    __table_args__ = (Index("ix_review_outcome_review", "review_id"),)

    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotation.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(20))
    # When the annotator was shown it (their "Returned to you" list); NULL = not yet.
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GoldPauseLift(Base):
    """A manager lifted an annotator's gold-accuracy pause in a project at ``lifted_at``:
    only gold answers given after it count toward a new pause."""

    __tablename__ = "gold_pause_lift"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    lifted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    lifted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReviewLease(Base):
    """A reviewer holds the task they are shown until ``expires_at`` (the project's
    ``lease_seconds``), so two reviewers are not shown the same task. One lease per task
    (the primary key is what two racing reviewers collide on); the review queue keeps one
    per reviewer and project. A decision on the task removes its lease; an expired lease is
    taken over by whoever asks next (see ``review/leases.py``)."""

    __tablename__ = "review_lease"
    __table_args__ = (Index("ix_review_lease_reviewer", "project_id", "reviewer_id"),)

    task_id: Mapped[int] = mapped_column(
        ForeignKey("task.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    leased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
