"""A task's status as people should read it, review included, and its review history.

The queue's status (new / in progress / done, from the task's counters) alone misleads
once review has spoken: a rejection gives the rejected answers' slots back, so a task
whose two answers were both rejected reads "new · 0 of 2 submitted" beside two answers
that say "submitted". This module says what happened instead — "rejected — returned to
annotators · 0 of 2 submitted since" — for the task page, the task browser and the API.
The lab's views only: it speaks about every answer on the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.annotations.models import Annotation
from labelhouse.projects.models import Project
from labelhouse.review.models import Review, ReviewOutcome
from labelhouse.tasks.service import task_status

REJECT, ACCEPT, CORRECT = "reject", "accept", "correct"
_BADGE = {ACCEPT: "accepted", CORRECT: "corrected"}


@dataclass
class ReviewView:
    """One decision on the task, for its page."""

    id: int
    decision: str
    reason: str | None
    value: dict[str, Any] | None
    reviewer: str
    created_at: datetime
    outcomes: dict[int, tuple[int, str]] = field(default_factory=dict)  # annotation: rev, what


@dataclass
class TaskReviewState:
    badge: str  # new | in_progress | done | rejected | accepted | corrected
    text: str
    decision: str | None = None  # the latest decision on the task
    reason: str | None = None
    reviews: list[ReviewView] = field(default_factory=list)
    resubmitted: set[int] = field(default_factory=set)  # answers waiting after a rejection

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.badge,
            "text": self.text,
            "decision": self.decision,
            "reason": self.reason,
        }


def _returned(n: int) -> str:
    return "returned to its annotator" if n == 1 else "returned to annotators"


def describe(
    task: Any,
    overlap: int,
    *,
    latest: str | None,
    pending: int,
    returned: int,
    resubmitted: int,
    review_on: bool,
) -> tuple[str, str]:
    """(badge, text) for a task: ``latest`` decision on it, answers ``pending`` review,
    rejected answers still ``returned`` (not submitted again), ``resubmitted`` ones pending."""
    done, plain = task.done, task_status(task, overlap)
    counted = f"{done} of {overlap} submitted"
    if task.gold is not None:
        return plain, counted
    if latest == REJECT and done < overlap:
        to = f" — {_returned(returned)}" if returned else ""
        return "rejected", f"rejected{to} · {counted} since"
    if done >= overlap and pending:
        again = f" ({resubmitted} resubmitted after a rejection)" if resubmitted else ""
        waiting = " · waiting for review" if review_on else ""
        return plain, f"{counted}{waiting}{again}"
    if done >= overlap and latest in _BADGE:
        return _BADGE[latest], f"{counted} · {_BADGE[latest]} in review"
    return plain, counted


def task_review_state(session: Session, task: Any, overlap: int) -> TaskReviewState:
    """The task's status text and every decision on it, oldest first (a handful of rows).
    Callers have resolved the task through a scoped lookup, for the lab's people."""
    review_mode = session.scalar(select(Project.review_mode).where(Project.id == task.project_id))
    reviews = [
        ReviewView(r.id, r.decision, r.reason, r.value, email or "(deleted)", r.created_at)
        for r, email in session.execute(
            select(Review, User.email)
            .outerjoin(User, User.id == Review.reviewer_id)
            .where(Review.task_id == task.id)
            .order_by(Review.id)
        )
    ]
    by_id = {r.id: r for r in reviews}
    outcomes = session.execute(
        select(
            ReviewOutcome.review_id,
            ReviewOutcome.annotation_id,
            ReviewOutcome.revision,
            ReviewOutcome.outcome,
        ).where(ReviewOutcome.review_id.in_(list(by_id)))
    )
    for review_id, annotation_id, revision, outcome in outcomes:
        by_id[review_id].outcomes[annotation_id] = (revision, outcome)
    answers = session.execute(
        select(
            Annotation.id, Annotation.status, Annotation.review_status, Annotation.revision
        ).where(Annotation.task_id == task.id)
    ).all()
    rejected_at: dict[int, int] = {}  # annotation -> last rejected revision
    for r in reviews:
        for annotation_id, (revision, outcome) in r.outcomes.items():
            if outcome == "rejected":
                rejected_at[annotation_id] = max(revision, rejected_at.get(annotation_id, 0))
    pending = [a for a in answers if a.status == "submitted" and a.review_status is None]
    resubmitted = {a.id for a in pending if rejected_at.get(a.id, a.revision) < a.revision}
    returned = sum(1 for a in answers if a.status == "submitted" and a.review_status == "rejected")
    latest = reviews[-1] if reviews else None
    badge, text = describe(
        task,
        overlap,
        latest=latest.decision if latest else None,
        pending=len(pending),
        returned=returned,
        resubmitted=len(resubmitted),
        review_on=review_mode != "off",
    )
    return TaskReviewState(
        badge=badge,
        text=text,
        decision=latest.decision if latest else None,
        reason=latest.reason if latest else None,
        reviews=reviews,
        resubmitted=resubmitted,
    )


def rejected_tasks(session: Session, tasks: list[Any], overlap: int) -> set[int]:
    """Of a page of tasks, those whose latest decision was a rejection and that have not
    been filled again since (the task browser shows them "rejected", not "new")."""
    open_ids = [t.id for t in tasks if t.done < overlap and t.gold is None]
    if not open_ids:
        return set()
    latest = (
        select(Review.task_id, func.max(Review.id).label("id"))
        .where(Review.task_id.in_(open_ids))
        .group_by(Review.task_id)
        .subquery()
    )
    return set(
        session.scalars(
            select(Review.task_id)
            .join(latest, latest.c.id == Review.id)
            .where(Review.decision == REJECT)
        )
    )
