"""Comments on tasks and each person's read marker per task."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, UtcDateTime, utcnow


class TaskComment(Base):
    """One comment in a task's conversation with one annotator (``thread_user_id``: their
    questions and the answers to them), or a lab note (``thread_user_id`` NULL) that only
    the lab's reviewers and managers see. Annotators never see each other's threads, so
    a question never shows one annotator's thinking to another, and a vendor's people never
    see another workforce's.

    ``author_role`` and ``author_workforce_id`` are as they were when it was written: what
    a vendor's people are shown instead of the lab's addresses, and which workforce's
    reviewer may answer."""

    __tablename__ = "task_comment"
    __table_args__ = (
        Index("ix_task_comment_task", "task_id", "id"),
        Index("ix_task_comment_project", "project_id", "id"),
        Index("ix_task_comment_thread", "thread_user_id", "project_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    # A deleted person's thread becomes a lab note: never more visible than before.
    thread_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    author_role: Mapped[str] = mapped_column(String(20))
    # No foreign key (like assignment.workforce_id): history outlives the team.
    author_workforce_id: Mapped[int | None] = mapped_column(BigId)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TaskCommentRead(Base):
    """How far a person has read a task's comments: those with a larger id are unread."""

    __tablename__ = "task_comment_read"
    __table_args__ = (Index("ix_task_comment_read_task", "task_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    task_id: Mapped[int] = mapped_column(
        ForeignKey("task.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    last_read_id: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
