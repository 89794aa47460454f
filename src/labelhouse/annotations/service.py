"""Submitting, drafting and updating annotations, keeping every revision.

A submission validates every field through its kind (all problems reported at once),
ties the annotation to the schema version in force, records the time spent, marks the
annotator's assignment submitted and counts the task's completion. Saving again exactly
what is already stored (a client retrying a request whose answer it lost) changes nothing:
no revision, no lead time added. An answer review rejected may be submitted again (fixed,
or even unchanged): a new revision that takes a slot on the task again and waits for
review, refused when others have filled the task since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, and_, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.db.base import utcnow
from labelhouse.db.prepared import Prepared
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.projects.service import load_schema
from labelhouse.tasks import queue, rework
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import ScopedTaskQuery, get_task

MAX_LEAD_TIME_MS = 24 * 3600 * 1000
DRAFT, SUBMITTED = "draft", "submitted"
REJECTED = "rejected"  # review status (the review package owns the decisions)


@dataclass
class Saved:
    """The annotation as saved, with an :class:`Annotation`'s columns: a plain object, as
    building an ORM instance (attribute instrumentation) cost more than the insert's SQL."""

    id: int
    project_id: int
    task_id: int
    user_id: int
    status: str
    value: Any
    schema_version: int
    revision: int
    lead_time_ms: int
    created_at: Any
    updated_at: Any
    review_status: str | None = None


@dataclass
class SaveResult:
    annotation: Saved
    created: bool
    unchanged: bool = False  # the same value saved again: nothing was written


