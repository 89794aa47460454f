"""The work queue: hands each task to ``overlap`` distinct annotators, never twice by accident.

Invariants, enforced by the database and not just by this code:
- one ``assignment`` row per (task, user) — a unique constraint, so no one gets a task twice;
- at most one active lease per (project, user) — a partial unique index;
- ``task.taken`` (active leases + submissions) never exceeds the project's overlap: the
  claim locks the task row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite every write
  transaction is ``BEGIN IMMEDIATE``, so claims are serialised) before incrementing it.
Expired leases are reclaimed lazily by the next claim in the project (indexed, cheap).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, NotFound
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project
from labelhouse.tasks.models import Assignment, Task

LEASED, SUBMITTED, SKIPPED, EXPIRED = "leased", "submitted", "skipped", "expired"


@dataclass
class Lease:
    task: Task
    assignment: Assignment
    created: bool


def _adjust_taken(session: Session, project: Project, task_id: int, delta: int) -> None:
    session.execute(
        update(Task)
        .where(Task.id == task_id)
        .values(taken=Task.taken + delta, is_open=(Task.taken + delta) < project.overlap)
    )


def expire_stale_leases(session: Session, project: Project, now: datetime) -> int:
    """Return expired leases' slots to the queue. Safe under concurrency: the UPDATE's row
    locks mean each lease is expired (and its slot returned) exactly once."""
    task_ids = session.scalars(
        update(Assignment)
        .where(
            Assignment.project_id == project.id,
            Assignment.status == LEASED,
            Assignment.expires_at < now,
        )
        .values(status=EXPIRED, finished_at=now)
        .returning(Assignment.task_id)
    ).all()
    for task_id, count in Counter(task_ids).items():
        _adjust_taken(session, project, task_id, -count)
    return len(task_ids)


def current_lease(
    session: Session, project_id: int, user_id: int
) -> tuple[Assignment, Task] | None:
    row = session.execute(
        select(Assignment, Task)
        .join(Task, Task.id == Assignment.task_id)
        .where(
            Assignment.project_id == project_id,
            Assignment.user_id == user_id,
            Assignment.status == LEASED,
        )
    ).first()
    return (row[0], row[1]) if row else None


def claim_next(
    session: Session, actor: Actor, project_id: int, *, now: datetime | None = None
) -> Lease | None:
    """Give the actor a task and a lease, or None when nothing is left for them."""
    now = now or utcnow()
    project = get_project(session, actor, project_id)
    if project.archived:
        raise Conflict("This project is archived; it hands out no more work.")
    held = current_lease(session, project.id, actor.user_id)
    if held and held[0].expires_at > now:
        return Lease(task=held[1], assignment=held[0], created=False)
    expire_stale_leases(session, project, now)

    already_assigned = exists().where(
        Assignment.task_id == Task.id, Assignment.user_id == actor.user_id
    )
    query = (
        select(Task)
        .where(Task.project_id == project.id, Task.is_open.is_(True), ~already_assigned)
        .order_by(Task.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Task)
    task = session.scalar(query)
    if task is None:
        return None
    assignment = Assignment(
        project_id=project.id,
        task_id=task.id,
        user_id=actor.user_id,
        status=LEASED,
        leased_at=now,
        expires_at=now + timedelta(seconds=project.lease_seconds),
    )
    try:
        with session.begin_nested():
            session.add(assignment)
            session.flush()
    except IntegrityError:
        # The same annotator asked twice at once (PostgreSQL); the other request won.
        held = current_lease(session, project.id, actor.user_id)
        if held is None:
            raise
        return Lease(task=held[1], assignment=held[0], created=False)
    _adjust_taken(session, project, task.id, +1)
    session.refresh(task, attribute_names=["taken", "is_open"])
    return Lease(task=task, assignment=assignment, created=True)


def _own_lease(session: Session, actor: Actor, task_id: int) -> tuple[Project, Assignment]:
    row = session.execute(
        select(Assignment, Project)
        .join(Project, Project.id == Assignment.project_id)
        .where(
            Assignment.task_id == task_id,
            Assignment.user_id == actor.user_id,
            Assignment.status == LEASED,
            Project.organization_id == actor.organization_id,
        )
    ).first()
    if row is None:
        raise NotFound(f"You hold no lease on task {task_id}.")
    return row[1], row[0]


def skip(session: Session, actor: Actor, task_id: int, *, reason: str | None = None) -> None:
    """Give the task back and record the skip; the same annotator will not get it again."""
    project, assignment = _own_lease(session, actor, task_id)
    assignment.status = SKIPPED
    assignment.finished_at = utcnow()
    assignment.skip_reason = (reason or "")[:2000] or None
    _adjust_taken(session, project, task_id, -1)


def release(session: Session, actor: Actor, task_id: int) -> None:
    """Give the task back without a trace (e.g. the annotator closed the page)."""
    project, assignment = _own_lease(session, actor, task_id)
    session.execute(delete(Assignment).where(Assignment.id == assignment.id))
    _adjust_taken(session, project, task_id, -1)


def extend(session: Session, actor: Actor, task_id: int) -> Assignment:
    """Heartbeat: push the lease's expiry out again (saving a draft does this)."""
    project, assignment = _own_lease(session, actor, task_id)
    assignment.expires_at = utcnow() + timedelta(seconds=project.lease_seconds)
    return assignment


def secure_slot_for_submit(
    session: Session, actor: Actor, project: Project, task: Task
) -> tuple[Assignment, bool]:
    """Before a first submission: the annotator's assignment, or a fresh slot if one is free.

    Returns (assignment, first_submission); the caller marks a leased assignment submitted.
    Raises Conflict when the lease was lost and the
    task already has enough annotators, so nobody is over-assigned by a late submit.
    """
    assignment = session.scalar(
        select(Assignment).where(Assignment.task_id == task.id, Assignment.user_id == actor.user_id)
    )
    if assignment is not None and assignment.status == SUBMITTED:
        return assignment, False
    if assignment is not None and assignment.status == LEASED:
        return assignment, True
    # Lease expired, skipped, or never leased: take a free slot atomically, if any.
    taken = session.execute(
        update(Task)
        .where(and_(Task.id == task.id, Task.taken < project.overlap))
        .values(taken=Task.taken + 1, is_open=(Task.taken + 1) < project.overlap)
        .returning(Task.id)
    ).first()
    if taken is None:
        raise Conflict(
            "Your lease on this task expired and it already has enough annotators; "
            "ask for the next task."
        )
    now = utcnow()
    if assignment is None:
        assignment = Assignment(
            project_id=project.id,
            task_id=task.id,
            user_id=actor.user_id,
            status=SUBMITTED,
            leased_at=now,
            expires_at=now,
            finished_at=now,
        )
        session.add(assignment)
    else:
        assignment.status = SUBMITTED
        assignment.finished_at = now
    session.flush()
    return assignment, True
