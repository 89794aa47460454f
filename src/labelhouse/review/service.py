"""The review stage: a reviewer queue over finished tasks, and accept / reject / correct.

Which tasks wait for review:
- finished (``done >= overlap``), not gold (gold answers are checked automatically), with
  submitted annotations not reviewed yet, none of them by the reviewer (nobody reviews
  their own work);
- and, by the project's ``review_mode``: ``all``; ``sample`` — a fixed share
  ``review_sample_rate`` chosen by a hash of the task id (the same tasks whoever asks);
  ``disagreement`` — tasks where some field's agreement (share of annotators giving the
  most common value, exact equality) is below ``review_agreement_threshold``; ``off`` —
  none.

Decisions (one ``review`` row each; originals are never edited):
- ``accept`` marks the pending annotations ``accepted``;
- ``reject`` (reason required) marks them ``rejected`` and gives their slots back: the
  task's ``done``/``taken`` drop by their number and it re-opens, so other annotators
  label it again (the original annotators keep their assignment rows, so the queue never
  hands it back to them); the new annotations are then reviewed again;
- ``correct`` stores the reviewer's validated value as the reviewed value; each pending
  annotation is marked ``accepted`` if it already equalled it, else ``corrected``.
Two reviewers deciding at once: the first wins, the second gets a Conflict.

Reviewers do not collide in the first place: the task a reviewer is shown is leased to them
(``review/leases.py``) for the project's ``lease_seconds``; asking again returns the same
task while the lease lives, other reviewers pass over it, a decision releases it. Leases
only steer who is shown what: a decision does not require one (the first decision wins).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role, User
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project, load_schema
from labelhouse.review import leases, outcomes
from labelhouse.review.models import Review
from labelhouse.review.workforce_scope import PENDING, in_review_scope, review_scope
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.service import get_task

ACCEPT, REJECT, CORRECT = "accept", "reject", "correct"
DECISIONS = (ACCEPT, REJECT, CORRECT)
ACCEPTED, REJECTED, CORRECTED = "accepted", "rejected", "corrected"
MAX_REASON = 5000
SCAN_BATCH = 200  # candidates read at a time in disagreement mode (each is inspected)
LEASE_BATCH = 8  # elsewhere the first candidate is usually leased; more only after races
HASH_MULT, HASH_MOD = 2654435761, 2**32  # Knuth's multiplicative hash of the task id


@dataclass
class ReviewItem:
    """A task waiting for review with its pending annotations, the most common value per
    field and, per annotation, the fields where it differs from that value."""

    task: Task
    project: Project
    schema: LabelSchema
    annotations: list[Annotation]
    emails: dict[int, str]
    majority: dict[str, Any] = field(default_factory=dict)
    differs: dict[int, list[str]] = field(default_factory=dict)
    agreement: dict[str, float] = field(default_factory=dict)
    lease_expires_at: datetime | None = None
    # Answers resubmitted after an earlier revision was rejected: annotation id -> that.
    resubmitted: dict[int, outcomes.EarlierRejection] = field(default_factory=dict)


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def field_agreement(
    schema: LabelSchema, values: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Per field: the most common value (ties: the first given) and its share of answers.

    Exact equality of the normalised values; an unanswered optional field counts as the
    value ``None``.
    """
    majority: dict[str, Any] = {}
    share: dict[str, float] = {}
    for f in schema.fields:
        answers = [v.get(f.name) for v in values]
        if not answers:
            continue
        counts = Counter(_key(a) for a in answers)
        best_key, best = counts.most_common(1)[0]
        majority[f.name] = next(a for a in answers if _key(a) == best_key)
        share[f.name] = best / len(answers)
    return majority, share


_PENDING = PENDING


def _candidates(project: Project, actor: Actor, after_id: int) -> Select[tuple[Task]]:
    query = select(Task).where(
        Task.project_id == project.id,
        Task.id > after_id,
        Task.gold.is_(None),
        Task.done >= project.overlap,
        exists().where(Annotation.task_id == Task.id, *_PENDING),
        ~exists().where(Annotation.task_id == Task.id, Annotation.user_id == actor.user_id),
        *review_scope(actor),  # a vendor reviewer: their own workforce's work only
    )
    if project.review_mode == "sample":
        cutoff = int(project.review_sample_rate * HASH_MOD)
        query = query.where((Task.id * HASH_MULT) % HASH_MOD < cutoff)
    return query.order_by(Task.id)


def pending_annotations(session: Session, task_id: int) -> list[Annotation]:
    return list(
        session.scalars(
            select(Annotation)
            .where(Annotation.task_id == task_id, *_PENDING)
            .order_by(Annotation.id)
        )
    )


def _item(session: Session, project: Project, schema: LabelSchema, task: Task) -> ReviewItem:
    anns = pending_annotations(session, task.id)
    majority, share = field_agreement(schema, [a.value for a in anns])
    emails = dict(
        session.execute(
            select(User.id, User.email).where(User.id.in_({a.user_id for a in anns}))
        ).all()
    )
    differs = {
        a.id: [name for name, best in majority.items() if _key(a.value.get(name)) != _key(best)]
        for a in anns
    }
    return ReviewItem(task, project, schema, anns, emails, majority, differs, share)