def _lead_time(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidInput(
            "lead_time_ms must be a non-negative number of milliseconds.",
            [Problem("lead_time_ms", "expected a number >= 0")],
        )
    return int(min(value, MAX_LEAD_TIME_MS))


# Table-level (Core) statements, built once: this is the submit hot path.
_AN: Table = Annotation.__table__  # type: ignore[assignment]
_TASK: Table = Task.__table__  # type: ignore[assignment]
# The task, its project and the caller's own annotation (if any) in one statement.
_TASK_AND_OWN = ScopedTaskQuery.build(
    _AN.c.id,
    _AN.c.status,
    _AN.c.revision,
    _AN.c.lead_time_ms,
    _AN.c.created_at,
    _AN.c.review_status,
    _AN.c.value,
    _AN.c.schema_version,
    _AN.c.updated_at,
    outerjoin=(_AN, and_(_AN.c.task_id == _TASK.c.id, _AN.c.user_id == bindparam("uid"))),
)


@dataclass
class _Own:
    id: int
    status: str
    revision: int
    lead_time_ms: int
    created_at: Any
    review_status: str | None
    value: Any
    schema_version: int
    updated_at: Any

    def holds(self, status: str, value: Any, schema_version: int) -> bool:
        """Whether saving this would store exactly what is stored already."""
        return (
            self.status == status
            and self.schema_version == schema_version
            and _canonical(self.value) == _canonical(value)
        )

    def as_annotation(self, project_id: int, task_id: int, user_id: int) -> Saved:
        return Saved(
            id=self.id,
            project_id=project_id,
            task_id=task_id,
            user_id=user_id,
            status=self.status,
            review_status=self.review_status,
            value=self.value,
            schema_version=self.schema_version,
            revision=self.revision,
            lead_time_ms=self.lead_time_ms,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys: a stored value read back compares equal to the value it was
    made from (tuples and lists alike), and ``True`` never equals ``1``."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# Run on the cursor (labelhouse.db.prepared): the submit's statements, all but the queue's.
_COUNT_DONE = Prepared(
    update(_TASK).where(_TASK.c.id == bindparam("tid")).values(done=_TASK.c.done + 1)
)
_INSERT = Prepared(insert(_AN).returning(_AN.c.id))
_UPDATE = Prepared(
    update(_AN)
    .where(_AN.c.id == bindparam("aid"))
    .values(
        revision=bindparam("revision"),
        status=bindparam("status"),
        value=bindparam("value"),
        schema_version=bindparam("schema_version"),
        lead_time_ms=bindparam("lead_time_ms"),
        updated_at=bindparam("updated_at"),
        review_status=None,  # an edited answer is a new answer: it waits for review again
    )
)
_INSERT_REVISION = Prepared(insert(AnnotationRevision.__table__))
# PostgreSQL runs a data-modifying WITH in the same statement: the submit's common path in
# two statements instead of four (each is a round trip, ~80 µs of the app's CPU).
_closed = queue.CLOSE_LEASE.cte("closed")
_CLOSE_LEASE_COUNTING_DONE = Prepared(  # the live lease closed, and the answer counted
    update(_TASK)
    .where(_TASK.c.id == bindparam("tid"), exists(select(_closed.c.id)))
    .values(done=_TASK.c.done + 1)
    .returning(_TASK.c.id)
)
_REVISION: Table = AnnotationRevision.__table__  # type: ignore[assignment]
_NEW_KEYS = (
    "project_id",
    "task_id",
    "user_id",
    "status",
    "value",
    "schema_version",
    "revision",
    "lead_time_ms",
    "created_at",
    "updated_at",
)
_REVISION_KEYS = ("revision", "status", "value", "schema_version", "lead_time_ms", "created_at")
_new = (
    insert(_AN)
    .values({k: bindparam(k, type_=_AN.c[k].type) for k in _NEW_KEYS})
    .returning(_AN.c.id, *(_AN.c[k] for k in _REVISION_KEYS))
    .cte("new")
)
_INSERT_WITH_REVISION = Prepared(  # a new annotation and its first revision, as one
    insert(_REVISION)
    .from_select(
        ["annotation_id", *_REVISION_KEYS], select(_new.c.id, *(_new.c[k] for k in _REVISION_KEYS))
    )
    .returning(_REVISION.c.annotation_id)
)
# A first submission with a live lease, the common case, in one statement: the lease closed,
# the answer counted, the annotation stored with its first revision. A statement is atomic,
# so a hot unit of work runs it as its own transaction (db/deferred_begin.py): with the
# read before it, a submit is two round trips instead of five. No row when the caller held
# no live lease: then nothing was written, and the submission goes the long way. The new
# row's values are bound as "v_<column>": a parameter named as a column would also be SET by
# the UPDATEs in the same statement (SQLAlchemy reads parameter names as columns for every
# DML in it).
_counted = (
    update(_TASK)
    .where(_TASK.c.id == bindparam("tid"), exists(select(_closed.c.id)))
    .values(done=_TASK.c.done + 1)
    .returning(_TASK.c.id)
    .cte("counted")
)
_stored = (
    insert(_AN)
    .from_select(
        list(_NEW_KEYS),
        select(*(bindparam(f"v_{k}", type_=_AN.c[k].type) for k in _NEW_KEYS)).where(
            exists(select(_counted.c.id))
        ),
    )
    .returning(_AN.c.id, *(_AN.c[k] for k in _REVISION_KEYS))
    .cte("stored")
)
_SUBMIT_FIRST = Prepared(
    insert(_REVISION)
    .from_select(
        ["annotation_id", *_REVISION_KEYS],
        select(_stored.c.id, *(_stored.c[k] for k in _REVISION_KEYS)),
    )
    .returning(_REVISION.c.annotation_id),
    standalone=True,
)


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
    task, project, own = _TASK_AND_OWN.fetch(session, actor, task_id)
    existing = None if own[0] is None else _Own(*own)
    schema = load_schema(session, project)
    clean = schema.validate_annotation(value, task.data, draft=draft)
    conn = session.connection()
    is_pg = conn.dialect.name == "postgresql"
    # Review rejected it and gave its slot back: submitting it again (fixed, or as it was)
    # is a resubmission, which needs a slot again (tasks/rework.py) and a new review.
    returned = existing is not None and existing.review_status == REJECTED
    status = DRAFT if draft else SUBMITTED
    if draft:
        if existing is not None and existing.status == SUBMITTED:
            raise Conflict("This annotation is already submitted; submit the change instead.")
        queue.extend(session, actor, task.id)  # a draft needs a live lease, and renews it
    if (
        not returned
        and existing is not None
        and existing.holds(status, clean, project.schema_version)
    ):
        # A retry of a save whose answer was lost: it is stored already (and its lead time
        # counted); a second revision would double both.
        annotation = existing.as_annotation(project.id, task.id, actor.user_id)
        return SaveResult(annotation=annotation, created=False, unchanged=True)
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "value": clean,
        "schema_version": project.schema_version,
        "updated_at": now,
    }
    new: dict[str, Any] | None = None
    if existing is None:
        values |= {"revision": 1, "lead_time_ms": spent, "created_at": now}
        new = {**values, "project_id": project.id, "task_id": task.id, "user_id": actor.user_id}
    closing = {"tid": task.id, "uid": actor.user_id, "now": now}
    first_on_lease = is_pg and not draft and new is not None
    if first_on_lease and new is not None:
        stored = {f"v_{k}": v for k, v in new.items()}
        row = _SUBMIT_FIRST.first(conn, stored | closing)
        if row is not None:
            return SaveResult(annotation=Saved(id=row[0], **new), created=True)
    if returned:
        rework.take_slot_again(session, actor, project, task.id)  # Conflict when it is full
        _COUNT_DONE.execute(conn, {"tid": task.id})
    elif not draft:
        # (a first submission here found no live lease above: the long way at once)
        if not first_on_lease and is_pg and _CLOSE_LEASE_COUNTING_DONE.first(conn, closing):
            pass  # a live lease (a draft's before), closed and counted in one statement
        elif queue.mark_submitted(session, actor, project, task.id):
            _COUNT_DONE.execute(conn, {"tid": task.id})
    together = new is not None and is_pg  # the revision is a copy of the new row's values
    if together:
        (annotation_id,) = _INSERT_WITH_REVISION.execute(conn, new)[0]
    elif new is not None:
        (annotation_id,) = _INSERT.execute(conn, new)[0]
    else:
        assert existing is not None
        annotation_id = existing.id
        values |= {
            "revision": existing.revision + 1,
            "lead_time_ms": existing.lead_time_ms + spent,
            "created_at": existing.created_at,
        }
        _UPDATE.execute(
            conn,
            {**{k: v for k, v in values.items() if k != "created_at"}, "aid": annotation_id},
        )
    if not together:
        _INSERT_REVISION.execute(
            conn,
            {
                "annotation_id": annotation_id,
                "revision": values["revision"],
                "status": status,
                "value": clean,
                "schema_version": project.schema_version,
                "lead_time_ms": spent,
                "created_at": now,
            },
        )
    annotation = Saved(
        id=annotation_id, project_id=project.id, task_id=task.id, user_id=actor.user_id, **values
    )
    return SaveResult(annotation=annotation, created=existing is None)


def own_annotations(session: Session, actor: Actor, task_id: int) -> list[Annotation]:
    """The actor's own annotation of a task (a list of at most one), without a scope check:
    callers have already resolved the task through a scoped lookup."""
    return list(
        session.scalars(
            select(Annotation).where(
                Annotation.task_id == task_id, Annotation.user_id == actor.user_id
            )
        )
    )


def annotations_of_task(session: Session, actor: Actor, task_id: int) -> list[Annotation]:
    """All annotations for reviewers and up; annotators see only their own (vendor isolation)."""
    task, _ = get_task(session, actor, task_id)
    actor = actor.in_project(task.project_id)
    query = select(Annotation).where(Annotation.task_id == task.id)
    if not actor.sees_whole_project:
        query = query.where(Annotation.user_id == actor.user_id)
    return list(session.scalars(query.order_by(Annotation.id)))


def history(session: Session, actor: Actor, annotation_id: int) -> list[AnnotationRevision]:
    missing = NotFound(f"Annotation {annotation_id} does not exist.")
    annotation = session.get(Annotation, annotation_id)
    if annotation is None:
        raise missing
    try:
        task, _ = get_task(session, actor, annotation.task_id)  # scopes to org and project
    except NotFound:
        raise missing from None  # the same answer as a missing one; never name the task
    actor = actor.in_project(task.project_id)
    if not actor.sees_whole_project and annotation.user_id != actor.user_id:
        raise missing
    return list(
        session.scalars(
            select(AnnotationRevision)
            .where(AnnotationRevision.annotation_id == annotation.id)
            .order_by(AnnotationRevision.revision)
        )
    )
