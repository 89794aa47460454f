"""The work queue: hands each task to ``overlap`` distinct annotators, never twice by accident.

Invariants, enforced by the database and not just by this code:
- one ``assignment`` row per (task, user) — a unique constraint, so no one gets a task twice;
- at most one active lease per (project, user) — a partial unique index;
- ``task.taken`` (active leases + submissions) never exceeds the project's overlap: the
  claim locks the task row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite every write
  transaction is ``BEGIN IMMEDIATE``, so claims are serialised) before incrementing it.
Expired leases are reclaimed lazily by the next claim in the project (indexed, cheap).
Gold tasks (``tasks/gold.py``) have no overlap limit and are never ``is_open``: they are
handed out by the gold rule only, and every counter update below keeps them closed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.db.dialect import insert_ignoring_conflicts, relaxed_durability_column
from labelhouse.errors import Conflict, NotFound
from labelhouse.projects.models import Project
from labelhouse.projects.service import PROJECT_ROW_TABLE_COLUMNS, ProjectRow, update_settings
from labelhouse.tasks.gold import REOPEN_ALL, open_expr, pick_gold
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.service import TASK_ROW_COLUMNS, TaskRow

LEASED, SUBMITTED, SKIPPED, EXPIRED = "leased", "submitted", "skipped", "expired"


@dataclass
class Lease:
    project: ProjectRow
    task: TaskRow
    assignment_id: int
    expires_at: datetime
    created: bool


# Statements are built once: on the hot path, building SQLAlchemy expressions per call
# costs more than running them.
# Table-level (Core) statements skip the ORM's bulk-persistence machinery.
_T: Table = Task.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]
_ADJUST_TAKEN = (
    update(_T)
    .where(_T.c.id == bindparam("tid"))
    .values(
        taken=_T.c.taken + bindparam("delta"),
        is_open=open_expr(_T.c.taken + bindparam("delta"), bindparam("overlap")),
    )
)
_EXPIRE = (
    update(_A)
    .where(
        _A.c.project_id == bindparam("pid"),
        _A.c.status == LEASED,
        _A.c.expires_at < bindparam("now"),
    )
    .values(status=EXPIRED, finished_at=bindparam("now"))
    .returning(_A.c.task_id)
)
_P: Table = Project.__table__  # type: ignore[assignment]
# The project (scoped to the caller's organization), the caller's lease in it, if any (the
# partial unique index allows at most one, so the outer join gives one row), and whether
# any lease in the project has expired (an index probe: the sweep runs only when needed).
_stale = _A.alias("stale")
_ANY_EXPIRED = (
    exists()
    .where(
        _stale.c.project_id == _P.c.id,
        _stale.c.status == LEASED,
        _stale.c.expires_at < bindparam("now"),
    )
    .correlate(_P)
)
_PROJECT_AND_HELD = (
    select(
        *PROJECT_ROW_TABLE_COLUMNS,
        _A.c.id,
        _A.c.task_id,
        _A.c.expires_at,
        _ANY_EXPIRED.label("any_expired"),
    )
    .select_from(
        _P.outerjoin(
            _A,
            and_(
                _A.c.project_id == _P.c.id,
                _A.c.user_id == bindparam("uid"),
                _A.c.status == LEASED,
            ),
        )
    )
    .where(_P.c.id == bindparam("pid"), _P.c.organization_id == bindparam("org"))
)
_PROJECT_AND_HELD_RELAXED = _PROJECT_AND_HELD.add_columns(relaxed_durability_column())
_N_PROJECT = len(PROJECT_ROW_TABLE_COLUMNS)
_CURRENT_LEASE = select(_A.c.id, _A.c.task_id, _A.c.expires_at).where(
    _A.c.project_id == bindparam("pid"),
    _A.c.user_id == bindparam("uid"),
    _A.c.status == LEASED,
)
_CANDIDATE = (
    select(*TASK_ROW_COLUMNS)
    .where(
        _T.c.project_id == bindparam("pid"),
        _T.c.is_open.is_(True),
        ~exists().where(_A.c.task_id == _T.c.id, _A.c.user_id == bindparam("uid")),
    )
    .order_by(_T.c.is_open, _T.c.id)  # see _FIRST_OPEN
    .limit(1)
)
_CANDIDATE_PG = _CANDIDATE.with_for_update(skip_locked=True, of=_T)
# Keyed by "is PostgreSQL": the dialect's INSERT … ON CONFLICT DO NOTHING, built once.
_LEASE_INSERT = {
    is_pg: insert_ignoring_conflicts(dialect, _A, None).returning(_A.c.id)
    for is_pg, dialect in ((True, "postgresql"), (False, "sqlite"))
}
# Pick the first open task the caller has not had and take a slot on it, in one statement
# (for projects without gold tasks; the gold rule needs to look before it takes).
_candidate = _T.alias("candidate")
_FIRST_OPEN = (
    select(_candidate.c.id)
    .where(
        _candidate.c.project_id == bindparam("pid"),
        _candidate.c.is_open.is_(True),
        ~exists().where(_A.c.task_id == _candidate.c.id, _A.c.user_id == bindparam("uid")),
    )
    # Ordered by (is_open, id), not just id: that order only the queue index gives, so
    # PostgreSQL cannot walk the primary key instead, filtering past every closed task
    # (its statistics think most tasks are open until the next ANALYZE; 3.3 ms vs 0.4 ms
    # per claim with 5,000 tasks done). is_open is constant here, so the order is by id.
    .order_by(_candidate.c.is_open, _candidate.c.id)
    .limit(1)
)
_TAKE_FIRST_OPEN = {
    is_pg: update(_T)
    .where(_T.c.id == first.scalar_subquery())
    .values(taken=_T.c.taken + 1, is_open=open_expr(_T.c.taken + 1, bindparam("overlap")))
    .returning(*TASK_ROW_COLUMNS)
    for is_pg, first in (
        (True, _FIRST_OPEN.with_for_update(skip_locked=True)),
        (False, _FIRST_OPEN),
    )
}
_TASK_BY_ID = select(*TASK_ROW_COLUMNS).where(_T.c.id == bindparam("tid"))


def _adjust_taken(
    session: Session, project: ProjectRow | Project, task_id: int, delta: int
) -> None:
    params = {"tid": task_id, "delta": delta, "overlap": project.overlap}
    session.connection().execute(_ADJUST_TAKEN, params)


def expire_stale_leases(session: Session, project: ProjectRow, now: datetime) -> int:
    """Return expired leases' slots to the queue. Safe under concurrency: the UPDATE's row
    locks mean each lease is expired (and its slot returned) exactly once."""
    result = session.connection().execute(_EXPIRE, {"pid": project.id, "now": now})
    task_ids = result.scalars().all()
    for task_id, count in Counter(task_ids).items():
        _adjust_taken(session, project, task_id, -count)
    return len(task_ids)


def _held(session: Session, project_id: int, user_id: int) -> Any:
    return session.connection().execute(_CURRENT_LEASE, {"pid": project_id, "uid": user_id}).first()


def _task_row(session: Session, task_id: int) -> TaskRow:
    row = session.connection().execute(_TASK_BY_ID, {"tid": task_id}).one()
    return TaskRow(*row)


Gate = Callable[[Session, Actor, ProjectRow], None]


def claim_next(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    now: datetime | None = None,
    gate: Gate | None = None,
    durable: bool = True,
) -> Lease | None:
    """Give the actor a task and a lease, or None when nothing is left for them.

    ``gate`` runs before a *new* lease is made and may raise to refuse one (layers above
    pass the gold-accuracy pause check this way; a held lease is always given back).
    ``durable=False`` is :func:`~labelhouse.db.dialect.relax_durability` for the whole
    transaction, folded into the first statement: only for a transaction that does nothing
    but this claim (a lease lost in a crash just returns its task to the queue).
    Three statements on the common path: project + held lease + "anything expired?", take a
    slot, insert the lease.
    """
    actor.in_project(project_id)  # NotFound unless the actor may work in it
    now = now or utcnow()
    conn = session.connection()
    is_pg = conn.dialect.name == "postgresql"
    params = {"pid": project_id, "org": actor.organization_id, "uid": actor.user_id, "now": now}
    first = _PROJECT_AND_HELD if durable or not is_pg else _PROJECT_AND_HELD_RELAXED
    row = conn.execute(first, params).first()
    if row is None:
        raise NotFound(f"Project {project_id} does not exist.")
    project = ProjectRow(*row[:_N_PROJECT])
    if project.archived:
        raise Conflict("This project is archived; it hands out no more work.")
    held_id, held_task, held_expires, any_expired = row[_N_PROJECT : _N_PROJECT + 4]
    if held_id is not None and held_expires > now:
        return Lease(project, _task_row(session, held_task), held_id, held_expires, False)
    if gate is not None:
        gate(session, actor, project)
    if any_expired:
        expire_stale_leases(session, project, now)
    task = _take_slot(session, project, actor.user_id, is_pg)
    if task is None:
        return None
    expires_at = now + timedelta(seconds=project.lease_seconds)
    # ON CONFLICT DO NOTHING: if the same annotator raced us to a lease (PostgreSQL; SQLite
    # serialises writers), the partial unique index stops the second one and we return the
    # lease that won instead (giving back the slot just taken).
    lease = {
        "project_id": project.id,
        "task_id": task.id,
        "user_id": actor.user_id,
        "status": LEASED,
        "leased_at": now,
        "expires_at": expires_at,
    }
    assignment_id = conn.execute(_LEASE_INSERT[is_pg], lease).scalar()
    if assignment_id is None:
        _adjust_taken(session, project, task.id, -1)
        held = _held(session, project.id, actor.user_id)
        if held is None:
            raise Conflict("Could not lease a task; try again.")
        won = _task_row(session, held.task_id)
        return Lease(project, won, held.id, held.expires_at, created=False)
    return Lease(project, task, assignment_id, expires_at, created=True)


def _take_slot(session: Session, project: ProjectRow, user_id: int, is_pg: bool) -> TaskRow | None:
    """Choose the caller's next task and count them on it (``taken`` + 1), or None."""
    conn = session.connection()
    params = {"pid": project.id, "uid": user_id, "overlap": project.overlap}
    if project.gold_rate <= 0 and project.gold_first_n <= 0:
        row = conn.execute(_TAKE_FIRST_OPEN[is_pg], params).first()
        return None if row is None else TaskRow(*row)
    row = conn.execute(_CANDIDATE_PG if is_pg else _CANDIDATE, params).first()
    if row is None:
        return None  # gold tasks only while ordinary work remains (see tasks/gold.py)
    task = pick_gold(session, project, user_id) or TaskRow(*row)
    _adjust_taken(session, project, task.id, +1)
    task.taken += 1  # mirror the UPDATE without another round trip
    task.is_open = task.taken < project.overlap and task.gold is None
    return task


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
    if row is None or not actor.can_see_project(row[1].id):
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


