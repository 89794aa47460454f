"""Annotators' gold accuracy per field, and the optional pause below a threshold.

Accuracy compares each submitted annotation on a gold task with the task's expected value,
field by field, through :func:`labelhouse.tasks.gold.gold_matches` (fields the gold value
leaves out are not checked). A pause applies when the project sets ``gold_min_accuracy``:
an annotator whose accuracy (checked fields, all fields pooled) is below it after at least
``gold_min_answers`` gold answers gets no new task until a manager lifts the pause; after a
lift only gold answers given later count toward a new pause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Membership, Role, User
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import NotFound, PermissionDenied
from labelhouse.projects.service import ProjectRow, get_project, load_schema
from labelhouse.review.models import GoldPauseLift
from labelhouse.tasks.gold import gold_matches
from labelhouse.tasks.models import Task


@dataclass
class FieldScore:
    correct: int = 0
    checked: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.checked if self.checked else None


@dataclass
class GoldScore:
    """One annotator's gold record in a project."""

    user_id: int
    answers: int = 0  # gold tasks answered
    fields: dict[str, FieldScore] = field(default_factory=dict)

    @property
    def correct(self) -> int:
        return sum(f.correct for f in self.fields.values())

    @property
    def checked(self) -> int:
        return sum(f.checked for f in self.fields.values())

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.checked if self.checked else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "answers": self.answers,
            "accuracy": self.accuracy,
            "fields": {
                name: {"correct": f.correct, "checked": f.checked, "accuracy": f.accuracy}
                for name, f in self.fields.items()
            },
        }


def _scores(
    session: Session,
    project: Any,
    *,
    user_id: int | None = None,
    since: datetime | None = None,
) -> dict[int, GoldScore]:
    schema = load_schema(session, project)
    query = (
        select(Annotation.user_id, Annotation.value, Task.gold)
        .join(Task, Task.id == Annotation.task_id)
        .where(
            Task.project_id == project.id,
            Task.gold.is_not(None),
            Annotation.status == "submitted",
        )
        .order_by(Annotation.user_id, Annotation.id)
    )
    if user_id is not None:
        query = query.where(Annotation.user_id == user_id)
    if since is not None:
        query = query.where(Annotation.updated_at > since)
    out: dict[int, GoldScore] = {}
    for uid, value, gold in session.execute(query):
        score = out.setdefault(uid, GoldScore(uid))
        score.answers += 1
        for name, expected in gold.items():
            kind = schema.field(name)
            if kind is None:
                continue  # a field removed from the schema since
            f = score.fields.setdefault(name, FieldScore())
            f.checked += 1
            f.correct += gold_matches(kind, expected, value.get(name))
    return out


def gold_accuracy(session: Session, actor: Actor, project_id: int) -> list[GoldScore]:
    """Every annotator's gold accuracy in the project, per field (reviewers and up)."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see annotators' gold accuracy")
    project = get_project(session, actor, project_id)
    return [s for _, s in sorted(_scores(session, project).items())]


def scores_for(session: Session, project: Any, user_ids: list[int]) -> dict[int, GoldScore]:
    """These people's gold records in the project, for a caller that has already checked
    it may see them (a workforce manager: their own people only)."""
    wanted = set(user_ids)
    return {uid: s for uid, s in _scores(session, project).items() if uid in wanted}


def _lift(session: Session, project_id: int, user_id: int) -> GoldPauseLift | None:
    return session.scalar(
        select(GoldPauseLift).where(
            GoldPauseLift.project_id == project_id, GoldPauseLift.user_id == user_id
        )
    )


def pause_state(session: Session, project: ProjectRow, user_id: int) -> GoldScore | None:
    """The score that pauses this annotator, or None when they may work."""
    threshold = project.gold_min_accuracy
    if threshold is None:
        return None
    lift = _lift(session, project.id, user_id)
    score = _scores(session, project, user_id=user_id, since=lift.lifted_at if lift else None).get(
        user_id
    )
    if score is None or score.answers < project.gold_min_answers:
        return None
    accuracy = score.accuracy
    return score if accuracy is not None and accuracy < threshold else None


def pause_gate(session: Session, actor: Actor, project: ProjectRow) -> None:
    """``tasks.queue.claim_next``'s gate: refuse a new task to a paused annotator."""
    score = pause_state(session, project, actor.user_id)
    if score is not None:
        assert score.accuracy is not None and project.gold_min_accuracy is not None
        raise PermissionDenied(
            f"Paused: your gold accuracy is {score.accuracy:.0%} over your last "
            f"{score.answers} check tasks, below this project's {project.gold_min_accuracy:.0%}. "
            "Ask a project manager to review your work and lift the pause."
        )


def unpause(session: Session, actor: Actor, project_id: int, user_id: int) -> GoldPauseLift:
    """Lift an annotator's pause (managers): earlier gold answers stop counting."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "lift an annotator's pause")
    project = get_project(session, actor, project_id)
    member = session.scalar(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.organization_id == actor.organization_id)
    )
    if member is None:
        raise NotFound(f"User {user_id} is not a member of this organization.")
    lift = _lift(session, project.id, user_id)
    now = utcnow()
    if lift is None:
        lift = GoldPauseLift(project_id=project.id, user_id=user_id)
        session.add(lift)
    lift.lifted_at, lift.lifted_by_id = now, actor.user_id
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="annotator.unpause",
        object_type="project",
        object_id=project.id,
        details={"user_id": user_id},
    )
    session.flush()
    return lift
