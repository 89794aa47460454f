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
The order in which open tasks are tried is the project's ``queue_order``
(``tasks/queue_order.py``: import order, priority or uncertainty); it changes only which
task a claim looks at first, never the rules above.
On PostgreSQL a claim made while another is in flight in the same process walks one lane
(``id % CLAIM_LANES``, index ix_task_lane) of the default order from a recent floor instead
of the whole head (tasks/claim_lanes.py, issue 18); an empty lane falls back to the head
walk, so "nothing" still means nothing.
Routed projects (``tasks/routing.py``) narrow who may take a slot: a workforce's people
take slots of the tasks routed to it (``task_route.taken`` < ``quota``, moved with
``task.taken`` in the same transaction), vendors nothing else; the ``task.taken`` cap
above still holds, so routing can never over-assign a task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.db.dialect import insert_ignoring_conflicts, relaxed_durability_column
from labelhouse.db.engine import bound_lock_waits
from labelhouse.db.prepared import Prepared
from labelhouse.errors import Conflict, NotFound
from labelhouse.projects.models import Project
from labelhouse.projects.service import PROJECT_ROW_TABLE_COLUMNS, ProjectRow, update_settings
from labelhouse.projects.skip_reasons import clean_skip
from labelhouse.tasks.claim_lanes import LANES, Lane
from labelhouse.tasks.gold import REOPEN_ALL, open_expr, pick_gold
from labelhouse.tasks.models import CLAIM_LANES, Assignment, Prediction, Task, TaskRoute
from labelhouse.tasks.queue_order import rerank
from labelhouse.tasks.service import TASK_ROW_COLUMNS, TaskRow
from labelhouse.tasks.visibility import claim_params, hidden_by_params

LEASED, SUBMITTED, SKIPPED, EXPIRED = "leased", "submitted", "skipped", "expired"


@dataclass
class Lease:
    project: ProjectRow
    task: TaskRow
    assignment_id: int
    expires_at: datetime
    created: bool
    hold: int = 0  # how often this lease was served again: see :func:`hold_token`
    any_predictions: bool = True  # False: the project has none, the task's need no lookup

    @property
    def hold_token(self) -> str:
        return hold_token(self.assignment_id, self.hold)


