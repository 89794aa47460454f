"""What review settled on for each task: the reviewed value that exports carry.

A task's reviewed value comes from its latest ``accept`` or ``correct`` review (a later
``reject`` sent only the then-pending annotations back; it settles nothing):
- ``correct``: the reviewer's validated value, as stored;
- ``accept``: per field, the value the task's accepted annotations share, or their most
  common one — :func:`labelhouse.review.service.field_agreement`, the same rule the review
  page shows — with unanswered fields left out, like a submitted annotation. If every
  accepted annotation was edited since (sent back to review) the value is None.

Read for a range of task ids at a time with one query, so an export adds one statement per
batch however many tasks were reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from labelhouse.annotations.models import Annotation
from labelhouse.kinds.registry import LabelSchema
from labelhouse.review.models import Review
from labelhouse.review.service import ACCEPT, ACCEPTED, CORRECT, field_agreement

SETTLING = (ACCEPT, CORRECT)


@dataclass
class ReviewedValue:
    task_id: int
    decision: str  # accept | correct
    value: dict[str, Any] | None
    reviewer_id: int | None
    reviewed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "value": self.value,
            "reviewer_id": self.reviewer_id,
            "reviewed_at": self.reviewed_at.isoformat(),
        }


def reviewed_values(
    session: Session, project_id: int, schema: LabelSchema, lo: int, hi: int
) -> dict[int, ReviewedValue]:
    """``{task_id: ReviewedValue}`` for the reviewed tasks with ``lo <= id <= hi``."""
    latest = (
        select(func.max(Review.id).label("id"))
        .where(
            Review.project_id == project_id,
            Review.task_id >= lo,
            Review.task_id <= hi,
            Review.decision.in_(SETTLING),
        )
        .group_by(Review.task_id)
        .subquery()
    )
    # An accept's annotations come in the same statement (one row each); a correction's row
    # has no annotation.
    rows = session.execute(
        select(
            Review.task_id,
            Review.decision,
            Review.reviewer_id,
            Review.created_at,
            Review.value,
            Annotation.value,
        )
        .join(latest, latest.c.id == Review.id)
        .outerjoin(
            Annotation,
            and_(
                Review.decision == ACCEPT,
                Annotation.task_id == Review.task_id,
                Annotation.status == "submitted",
                Annotation.review_status == ACCEPTED,
            ),
        )
        .order_by(Review.task_id, Annotation.id)
    )
    out: dict[int, ReviewedValue] = {}
    accepted: dict[int, list[dict[str, Any]]] = {}
    for task_id, decision, reviewer_id, created_at, value, annotation in rows:
        if task_id not in out:
            out[task_id] = ReviewedValue(task_id, decision, value, reviewer_id, created_at)
        if annotation is not None:
            accepted.setdefault(task_id, []).append(annotation)
    for task_id, reviewed in out.items():
        if reviewed.decision == ACCEPT:
            majority, _ = field_agreement(schema, accepted.get(task_id, []))
            kept = {name: v for name, v in majority.items() if v is not None}
            reviewed.value = kept if task_id in accepted else None
    return out
