"""What review told an annotator about their own answers.

- **Decisions on my answers**: the outcome of each answer's current revision (accepted,
  rejected, corrected), or "resubmitted" for an answer submitted again after a rejection
  and not reviewed since: the badges of "My submissions".
- **Returned to me**: my answers whose current revision review rejected or corrected, with
  the reason and the corrected value. A rejected one can be fixed while the task still
  needs answers (or while I hold the lease I took to fix it: :func:`fix`); it leaves the
  list when I submit it again. An item needs my attention — the count on the projects
  list — while it can be fixed, and otherwise until I have seen it (``seen_at``).

Everything here reads the caller's own answers only (``annotation.user_id``), in projects
they may see: what others answered, and other workforces' work, never enter it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project, project_row
from labelhouse.review.models import Review, ReviewOutcome
from labelhouse.tasks import rework
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.service import get_task

REJECTED, CORRECTED, RESUBMITTED = "rejected", "corrected", "resubmitted"
RETURNING = (REJECTED, CORRECTED)
MAX_TASKS = 500  # task ids per decisions lookup

# The outcome row that judged the answer's current revision (an edit since leaves none).
_CURRENT = and_(
    ReviewOutcome.annotation_id == Annotation.id,
    ReviewOutcome.revision == Annotation.revision,
    ReviewOutcome.outcome == Annotation.review_status,
)
_MY_LEASE = exists().where(
    Assignment.task_id == Annotation.task_id,
    Assignment.user_id == Annotation.user_id,
    Assignment.status == "leased",
)


def _fixable() -> ColumnElement[bool]:
    """A returned answer can be fixed: rejected, and its task has a free slot (or the
    annotator already holds one: the lease taken to fix it). Needs Task and Project."""
    return and_(
        Annotation.review_status == REJECTED,
        Project.archived.is_(False),
        or_(Task.taken < Project.overlap, _MY_LEASE),
    )


def _mine(actor: Actor) -> list[ColumnElement[bool]]:
    """My submitted answers returned by review, in projects of my organization I may see."""
    visible = actor.visible_project_ids()
    return [
        Annotation.user_id == actor.user_id,
        Annotation.status == "submitted",
        Annotation.review_status.in_(RETURNING),
        Project.organization_id == actor.organization_id,
        Project.id.in_(visible) if visible is not None else Project.id.is_not(None),
    ]


@dataclass
class ReturnedItem:
    task_id: int
    external_id: str | None
    annotation_id: int
    revision: int
    outcome: str  # rejected | corrected
    decision: str  # reject | correct
    reason: str | None
    your_value: dict[str, Any]
    corrected_value: dict[str, Any] | None
    reviewed_at: datetime
    reviewer: str
    review_id: int
    can_fix: bool
    fixing: bool  # holds the lease taken to fix it
    seen: bool

    @property
    def state(self) -> str:
        """``to_fix`` (rejected, can be fixed), ``closed`` (rejected, the task needs no more
        answers) or ``corrected``."""
        if self.outcome == CORRECTED:
            return CORRECTED
        return "to_fix" if self.can_fix else "closed"


@dataclass
class ReturnedPage:
    items: list[ReturnedItem]
    next_cursor: int | None
    needs_attention: int


def returned_to_me(
    session: Session, actor: Actor, project_id: int, *, after: int = 0, limit: int = 50
) -> ReturnedPage:
    """My returned answers in a project, newest decision first (``after``: a review id, the
    previous page's cursor)."""
    actor = actor.in_project(project_id)
    get_project(session, actor, project_id)
    query = (
        select(
            Annotation,
            Task.external_id,
            Review,
            User.email,
            _fixable().label("can_fix"),
            _MY_LEASE.label("fixing"),
            ReviewOutcome.seen_at,
        )
        .join(ReviewOutcome, _CURRENT)
        .join(Review, Review.id == ReviewOutcome.review_id)
        .join(Task, Task.id == Annotation.task_id)
        .join(Project, Project.id == Annotation.project_id)
        .outerjoin(User, User.id == Review.reviewer_id)
        .where(Annotation.project_id == project_id, *_mine(actor))
        .order_by(Review.id.desc())
        .limit(limit + 1)
    )
    if after:
        query = query.where(Review.id < after)
    rows = session.execute(query).all()
    items = [
        ReturnedItem(
            task_id=a.task_id,
            external_id=external_id,
            annotation_id=a.id,
            revision=a.revision,
            outcome=str(a.review_status),  # one of RETURNING: the query asks for them
            decision=r.decision,
            reason=r.reason,
            your_value=a.value,
            corrected_value=r.value,
            reviewed_at=r.created_at,
            # The lab's people see who decided; a vendor's never see the lab's addresses.
            reviewer=(email or "a reviewer") if not actor.vendor else "a reviewer",
            review_id=r.id,
            can_fix=bool(can_fix),
            fixing=bool(fixing),
            seen=seen_at is not None,
        )
        for a, external_id, r, email, can_fix, fixing, seen_at in rows[:limit]
    ]
    more = len(rows) > limit
    counts = needs_attention(session, actor, project_ids=[project_id])
    return ReturnedPage(
        items=items,
        next_cursor=items[-1].review_id if more and items else None,
        needs_attention=counts.get(project_id, 0),
    )


def needs_attention(
    session: Session, actor: Actor, *, project_ids: list[int] | None = None
) -> dict[int, int]:
    """Per project (of those given, else every project I may see): how many of my returned
    answers need my attention — rejected ones I can fix, and any I have not seen yet."""
    query = (
        select(Annotation.project_id, func.count())
        .join(ReviewOutcome, _CURRENT)
        .join(Task, Task.id == Annotation.task_id)
        .join(Project, Project.id == Annotation.project_id)
        .where(*_mine(actor), or_(_fixable(), ReviewOutcome.seen_at.is_(None)))
        .group_by(Annotation.project_id)
    )
    if project_ids is None:  # named, so the (project, user) index finds my answers
        visible = actor.visible_project_ids()
        project_ids = list(
            session.scalars(
                select(Project.id).where(
                    Project.organization_id == actor.organization_id,
                    Project.id.in_(visible) if visible is not None else true(),
                )
            )
        )
    query = query.where(Annotation.project_id.in_(project_ids) if project_ids else false())
    return {pid: n for pid, n in session.execute(query)}


def mark_seen(
    session: Session, actor: Actor, project_id: int, annotation_ids: list[int] | None = None
) -> int:
    """Mark my returned answers in the project (all, or these) as seen; how many changed."""
    actor = actor.in_project(project_id)
    get_project(session, actor, project_id)
    mine = select(Annotation.id).where(
        Annotation.project_id == project_id, Annotation.user_id == actor.user_id
    )
    if annotation_ids is not None:
        mine = mine.where(Annotation.id.in_(annotation_ids))
    result = session.execute(
        update(ReviewOutcome)
        .where(
            ReviewOutcome.annotation_id.in_(mine.scalar_subquery()),
            ReviewOutcome.outcome.in_(RETURNING),
            ReviewOutcome.seen_at.is_(None),
        )
        .values(seen_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MyDecision:
    task_id: int
    status: str  # accepted | rejected | corrected | resubmitted
    revision: int

    def as_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "status": self.status, "revision": self.revision}


def decisions_on_mine(
    session: Session, actor: Actor, project_id: int, task_ids: list[int]
) -> list[MyDecision]:
    """What review made of my answers on these tasks: the current revision's outcome, or
    ``resubmitted`` when I submitted it again after a rejection and it waits for review.
    Tasks I did not answer, or whose answer waits for a first review, are left out."""
    actor = actor.in_project(project_id)
    get_project(session, actor, project_id)
    ids = sorted(set(task_ids))[:MAX_TASKS]
    if not ids:
        return []
    rejected_before = exists().where(
        ReviewOutcome.annotation_id == Annotation.id,
        ReviewOutcome.outcome == REJECTED,
        ReviewOutcome.revision < Annotation.revision,
    )
    rows = session.execute(
        select(
            Annotation.task_id,
            Annotation.review_status,
            Annotation.revision,
            rejected_before.label("was_rejected"),
        ).where(
            Annotation.project_id == project_id,
            Annotation.user_id == actor.user_id,
            Annotation.status == "submitted",
            Annotation.task_id.in_(ids),
        )
    )
    out = []
    for task_id, status, revision, was_rejected in rows:
        if status is not None:
            out.append(MyDecision(task_id, status, revision))
        elif was_rejected:
            out.append(MyDecision(task_id, RESUBMITTED, revision))
    return sorted(out, key=lambda d: d.task_id)


def fix(session: Session, actor: Actor, task_id: int) -> int:
    """Take a lease on a task whose answer review returned to me, to fix it; its project id.
    My lease on another task of the project is given back (one per person and project)."""
    task, project = get_task(session, actor, task_id)
    own = session.execute(
        select(Annotation.id, Annotation.review_status).where(
            Annotation.task_id == task.id,
            Annotation.user_id == actor.user_id,
            Annotation.status == "submitted",
        )
    ).first()
    if own is None or own.review_status != REJECTED:
        raise Conflict(
            f"Your answer on task {task.id} was not rejected in review, so there is nothing "
            "to fix; open it from My submissions to change it."
        )
    row = project_row(session, actor, project.id)
    if row.archived:
        raise Conflict("This project is archived; it takes no more answers.")
    rework.lease_again(session, actor, row, task.id)
    mark_seen(session, actor, project.id, [own.id])
    return project.id