def _shown(session: Session, item: ReviewItem, expires_at: datetime) -> ReviewItem:
    """The item as the reviewer is shown it: leased until ``expires_at``, resubmissions
    after a rejection marked (read only for the item shown, not for every candidate)."""
    item.lease_expires_at = expires_at
    item.resubmitted = outcomes.earlier_rejections(
        session, {a.id: a.revision for a in item.annotations}
    )
    return item


def next_for_review(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    after_id: int = 0,
    now: datetime | None = None,
) -> ReviewItem | None:
    """The next task for this reviewer, leased to them so other reviewers are shown other
    tasks; None when nothing is left for them.

    The reviewer's own live lease comes first (a reload shows the same task). ``after_id``
    passes over tasks up to it (the page's Skip) and gives up the lease held until then.
    Needs a write transaction: it takes a lease.
    """
    actor = actor.in_project(project_id)
    actor.require(Role.reviewer, "review tasks")
    project = get_project(session, actor, project_id)
    if project.review_mode == "off":
        raise Conflict(
            "Review is off for this project; a manager can choose a review mode in Settings."
        )
    now = now or utcnow()
    schema = load_schema(session, project)
    if not after_id:
        for task_id, expires_at in leases.held(session, project.id, actor.user_id, now):
            task = session.scalars(_candidates(project, actor, 0).where(Task.id == task_id)).first()
            if task is not None:  # else: decided or changed since; the lease is moot
                return _shown(session, _item(session, project, schema, task), expires_at)
    leases.release_own(session, project.id, actor.user_id)
    query = _candidates(project, actor, after_id).where(~leases.leased_by_other(actor.user_id, now))
    disagreement = project.review_mode == "disagreement"

    def wanted(item: ReviewItem) -> bool:
        if not item.annotations:
            return False  # decided since the candidates were read
        threshold = project.review_agreement_threshold
        return not disagreement or any(s < threshold for s in item.agreement.values())

    # Disagreement needs the values: scan candidates in id order, a batch at a time.
    size = SCAN_BATCH if disagreement else LEASE_BATCH
    cursor = after_id
    while True:
        batch = list(session.scalars(query.where(Task.id > cursor).limit(size)))
        if not batch:
            return None
        for task in batch:
            if disagreement and not wanted(_item(session, project, schema, task)):
                continue
            expires_at = leases.take(
                session,
                project_id=project.id,
                task_id=task.id,
                reviewer_id=actor.user_id,
                now=now,
                seconds=project.lease_seconds,
            )
            if expires_at is None:
                continue  # another reviewer leased it since we looked
            # Read the item after taking the lease: on PostgreSQL the candidates may predate
            # a decision (and its lease release) that committed meanwhile; this read sees it.
            item = _item(session, project, schema, task)
            if not wanted(item) or not in_review_scope(session, actor, task.id):
                leases.release_own(session, project.id, actor.user_id)
                continue
            return _shown(session, item, expires_at)
        cursor = batch[-1].id


def _give_back_route_slots(session: Session, task_id: int, annotation_ids: list[int]) -> None:
    """A rejection reopens the rejected annotators' slots: in a routed project, for the
    workforces they were served the task in (see tasks/routing.py)."""
    rows = session.execute(
        select(Assignment.workforce_id, func.count())
        .join(Annotation, Annotation.user_id == Assignment.user_id)
        .where(
            Assignment.task_id == task_id,
            Annotation.task_id == task_id,
            Annotation.id.in_(annotation_ids),
            Assignment.workforce_id.is_not(None),
        )
        .group_by(Assignment.workforce_id)
    )
    for workforce_id, n in rows:
        queue.give_back_route_slots(session, task_id, workforce_id, n)


@dataclass
class ReviewLeaseRenewal:
    expires_at: datetime
    lease_seconds: int


def renew_lease(
    session: Session, actor: Actor, task_id: int, *, now: datetime | None = None
) -> ReviewLeaseRenewal:
    """Heartbeat of an open review page: the reviewer keeps the task shown for another full
    ``lease_seconds``, so reading a long task never lets another reviewer be handed it. A
    lease that ended (decided, or taken over after it ran out) is a Conflict saying so."""
    now = now or utcnow()
    task, row = get_task(session, actor, task_id)
    actor = actor.in_project(row.id)
    actor.require(Role.reviewer, "review tasks")
    project = get_project(session, actor, row.id)
    expires_at = leases.renew(
        session,
        task_id=task.id,
        reviewer_id=actor.user_id,
        now=now,
        seconds=project.lease_seconds,
    )
    if expires_at is None:
        raise Conflict(
            f"Your review lease on task {task_id} ended: the task was decided, or another "
            "reviewer was given it after your lease ran out. Load the next task."
        )
    return ReviewLeaseRenewal(expires_at, project.lease_seconds)