_MARK_SUBMITTED = (
    update(_A)
    .where(
        _A.c.task_id == bindparam("tid"),
        _A.c.user_id == bindparam("uid"),
        _A.c.status.in_([LEASED, EXPIRED, SKIPPED]),
    )
    .values(status=SUBMITTED, finished_at=bindparam("now"))
    .returning(_A.c.status)
)
_ASSIGNMENT_STATUS = select(_A.c.status).where(
    _A.c.task_id == bindparam("tid"), _A.c.user_id == bindparam("uid")
)
_TAKE_FREE_SLOT = (
    update(_T)
    .where(
        _T.c.id == bindparam("tid"),
        or_(_T.c.taken < bindparam("overlap"), _T.c.gold.is_not(None)),
    )
    .values(taken=_T.c.taken + 1, is_open=open_expr(_T.c.taken + 1, bindparam("overlap")))
    .returning(_T.c.id)
)


_CLOSE_LEASE = (
    update(_A)
    .where(
        _A.c.task_id == bindparam("tid"), _A.c.user_id == bindparam("uid"), _A.c.status == LEASED
    )
    .values(status=SUBMITTED, finished_at=bindparam("now"))
    .returning(_A.c.id)
)


def mark_submitted(session: Session, actor: Actor, project: ProjectRow, task_id: int) -> bool:
    """Record the annotator's submission in the queue; True if it is their first one.

    With a live (or still unreclaimed) lease this just closes it. If the lease expired or
    was skipped, or there never was one, a free slot is taken atomically; when none is left
    this raises Conflict, so a late submit can never over-assign a task.
    """
    now = utcnow()
    params = {"tid": task_id, "uid": actor.user_id}
    conn = session.connection()
    if conn.execute(_CLOSE_LEASE, {**params, "now": now}).first() is not None:
        return True  # the common case: one statement
    status = conn.execute(_ASSIGNMENT_STATUS, params).scalar()
    if status == SUBMITTED:
        return False
    taken = conn.execute(_TAKE_FREE_SLOT, {"tid": task_id, "overlap": project.overlap})
    if taken.first() is None:
        raise Conflict(
            "Your lease on this task expired and it already has enough annotators; "
            "ask for the next task."
        )
    if status is None:
        session.execute(
            insert(_A).values(
                project_id=project.id,
                task_id=task_id,
                user_id=actor.user_id,
                status=SUBMITTED,
                leased_at=now,
                expires_at=now,
                finished_at=now,
            )
        )
    else:
        session.execute(_MARK_SUBMITTED, {**params, "now": now})
    return True


