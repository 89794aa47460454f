"""Which revision of each annotation a review judged (``review_outcome`` rows).

``annotation.review_status`` says what happened to an answer's current revision only: an
edit wipes it. The outcome rows keep the history, written in the decision's transaction,
so that:
- an annotator is shown the decision and reason on their own answer (``review/returned.py``);
- a reviewer sees that an answer waiting for review was resubmitted after a rejection, and
  why that earlier revision was rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from labelhouse.review.models import Review, ReviewOutcome

REJECTED = "rejected"


def record(session: Session, review_id: int, judged: list[tuple[int, int, str]]) -> None:
    """Store a decision's outcome for each ``(annotation id, revision, outcome)`` it judged."""
    if judged:
        session.execute(
            insert(ReviewOutcome),
            [
                {"annotation_id": a, "revision": rev, "review_id": review_id, "outcome": outcome}
                for a, rev, outcome in judged
            ],
        )


@dataclass(frozen=True)
class EarlierRejection:
    """An earlier revision of an answer now waiting for review was rejected: the answer is
    a resubmission after that rejection."""

    revision: int
    reason: str | None
    rejected_at: datetime
    review_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "reason": self.reason,
            "rejected_at": self.rejected_at,
            "review_id": self.review_id,
        }


def earlier_rejections(session: Session, revisions: dict[int, int]) -> dict[int, EarlierRejection]:
    """``{annotation id: its latest rejection}`` for the annotations (``{id: current
    revision}``) whose current revision follows a rejected one. One query."""
    if not revisions:
        return {}
    rows = session.execute(
        select(
            ReviewOutcome.annotation_id,
            ReviewOutcome.revision,
            Review.reason,
            Review.created_at,
            Review.id,
        )
        .join(Review, Review.id == ReviewOutcome.review_id)
        .where(
            ReviewOutcome.annotation_id.in_(list(revisions)),
            ReviewOutcome.outcome == REJECTED,
        )
        .order_by(ReviewOutcome.annotation_id, ReviewOutcome.revision)
    )
    out: dict[int, EarlierRejection] = {}
    for annotation_id, revision, reason, at, review_id in rows:
        if revision < revisions[annotation_id]:  # the last one wins (ordered by revision)
            out[annotation_id] = EarlierRejection(revision, reason, at, review_id)
    return out
