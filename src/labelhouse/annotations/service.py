"""Submitting, drafting and updating annotations, keeping every revision.

A submission validates every field through its kind (all problems reported at once),
ties the annotation to the schema version in force, records the time spent, marks the
annotator's assignment submitted and counts the task's completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.projects.service import load_schema
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import get_task

MAX_LEAD_TIME_MS = 24 * 3600 * 1000
DRAFT, SUBMITTED = "draft", "submitted"


@dataclass
class SaveResult:
    annotation: Annotation
    created: bool


def _lead_time(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidInput(
            "lead_time_ms must be a non-negative number of milliseconds.",
            [Problem("lead_time_ms", "expected a number >= 0")],
        )
    return int(min(value, MAX_LEAD_TIME_MS))


def save(
    session: Session,
    actor: Actor,
    task_id: int,
    *,
    value: Any,
    draft: bool = False,
    lead_time_ms: Any = None,
) -> SaveResult:
    """Create or update the actor's annotation of a task (submit, or save a draft)."""
    spent = _lead_time(lead_time_ms)
    task, project = get_task(session, actor, task_id)
    schema = load_schema(session, project)
    clean = schema.validate_annotation(value, task.data, draft=draft)
    existing = session.scalar(
        select(Annotation).where(Annotation.task_id == task.id, Annotation.user_id == actor.user_id)
    )
    if draft:
        if existing is not None and existing.status == SUBMITTED:
            raise Conflict("This annotation is already submitted; submit the change instead.")
        queue.extend(session, actor, task.id)  # a draft needs a live lease, and renews it
    else:
        assignment, first = queue.secure_slot_for_submit(session, actor, project, task)
        if first:
            assignment.status = queue.SUBMITTED
            assignment.finished_at = utcnow()
            session.execute(update(Task).where(Task.id == task.id).values(done=Task.done + 1))
    status = DRAFT if draft else SUBMITTED
    now = utcnow()
    created = existing is None
    if existing is None:
        annotation = Annotation(
            project_id=project.id,
            task_id=task.id,
            user_id=actor.user_id,
            status=status,
            value=clean,
            schema_version=project.schema_version,
            revision=1,
            lead_time_ms=spent,
            created_at=now,
            updated_at=now,
        )
        session.add(annotation)
        session.flush()
    else:
        annotation = existing
        annotation.revision += 1
        annotation.status = status
        annotation.value = clean
        annotation.schema_version = project.schema_version
        annotation.lead_time_ms += spent
        annotation.updated_at = now
    session.add(
        AnnotationRevision(
            annotation_id=annotation.id,
            revision=annotation.revision,
            status=status,
            value=clean,
            schema_version=project.schema_version,
            lead_time_ms=spent,
            created_at=now,
        )
    )
    session.flush()
    return SaveResult(annotation=annotation, created=created)


def annotations_of_task(session: Session, actor: Actor, task_id: int) -> list[Annotation]:
    """All annotations for reviewers and up; annotators see only their own (vendor isolation)."""
    task, _ = get_task(session, actor, task_id)
    query = select(Annotation).where(Annotation.task_id == task.id)
    if not actor.sees_all_tasks:
        query = query.where(Annotation.user_id == actor.user_id)
    return list(session.scalars(query.order_by(Annotation.id)))


def history(session: Session, actor: Actor, annotation_id: int) -> list[AnnotationRevision]:
    annotation = session.get(Annotation, annotation_id)
    if annotation is None:
        raise NotFound(f"Annotation {annotation_id} does not exist.")
    get_task(session, actor, annotation.task_id)  # scopes to the organization
    if not actor.sees_all_tasks and annotation.user_id != actor.user_id:
        raise NotFound(f"Annotation {annotation_id} does not exist.")
    return list(
        session.scalars(
            select(AnnotationRevision)
            .where(AnnotationRevision.annotation_id == annotation.id)
            .order_by(AnnotationRevision.revision)
        )
    )