def decide(
    session: Session,
    actor: Actor,
    task_id: int,
    *,
    decision: str,
    reason: str | None = None,
    value: Any = None,
) -> Review:
    """Record a reviewer's decision on a finished task (see the module docstring)."""
    task, row = get_task(session, actor, task_id)
    actor = actor.in_project(row.id)
    actor.require(Role.reviewer, "review tasks")
    if not in_review_scope(session, actor, task.id):  # another workforce's or the lab's
        raise NotFound(f"Task {task_id} does not exist.")
    if decision not in DECISIONS:
        raise InvalidInput(
            "Unknown review decision.", [Problem("decision", f"use one of: {', '.join(DECISIONS)}")]
        )
    reason = (reason or "").strip() or None
    if decision == REJECT and reason is None:
        raise InvalidInput(
            "Say why the task is rejected; the reason helps the next annotators.",
            [Problem("reason", "required when rejecting")],
        )
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(
            "The reason is too long.", [Problem("reason", f"at most {MAX_REASON} characters")]
        )
    clean: dict[str, Any] | None = None
    if decision == CORRECT:
        if value is None:
            raise InvalidInput(
                "A correction needs the corrected value.", [Problem("value", "required")]
            )
        clean = load_schema(session, row).validate_annotation(value, task.data)
    elif value is not None:
        raise InvalidInput(
            "Only a correction carries a value.",
            [Problem("value", "send it with decision 'correct'")],
        )
    if task.gold is not None:
        raise Conflict("This is a gold task: its answers are checked against the expected value.")
    if task.done < row.overlap:
        raise Conflict(
            f"Task {task.id} is not finished ({task.done} of {row.overlap} annotations)."
        )
    pending = pending_annotations(session, task.id)
    if any(a.user_id == actor.user_id for a in pending):
        raise PermissionDenied("You annotated this task; someone else has to review it.")
    status = {ACCEPT: ACCEPTED, REJECT: REJECTED, CORRECT: CORRECTED}[decision]
    # Claim the pending annotations atomically: a second reviewer racing us updates none.
    marked = session.execute(
        update(Annotation)
        .where(Annotation.task_id == task.id, *_PENDING)
        .values(review_status=status)
        .returning(Annotation.id, Annotation.value, Annotation.revision)
        .execution_options(synchronize_session=False)
    ).all()
    if not marked:
        raise Conflict(f"Task {task.id} was already reviewed; ask for the next one.")
    agree: list[int] = []
    if decision == CORRECT:
        agree = [aid for aid, v, _ in marked if _key(v) == _key(clean)]
        if agree:
            session.execute(
                update(Annotation)
                .where(Annotation.id.in_(agree))
                .values(review_status=ACCEPTED)
                .execution_options(synchronize_session=False)
            )
    if decision == REJECT:
        n = len(marked)
        _give_back_route_slots(session, task.id, [aid for aid, _, _ in marked])
        session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(
                done=Task.done - n,
                taken=Task.taken - n,
                is_open=(Task.taken - n) < row.overlap,
            )
            .execution_options(synchronize_session=False)
        )
    leases.release_task(session, task.id)
    review = Review(
        project_id=row.id,
        task_id=task.id,
        reviewer_id=actor.user_id,
        decision=decision,
        reason=reason,
        value=clean,
    )
    session.add(review)
    session.flush()  # its id, for the outcomes
    outcomes.record(
        session,
        review.id,
        [(aid, revision, ACCEPTED if aid in agree else status) for aid, _, revision in marked],
    )
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action=f"review.{decision}",
        object_type="task",
        object_id=task.id,
        details={"annotations": len(marked)} | ({"reason": reason[:200]} if reason else {}),
    )
    session.flush()
    session.expire(task)
    return review


def reviews_of_task(session: Session, actor: Actor, task_id: int) -> list[Review]:
    task, _ = get_task(session, actor, task_id)
    actor = actor.in_project(task.project_id)
    actor.require(Role.reviewer, "see reviews")
    return list(
        session.scalars(select(Review).where(Review.task_id == task.id).order_by(Review.id))
    )


@dataclass
class ReviewStats:
    user_id: int
    email: str
    accepted: int = 0
    rejected: int = 0
    corrected: int = 0

    @property
    def reviewed(self) -> int:
        return self.accepted + self.rejected + self.corrected

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "corrected": self.corrected,
            "reviewed": self.reviewed,
            "acceptance_rate": self.acceptance_rate,
        }


def review_stats(session: Session, actor: Actor, project_id: int) -> list[ReviewStats]:
    """Per annotator: how many of their annotations review accepted, rejected, corrected."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see review statistics")
    project = get_project(session, actor, project_id)
    rows = session.execute(
        select(Annotation.user_id, User.email, Annotation.review_status, func.count())
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.project_id == project.id, Annotation.review_status.is_not(None))
        .group_by(Annotation.user_id, User.email, Annotation.review_status)
        .order_by(Annotation.user_id)
    )
    out: dict[int, ReviewStats] = {}
    for user_id, email, status, count in rows:
        stats = out.setdefault(user_id, ReviewStats(user_id, email))
        if status in (ACCEPTED, REJECTED, CORRECTED):
            setattr(stats, status, getattr(stats, status) + count)
    return list(out.values())