def hold_token(assignment_id: int, hold: int) -> str:
    """What names one page's hold on a lease: ``/next`` hands it out, and a release that
    carries it gives the lease back only if no page was served the lease since. A reload's
    closing beacon can land after the reloaded page took the same lease again; with the
    token it no longer takes the lease from under the new page. The assignment id is part
    of it because a released task may later be leased to the same person again."""
    return f"{assignment_id}.{hold}"


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
_ADJUST_TAKEN_NOW = Prepared(_ADJUST_TAKEN)
_EXPIRE = (
    update(_A)
    .where(
        _A.c.project_id == bindparam("pid"),
        _A.c.status == LEASED,
        _A.c.expires_at < bindparam("now"),
    )
    .values(status=EXPIRED, finished_at=bindparam("now"))
    .returning(_A.c.task_id, _A.c.workforce_id)
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
# Whether the project has any gold task (ix_task_gold, a partial index: one probe). Without
# one the gold rule has nothing to serve, and a claim takes its task in one statement.
_gold = _T.alias("gold")
_ANY_GOLD = exists().where(_gold.c.project_id == _P.c.id, _gold.c.gold.is_not(None)).correlate(_P)
# Whether the project has any prediction (ix_prediction_project: one probe): without one,
# /next does not look for the task's.
_ANY_PREDICTION = exists().where(Prediction.project_id == _P.c.id).correlate(_P)
_PROJECT_AND_HELD = (
    select(
        *PROJECT_ROW_TABLE_COLUMNS,
        _A.c.id,
        _A.c.task_id,
        _A.c.expires_at,
        _ANY_EXPIRED.label("any_expired"),
        _ANY_GOLD.label("any_gold"),
        _ANY_PREDICTION.label("any_prediction"),
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
# The claim's statements on the common path run on the DBAPI cursor (db/prepared.py).
# A read: in a hot unit it runs before any transaction begins (db/deferred_begin.py).
_FIRST_STATEMENT = {
    relaxed: Prepared(_PROJECT_AND_HELD_RELAXED if relaxed else _PROJECT_AND_HELD, standalone=True)
    for relaxed in (False, True)
}
_CURRENT_LEASE = select(_A.c.id, _A.c.task_id, _A.c.expires_at).where(
    _A.c.project_id == bindparam("pid"),
    _A.c.user_id == bindparam("uid"),
    _A.c.status == LEASED,
)
_SERVED_AGAIN = (
    update(_A).where(_A.c.id == bindparam("aid")).values(hold=_A.c.hold + 1).returning(_A.c.hold)
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


def _ranked(query: Select[Any], table: Any = _T) -> Select[Any]:
    """``query`` in the order of ``queue_rank`` (tasks/queue_order.py), ties by id: the
    walk of ix_task_queue_rank (project_id, is_open, queue_rank, id), as the default order
    walks ix_task_queue."""
    return query.order_by(None).order_by(table.c.is_open, table.c.queue_rank, table.c.id)


# Every choosing statement below comes in two orders, keyed by "ranked" (the project's
# queue_order is not "default"); the rules that make a claim safe are the same in both.
_CANDIDATES_BY = {False: _CANDIDATE, True: _ranked(_CANDIDATE)}
_CANDIDATE_PG = {r: q.with_for_update(skip_locked=True, of=_T) for r, q in _CANDIDATES_BY.items()}
_FIRST_CANDIDATE = {  # keyed by (is PostgreSQL, ranked)
    (is_pg, r): Prepared(_CANDIDATE_PG[r] if is_pg else _CANDIDATES_BY[r])
    for is_pg in (True, False)
    for r in (False, True)
}
# Keyed by "is PostgreSQL": the dialect's INSERT … ON CONFLICT DO NOTHING, built once.
_LEASE_INSERT = {
    is_pg: Prepared(insert_ignoring_conflicts(dialect, _A, None).returning(_A.c.id))
    for is_pg, dialect in ((True, "postgresql"), (False, "sqlite"))
}
# Pick the first open task the caller has not had and take a slot on it, in one statement
# (for projects without gold tasks; the gold rule needs to look before it takes).
_candidate = _T.alias("candidate")
_FIRST_OPEN_BY_ID = (
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
_FIRST_OPEN = {False: _FIRST_OPEN_BY_ID, True: _ranked(_FIRST_OPEN_BY_ID, _candidate)}


def _take_first(first: Select[Any]) -> Any:
    return (
        update(_T)
        .where(_T.c.id == first.scalar_subquery())
        .values(taken=_T.c.taken + 1, is_open=open_expr(_T.c.taken + 1, bindparam("overlap")))
        .returning(*TASK_ROW_COLUMNS)
    )


_TAKE_FIRST_OPEN = {r: Prepared(_take_first(first)) for r, first in _FIRST_OPEN.items()}  # SQLite
# PostgreSQL's SKIP LOCKED also skips a row that another transaction has locked for a
# moment without taking it (a submit updating its counters, a lease ending): when it finds
# nothing, the claim asks again waiting for such locks, so that "nothing left" means it
# (a locked row that is no longer open when its lock goes is passed over: the executor
# re-checks it and reads on). Only on an empty answer: the common path never waits. The
# wait is bounded by the lock timeout (``bound_lock_waits``); running out raises Busy, a
# "busy, try again" (503), never a "nothing left".
_TAKE_FIRST_OPEN_WAITING = {
    r: _take_first(first.with_for_update()) for r, first in _FIRST_OPEN.items()
}
_CANDIDATE_PG_WAITING = {r: q.with_for_update(of=_T) for r, q in _CANDIDATES_BY.items()}


# -- claim lanes (PostgreSQL, default order: tasks/claim_lanes.py) -------------------------
def _in_lane(table: Any) -> Any:
    """The lane expression, spelled as ix_task_lane's (a literal, not a bound parameter,
    or the planner cannot match the index)."""
    return table.c.id % literal_column(str(CLAIM_LANES))


def _lane_walk(query: Select[Any], table: Any) -> Select[Any]:
    """``query`` narrowed to one lane from the floor on, in ix_task_lane's order
    (``is_open`` bare: the index's predicate, so the planner can prove it)."""
    return (
        query.where(
            table.c.is_open,
            _in_lane(table) == bindparam("lane"),
            table.c.id >= bindparam("floor"),
        )
        .order_by(None)
        .order_by(_in_lane(table), table.c.id)
    )


_CANDIDATE_IN_LANE = Prepared(_lane_walk(_CANDIDATE, _T).with_for_update(skip_locked=True, of=_T))
# The floor: the project's lowest open id, ordered (is_open, id) as _FIRST_OPEN_BY_ID so that
# it is ix_task_queue's first live open entry (min(id) may walk the primary key instead).
_OPEN_FLOOR = Prepared(
    select(_T.c.id)
    .where(_T.c.project_id == bindparam("pid"), _T.c.is_open.is_(True))
    .order_by(_T.c.is_open, _T.c.id)
    .limit(1),
    standalone=True,
)


# -- the claim in one statement (PostgreSQL, the common path) -----------------------------
# Pick the first open task the caller has not had (locking it, skipping others' locks),
# lease it to them and count them on it, in one statement. A statement is atomic, so a hot
# unit of work runs it as its own transaction (db/deferred_begin.py): with the first
# statement's read, a claim is two round trips instead of six. The lease goes in first, ON
# CONFLICT DO NOTHING: when the caller's own other request leased meanwhile (one live lease
# per annotator) nothing is inserted and so nothing counted, with no slot to give back. Its
# row: (picked id, lease id, the task's row as counted[, relaxed durability]); no row when
# nothing was open, a null lease id when the caller already held one. The lease's values
# are bound as "v_<column>": a parameter named as a column would also be SET by the UPDATE
# in the same statement (SQLAlchemy reads parameter names as columns for every DML in it).
_LEASE_KEYS = ("project_id", "user_id", "status", "leased_at", "expires_at", "hold", "workforce_id")


def _lease_first(first: Select[Any], relaxed: bool) -> Prepared:
    pick = first.cte("pick").prefix_with("MATERIALIZED")  # one pick, read twice
    values = select(pick.c.id, *(bindparam(f"v_{k}", type_=_A.c[k].type) for k in _LEASE_KEYS))
    lease = (
        insert_ignoring_conflicts("postgresql", _A, None)
        .from_select(["task_id", *_LEASE_KEYS], values)
        .returning(_A.c.id, _A.c.task_id)
        .cte("lease")
    )
    taken = (
        update(_T)
        .where(_T.c.id == lease.c.task_id)
        .values(taken=_T.c.taken + 1, is_open=open_expr(_T.c.taken + 1, bindparam("overlap")))
        .returning(*TASK_ROW_COLUMNS)
        .cte("taken")
    )
    columns = [pick.c.id, lease.c.id, *taken.c]
    if relaxed:
        columns.append(relaxed_durability_column())
    joined = pick.outerjoin(lease, true()).outerjoin(taken, true())
    return Prepared(select(*columns).select_from(joined), standalone=True)


_LEASE_FIRST_OPEN = {  # keyed by (ranked, relaxed)
    (r, relaxed): _lease_first(first.with_for_update(skip_locked=True), relaxed)
    for r, first in _FIRST_OPEN.items()
    for relaxed in (False, True)
}
_LEASE_FIRST_IN_LANE = {  # keyed by relaxed
    relaxed: _lease_first(
        _lane_walk(_FIRST_OPEN_BY_ID, _candidate).with_for_update(skip_locked=True), relaxed
    )
    for relaxed in (False, True)
}


def _lane_params(session: Session, project_id: int, lane: Lane) -> dict[str, Any] | None:
    """The lane walk's parameters, reading the floor first when asked to; None when there
    is no open task at all (the head walk then says so)."""
    floor = lane.floor
    if floor is None:
        row = _OPEN_FLOOR.first(session.connection(), {"pid": project_id})
        floor = None if row is None else row[0]
        LANES.set_floor(project_id, floor)
    return None if floor is None else {"lane": lane.lane, "floor": floor}


_TASK_BY_ID = select(*TASK_ROW_COLUMNS).where(_T.c.id == bindparam("tid"))
# While an import is being staged (SQLite: tasks/visibility.py), claims use these instead:
# the same statements with the staged tasks left out (and the index walk stopped at them).
# PostgreSQL never stages, so they need no waiting variant.
_TAKE_FIRST_VISIBLE = {
    (is_pg, r): _take_first(
        first.where(hidden_by_params(_candidate)).with_for_update(skip_locked=True)
        if is_pg
        else first.where(hidden_by_params(_candidate))
    )
    for is_pg in (True, False)
    for r, first in _FIRST_OPEN.items()
}
_CANDIDATE_VISIBLE = {
    (is_pg, r): (_CANDIDATE_PG[r] if is_pg else _CANDIDATES_BY[r]).where(hidden_by_params(_T))
    for is_pg in (True, False)
    for r in (False, True)
}

# -- routed projects ---------------------------------------------------------------------------
_R: Table = TaskRoute.__table__  # type: ignore[assignment]
# The first open task routed to the caller's workforce with a free slot there, that they
# have not had (ix_task_route_queue walks (project, workforce, is_open, task) in order).
_ROUTED_CANDIDATE = (
    select(_R.c.id, *TASK_ROW_COLUMNS)
    .select_from(_R.join(_T, _T.c.id == _R.c.task_id))
    .where(
        _R.c.project_id == bindparam("pid"),
        _R.c.workforce_id == bindparam("wf"),
        _R.c.is_open.is_(True),
        _T.c.is_open.is_(True),
        ~exists().where(_A.c.task_id == _T.c.id, _A.c.user_id == bindparam("uid")),
    )
    .order_by(_R.c.is_open, _R.c.task_id)
    .limit(1)
)
# In a routed project, lab people also take the tasks routed to nobody (in the project's
# order). A workforce's routed slots are served in task order: ix_task_route_queue gives
# that order, and a ranked one would sort the workforce's open routes on every claim.
_UNROUTED_CANDIDATE = {
    r: q.where(~exists().where(_R.c.task_id == _T.c.id)) for r, q in _CANDIDATES_BY.items()
}
# Keyed by (is PostgreSQL, routed, ranked).
_CANDIDATES = {
    (is_pg, routed, r): query.with_for_update(skip_locked=True, of=_T) if is_pg else query
    for is_pg in (True, False)
    for r in (False, True)
    for routed, query in ((True, _ROUTED_CANDIDATE), (False, _UNROUTED_CANDIDATE[r]))
}
_CANDIDATES_VISIBLE = {  # see _TAKE_FIRST_VISIBLE
    key: query.where(hidden_by_params(_T)) for key, query in _CANDIDATES.items()
}
for _key in _CANDIDATES_VISIBLE:  # the route index's walk stops at the staged tasks too
    if _key[1]:
        _CANDIDATES_VISIBLE[_key] = _CANDIDATES_VISIBLE[_key].where(
            _R.c.task_id < bindparam("first_staged")
        )
_CANDIDATES_WAITING = {  # see _TAKE_FIRST_OPEN_WAITING
    (True, r): _ROUTED_CANDIDATE.with_for_update(of=_T) for r in (False, True)
} | {(False, r): _UNROUTED_CANDIDATE[r].with_for_update(of=_T) for r in (False, True)}
_TAKE_ROUTE_SLOT = (
    update(_R)
    .where(_R.c.id == bindparam("rid"), _R.c.taken < _R.c.quota)
    .values(taken=_R.c.taken + 1, is_open=_R.c.taken + 1 < _R.c.quota)
    .returning(_R.c.id)
)
_GIVE_BACK_ROUTE_SLOT = (
    update(_R)
    .where(
        _R.c.task_id == bindparam("tid"),
        _R.c.workforce_id == bindparam("wf"),
        _R.c.taken >= bindparam("n"),
    )
    .values(taken=_R.c.taken - bindparam("n"), is_open=_R.c.taken - bindparam("n") < _R.c.quota)
)


def give_back_route_slots(
    session: Session, task_id: int, workforce_id: int | None, n: int = 1
) -> None:
    """Return ``n`` slots of a task to the workforce they were taken from (a lease ended, a
    skip, a rejected annotation). Nothing for people in no workforce, for gold tasks and
    for tasks not routed to that workforce (no route row matches)."""
    if workforce_id is not None and n > 0:
        session.connection().execute(
            _GIVE_BACK_ROUTE_SLOT, {"tid": task_id, "wf": workforce_id, "n": n}
        )


def _adjust_taken(
    session: Session, project: ProjectRow | Project, task_id: int, delta: int
) -> None:
    params = {"tid": task_id, "delta": delta, "overlap": project.overlap}
    _ADJUST_TAKEN_NOW.execute(session.connection(), params)


def expire_stale_leases(session: Session, project: ProjectRow, now: datetime) -> int:
    """Return expired leases' slots to the queue. Safe under concurrency: the UPDATE's row
    locks mean each lease is expired (and its slot returned) exactly once."""
    result = session.connection().execute(_EXPIRE, {"pid": project.id, "now": now})
    rows = result.all()
    for task_id, count in Counter(task_id for task_id, _ in rows).items():
        _adjust_taken(session, project, task_id, -count)
    for (task_id, workforce_id), count in Counter(map(tuple, rows)).items():
        give_back_route_slots(session, task_id, workforce_id, count)
    return len(rows)


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
    On the common path: project + held lease + "anything expired, any gold, any
    prediction?", then on SQLite take a slot and insert the lease (three statements), on
    PostgreSQL both in one (:func:`_claim_in_one`).
    """
    actor.in_project(project_id)  # NotFound unless the actor may work in it
    with LANES.claiming(project_id) as lane:
        return _claim(session, actor, project_id, now or utcnow(), gate, durable, lane)


def _claim(
    session: Session,
    actor: Actor,
    project_id: int,
    now: datetime,
    gate: Gate | None,
    durable: bool,
    lane: Lane | None,
) -> Lease | None:
    """:func:`claim_next`'s body; ``lane``: see tasks/claim_lanes.py (PostgreSQL only)."""
    conn = session.connection()
    is_pg = conn.dialect.name == "postgresql"
    params = {"pid": project_id, "org": actor.organization_id, "uid": actor.user_id, "now": now}
    row = _FIRST_STATEMENT[not durable and is_pg].first(conn, params)
    if row is None:
        raise NotFound(f"Project {project_id} does not exist.")
    project = ProjectRow(*row[:_N_PROJECT])
    if project.archived:
        raise Conflict("This project is archived; it hands out no more work.")
    lease = _lease(session, actor, project, now, gate, durable, lane, row[_N_PROJECT:])
    if lease is not None:
        lease.any_predictions = bool(row[_N_PROJECT + 5])
    return lease


def _lease(
    session: Session,
    actor: Actor,
    project: ProjectRow,
    now: datetime,
    gate: Gate | None,
    durable: bool,
    lane: Lane | None,
    first: tuple[Any, ...],
) -> Lease | None:
    """:func:`_claim` after its first statement (``first``: that row's columns after the
    project's)."""
    conn = session.connection()
    is_pg = conn.dialect.name == "postgresql"
    held_id, held_task, held_expires, any_expired, any_gold = first[:5]
    if held_id is not None and held_expires > now:
        hold = conn.execute(_SERVED_AGAIN, {"aid": held_id}).scalar_one()
        return Lease(project, _task_row(session, held_task), held_id, held_expires, False, hold)
    if gate is not None:
        gate(session, actor, project)
    if any_expired:
        expire_stale_leases(session, project, now)
    walked = False  # whether the walks that skip locked rows found nothing already
    common = not (project.routed or actor.vendor or _serves_gold(project, any_gold))
    if is_pg and common and project.staging_import_id is None:  # (PG never stages)
        leased = _claim_in_one(session, project, actor, now, lane, durable)
        if leased is not None:
            return leased
        walked = True
    if project.routed or actor.vendor:
        task = _take_routed_slot(session, project, actor, is_pg, any_gold)
    else:
        task = _take_slot(session, project, actor.user_id, is_pg, lane, any_gold, walked)
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
        "workforce_id": actor.workforce_id,
        "hold": 0,  # the column's default, given: a Prepared statement fills in none
    }
    inserted = _LEASE_INSERT[is_pg].first(conn, lease)
    if inserted is None:
        _adjust_taken(session, project, task.id, -1)
        give_back_route_slots(session, task.id, actor.workforce_id)
        return _serve_held(session, project, actor.user_id)
    return Lease(project, task, inserted[0], expires_at, created=True)


def _serves_gold(project: ProjectRow, any_gold: bool) -> bool:
    """Whether the gold rule may serve a gold task (tasks/gold.py): it must look first."""
    return any_gold and (project.gold_rate > 0 or project.gold_first_n > 0)


def _serve_held(session: Session, project: ProjectRow, user_id: int) -> Lease:
    """The lease the caller's own concurrent request won (one live lease per annotator),
    served again."""
    held = _held(session, project.id, user_id)
    if held is None:
        raise Conflict("Could not lease a task; try again.")
    won = _task_row(session, held.task_id)
    hold = session.connection().execute(_SERVED_AGAIN, {"aid": held.id}).scalar_one()
    return Lease(project, won, held.id, held.expires_at, created=False, hold=hold)


def _claim_in_one(
    session: Session,
    project: ProjectRow,
    actor: Actor,
    now: datetime,
    lane: Lane | None,
    durable: bool,
) -> Lease | None:
    """The common claim on PostgreSQL (no gold to serve, no routing): the caller's lane,
    then the head of the queue, each walked by one statement that also leases and counts
    (_lease_first). None when both found nothing open and unlocked; the caller then asks
    again, waiting for locks, as :func:`_take_slot` does."""
    conn = session.connection()
    ranked = project.queue_order != "default"
    expires_at = now + timedelta(seconds=project.lease_seconds)
    params = {
        "pid": project.id,
        "uid": actor.user_id,
        "overlap": project.overlap,
        "v_project_id": project.id,
        "v_user_id": actor.user_id,
        "v_status": LEASED,
        "v_leased_at": now,
        "v_expires_at": expires_at,
        "v_hold": 0,
        "v_workforce_id": actor.workforce_id,
    }
    relaxed = not durable
    row = None
    if lane is not None and not ranked:
        in_lane = _lane_params(session, project.id, lane)
        if in_lane:  # an empty (or all locked) lane: the head walk below, as alone
            row = _LEASE_FIRST_IN_LANE[relaxed].first(conn, params | in_lane)
    if row is None:
        row = _LEASE_FIRST_OPEN[ranked, relaxed].first(conn, params)
    if row is None:
        return None
    if row[1] is None:  # the caller's own other request holds a lease: nothing was taken
        return _serve_held(session, project, actor.user_id)
    task = TaskRow(*row[2 : 2 + len(TASK_ROW_COLUMNS)])
    return Lease(project, task, row[1], expires_at, created=True)


def _take_slot(
    session: Session,
    project: ProjectRow,
    user_id: int,
    is_pg: bool,
    lane: Lane | None = None,
    any_gold: bool = True,
    walked: bool = False,
) -> TaskRow | None:
    """Choose the caller's next task and count them on it (``taken`` + 1), or None.
    ``lane``: walk that claim lane first (PostgreSQL, default order: tasks/claim_lanes.py).
    ``any_gold``: False when the project has no gold task, so the gold rule has none to
    serve. ``walked``: the walks that skip locked rows found nothing already (PostgreSQL,
    :func:`_claim_in_one`): only the one that waits for locks is left."""
    conn = session.connection()
    params: dict[str, Any] = {"pid": project.id, "uid": user_id, "overlap": project.overlap}
    hidden = claim_params(session, project)  # None unless an import is being staged
    ranked = project.queue_order != "default"
    in_lane = None
    if lane is not None and is_pg and not ranked and hidden is None and not walked:
        in_lane = _lane_params(session, project.id, lane)
    if not _serves_gold(project, any_gold):
        if hidden is not None:
            row = conn.execute(_TAKE_FIRST_VISIBLE[is_pg, ranked], params | hidden).first()
            return None if row is None else TaskRow(*row)
        # SQLite's one walk; PostgreSQL's walks that skip locked rows, which lease as they
        # take, ran in _claim_in_one (walked): only the one that waits is left here.
        row = None if walked else _TAKE_FIRST_OPEN[ranked].first(conn, params)
        if row is None and is_pg:
            bound_lock_waits(session)
            row = conn.execute(_TAKE_FIRST_OPEN_WAITING[ranked], params).first()
        return None if row is None else TaskRow(*row)
    row = None
    if hidden is not None:
        row = conn.execute(_CANDIDATE_VISIBLE[is_pg, ranked], params | hidden).first()
    else:
        if in_lane:
            row = _CANDIDATE_IN_LANE.first(conn, params | in_lane)
        if row is None:
            row = _FIRST_CANDIDATE[is_pg, ranked].first(conn, params)
    if row is None and is_pg and hidden is None:
        bound_lock_waits(session)
        row = conn.execute(_CANDIDATE_PG_WAITING[ranked], params).first()
    if row is None:
        return None  # gold tasks only while ordinary work remains (see tasks/gold.py)
    task = pick_gold(session, project, user_id) or TaskRow(*row)
    _adjust_taken(session, project, task.id, +1)
    task.taken += 1  # mirror the UPDATE without another round trip
    task.is_open = task.taken < project.overlap and task.gold is None
    return task


def _take_routed_slot(
    session: Session, project: ProjectRow, actor: Actor, is_pg: bool, any_gold: bool = True
) -> TaskRow | None:
    """:func:`_take_slot` for a routed project (or a vendor's person anywhere): a task
    routed to the caller's workforce, else (lab people only) one routed to nobody."""
    conn = session.connection()
    params: dict[str, Any] = {"pid": project.id, "uid": actor.user_id, "wf": actor.workforce_id}
    hidden = claim_params(session, project)  # None unless an import is being staged
    candidates = _CANDIDATES if hidden is None else _CANDIDATES_VISIBLE
    if hidden is not None:
        params |= hidden
    route_id, task = None, None
    ranked = project.queue_order != "default"
    if actor.workforce_id is not None:
        row = conn.execute(candidates[is_pg, True, ranked], params).first()
        if row is None and is_pg and hidden is None:
            bound_lock_waits(session)
            row = conn.execute(_CANDIDATES_WAITING[True, ranked], params).first()
        if row is not None:
            route_id, task = row[0], TaskRow(*row[1:])
    if task is None and not actor.vendor and project.routed:
        row = conn.execute(candidates[is_pg, False, ranked], params).first()
        if row is None and is_pg and hidden is None:
            bound_lock_waits(session)
            row = conn.execute(_CANDIDATES_WAITING[False, ranked], params).first()
        task = None if row is None else TaskRow(*row)
    if task is None:
        return None
    if any_gold and (project.gold_rate > 0 or project.gold_first_n > 0):
        gold = pick_gold(session, project, actor.user_id)
        if gold is not None:  # gold is served to every workforce alike, outside routing
            route_id, task = None, gold
    if route_id is not None and conn.execute(_TAKE_ROUTE_SLOT, {"rid": route_id}).first() is None:
        return None  # a concurrent move of work closed the slot: the next ask finds another
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


def skip(
    session: Session,
    actor: Actor,
    task_id: int,
    *,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    """Give the task back and record the skip; the same annotator will not get it again.
    ``reason``: usually one of the project's skip reasons; ``note``: what they wrote (a
    reason such as "Other (write it)" needs one: see ``projects/skip_reasons.py``)."""
    project, assignment = _own_lease(session, actor, task_id)
    reason, note = clean_skip(reason, note)
    assignment.status = SKIPPED
    assignment.finished_at = utcnow()
    assignment.skip_reason = reason
    assignment.skip_note = note
    _adjust_taken(session, project, task_id, -1)
    give_back_route_slots(session, task_id, assignment.workforce_id)


def release(session: Session, actor: Actor, task_id: int, *, hold: str | None = None) -> None:
    """Give the task back without a trace (e.g. the annotator closed the page).

    With ``hold`` (a :func:`hold_token`) only if the lease was not served again since that
    token was handed out: otherwise a Conflict, and the lease stays with the newer page."""
    project, assignment = _own_lease(session, actor, task_id)
    if hold is not None and hold != hold_token(assignment.id, assignment.hold):
        raise Conflict(
            f"Task {task_id} was opened again since this release was sent (another page or "
            "a reload holds it now), so the lease stays."
        )
    session.execute(delete(Assignment).where(Assignment.id == assignment.id))
    _adjust_taken(session, project, task_id, -1)
    give_back_route_slots(session, task_id, assignment.workforce_id)


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
_ASSIGNMENT_STATUS = select(_A.c.status, _A.c.workforce_id).where(
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


# Close the caller's live lease on a task as submitted (also used by review rework).
CLOSE_LEASE = (
    update(_A)
    .where(
        _A.c.task_id == bindparam("tid"), _A.c.user_id == bindparam("uid"), _A.c.status == LEASED
    )
    .values(status=SUBMITTED, finished_at=bindparam("now"))
    .returning(_A.c.id)
)
_CLOSE_LEASE = Prepared(CLOSE_LEASE)  # on the cursor: the submit's common case


def mark_submitted(session: Session, actor: Actor, project: ProjectRow, task_id: int) -> bool:
    """Record the annotator's submission in the queue; True if it is their first one.

    With a live (or still unreclaimed) lease this just closes it. If the lease expired or
    was skipped, or there never was one, a free slot is taken atomically; when none is left
    this raises Conflict, so a late submit can never over-assign a task.
    """
    now = utcnow()
    params = {"tid": task_id, "uid": actor.user_id}
    conn = session.connection()
    if _CLOSE_LEASE.first(conn, {**params, "now": now}) is not None:
        return True  # the common case: one statement
    status, workforce_id = conn.execute(_ASSIGNMENT_STATUS, params).first() or (None, None)
    if status == SUBMITTED:
        return False
    taken = conn.execute(_TAKE_FREE_SLOT, {"tid": task_id, "overlap": project.overlap})
    full = Conflict(
        "Your lease on this task expired and it already has enough annotators; "
        "ask for the next task."
    )
    if taken.first() is None:
        raise full
    if project.routed and not take_route_slot_again(session, task_id, workforce_id):
        raise full
    if status is None:
        insert_submitted(session, actor, project.id, task_id, now)
    else:
        session.execute(_MARK_SUBMITTED, {**params, "now": now})
    return True


_ROUTE_OF = select(_R.c.id).where(
    _R.c.task_id == bindparam("tid"), _R.c.workforce_id == bindparam("wf")
)
_ANY_ROUTE = select(_R.c.id).where(_R.c.task_id == bindparam("tid")).limit(1)


def insert_submitted(
    session: Session, actor: Actor, project_id: int, task_id: int, now: datetime
) -> None:
    """The assignment of an answer that came without one (a late submit whose lease was
    taken back and deleted): submitted now, served in the actor's workforce."""
    session.execute(
        insert(_A).values(
            project_id=project_id,
            task_id=task_id,
            user_id=actor.user_id,
            status=SUBMITTED,
            leased_at=now,
            expires_at=now,
            finished_at=now,
            workforce_id=actor.workforce_id,
        )
    )


def take_route_slot_again(session: Session, task_id: int, workforce_id: int | None) -> bool:
    """A late submission in a routed project takes its slot back from its workforce's
    route (False when that is full, or when the task is routed elsewhere only)."""
    conn = session.connection()
    if workforce_id is not None:
        route_id = conn.execute(_ROUTE_OF, {"tid": task_id, "wf": workforce_id}).scalar()
        if route_id is not None:
            return conn.execute(_TAKE_ROUTE_SLOT, {"rid": route_id}).first() is not None
    return conn.execute(_ANY_ROUTE, {"tid": task_id}).first() is None


def update_project(
    session: Session, actor: Actor, project_id: int, changes: dict[str, Any]
) -> Project:
    """Change project settings and keep the queue consistent: a new ``overlap`` re-opens
    tasks that now need more annotators (or closes those that have enough)."""
    old_order = session.scalar(
        select(Project.queue_order).where(
            Project.id == project_id, Project.organization_id == actor.organization_id
        )
    )
    project = update_settings(session, actor, project_id, changes)
    if "overlap" in changes:
        session.execute(REOPEN_ALL, {"pid": project.id, "overlap": project.overlap})
    if "queue_order" in changes and changes["queue_order"] != old_order:
        rerank(session, project.id, project.queue_order)  # the new order's key, every task
    return project


_END_LEASES = (
    update(_A)
    .where(
        _A.c.project_id == bindparam("pid"),
        _A.c.user_id == bindparam("uid"),
        _A.c.status == LEASED,
    )
    .values(status=EXPIRED, finished_at=bindparam("now"))
    .returning(_A.c.task_id, _A.c.workforce_id)
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
        rows = conn.execute(_END_LEASES, {"pid": project_id, "uid": user_id, "now": now})
        for task_id, workforce_id in rows.all():
            _adjust_taken(session, project, task_id, -1)
            give_back_route_slots(session, task_id, workforce_id)
            ended += 1
    return ended
