"""Who skipped a task, and why: the reasons and notes people gave (``queue.skip``), for the
task page, so a manager sees what to fix (instructions, broken media, work nobody can
judge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.accounts.policy import Actor
from labelhouse.tasks.models import Assignment

SKIPPED = "skipped"


@dataclass(frozen=True)
class Skip:
    annotator_email: str
    skipped_at: datetime | None
    reason: str | None
    note: str | None


def skips_of_task(session: Session, actor: Actor, task_id: int, project_id: int) -> list[Skip]:
    """The task's skips, oldest first. The caller has found the task through a scoped
    lookup (``tasks.service.get_task``); someone who does not see the whole project (an
    annotator, a vendor's person) sees only their own."""
    query = (
        select(Assignment.finished_at, Assignment.skip_reason, Assignment.skip_note, User.email)
        .join(User, User.id == Assignment.user_id)
        .where(
            Assignment.task_id == task_id,
            Assignment.project_id == project_id,
            Assignment.status == SKIPPED,
        )
        .order_by(Assignment.finished_at, Assignment.id)
    )
    if not actor.in_project(project_id).sees_whole_project:
        query = query.where(Assignment.user_id == actor.user_id)
    return [
        Skip(annotator_email=email, skipped_at=when, reason=reason, note=note)
        for when, reason, note, email in session.execute(query)
    ]