def update_project(
    session: Session, actor: Actor, project_id: int, changes: dict[str, Any]
) -> Project:
    """Change project settings and keep the queue consistent: a new ``overlap`` re-opens
    tasks that now need more annotators (or closes those that have enough)."""
    project = update_settings(session, actor, project_id, changes)
    if "overlap" in changes:
        session.execute(REOPEN_ALL, {"pid": project.id, "overlap": project.overlap})
    return project


_END_LEASES = (
    update(_A)
    .where(
        _A.c.project_id == bindparam("pid"),
        _A.c.user_id == bindparam("uid"),
        _A.c.status == LEASED,
    )
    .values(status=EXPIRED, finished_at=bindparam("now"))
    .returning(_A.c.task_id)
)


def end_leases(session: Session, *, project_id: int, user_ids: list[int]) -> int:
    """End these people's live leases in the project at once (they lost access): each task
    goes back to the queue. Returns how many leases ended."""
    if not user_ids:
        return 0
    project = session.get(Project, project_id)
    if project is None:
        return 0
    now = utcnow()
    ended = 0
    conn = session.connection()
    for user_id in user_ids:
        task_ids = conn.execute(
            _END_LEASES, {"pid": project_id, "uid": user_id, "now": now}
        ).scalars()
        for task_id in task_ids.all():
            _adjust_taken(session, project, task_id, -1)
            ended += 1
    return ended
