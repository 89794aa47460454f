"""Review split by workforce: what a vendor's reviewer may review.

A vendor's people never see the whole project (``Actor.sees_whole_project``). A vendor
reviewer reviews only their own workforce's work: tasks routed to their workforce whose
pending annotations were all given by people served the task in that workforce
(``assignment.workforce_id``, recorded when the task was leased). A task routed to several
workforces ("to each") with another workforce's annotation pending, or holding the lab's,
is never theirs; the lab's reviewers review it. The lab's reviewers are not narrowed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, select
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.tasks.models import Assignment, Task, TaskRoute

PENDING = (Annotation.status == "submitted", Annotation.review_status.is_(None))


def review_scope(actor: Actor) -> list[ColumnElement[bool]]:
    """Conditions on ``Task`` narrowing the review queue (and decisions) to what this
    reviewer may review; none for the lab's reviewers."""
    if actor.sees_whole_project:
        return []
    if not actor.vendor or actor.workforce_id is None:
        return [false()]  # an annotator never gets here (the role check comes first)
    workforce = actor.workforce_id
    served_here = exists().where(  # (on the annotation's task: Task is two levels out)
        Assignment.task_id == Annotation.task_id,
        Assignment.user_id == Annotation.user_id,
        Assignment.workforce_id == workforce,
    )
    return [
        exists().where(TaskRoute.task_id == Task.id, TaskRoute.workforce_id == workforce),
        ~exists().where(Annotation.task_id == Task.id, *PENDING, ~served_here),
    ]


def in_review_scope(session: Session, actor: Actor, task_id: int) -> bool:
    conditions = review_scope(actor)
    if not conditions:
        return True
    return bool(session.scalar(select(exists().where(Task.id == task_id, and_(*conditions)))))
