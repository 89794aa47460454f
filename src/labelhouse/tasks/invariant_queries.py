"""The statements behind :mod:`labelhouse.tasks.invariants`: what the queue's rows say
about its counters, and each group of checks as one UNION ALL over a shared CTE (so each
table is read once per group). Plain SQLAlchemy Core, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    null,
    or_,
    select,
    table,
)

from labelhouse.projects.models import Project
from labelhouse.tasks.models import Assignment, Task, TaskRoute

LEASED, SUBMITTED, SKIPPED, EXPIRED = "leased", "submitted", "skipped", "expired"
STATUSES = (LEASED, SUBMITTED, SKIPPED, EXPIRED)
REJECTED = "rejected"

TASK: Table = Task.__table__  # type: ignore[assignment]
ASSIGNMENT: Table = Assignment.__table__  # type: ignore[assignment]
ROUTE: Table = TaskRoute.__table__  # type: ignore[assignment]
PROJECT: Table = Project.__table__  # type: ignore[assignment]
_T, _A, _R, _P = TASK, ASSIGNMENT, ROUTE, PROJECT
# The annotation table is named rather than imported: the annotations package sits above
# this one (as in tasks/undo.py). Only the columns the queue's counters depend on.
_N = table(
    "annotation",
    column("project_id"),
    column("task_id"),
    column("user_id"),
    column("status"),
    column("review_status"),
)


# -- what the rows say -------------------------------------------------------------------------


def counted(n: Any) -> ColumnElement[bool]:
    """An annotation that holds a slot: submitted and not rejected in review."""
    return and_(n.c.status == SUBMITTED, func.coalesce(n.c.review_status, "") != REJECTED)


def task_counts(project_id: int | None = None) -> Any:
    """Per task (of one project, or all): its stored counters and what its rows say.

    The aggregates read whole tables even for one project: rows are counted by task, as
    the queue counted them (whatever their own project_id says), and one pass over a table
    beats a million index probes (10.8 s against 2.8 s for a 1M-task project on SQLite)."""
    a, n, t, p = _A.alias("a"), _N.alias("n"), _T.alias("t"), _P.alias("p")
    leases = select(a.c.task_id, func.count().label("n")).where(a.c.status == LEASED)
    submissions = select(n.c.task_id, func.count().label("n")).where(counted(n))
    tasks = select(
        t.c.id,
        t.c.project_id,
        t.c.taken,
        t.c.done,
        t.c.is_open,
        t.c.gold.is_(None).label("ordinary"),
        p.c.overlap,
    )
    if project_id is not None:
        tasks = tasks.where(t.c.project_id == project_id)
    ls = leases.group_by(a.c.task_id).subquery("ls")
    ss = submissions.group_by(n.c.task_id).subquery("ss")
    return (
        tasks.add_columns(
            (func.coalesce(ls.c.n, 0) + func.coalesce(ss.c.n, 0)).label("rows_taken"),
            func.coalesce(ss.c.n, 0).label("rows_done"),
        )
        .select_from(
            t.join(p, p.c.id == t.c.project_id)
            .outerjoin(ls, ls.c.task_id == t.c.id)
            .outerjoin(ss, ss.c.task_id == t.c.id)
        )
        .subquery("counts")
    )


def open_when(taken: Any, limit: Any, ordinary: Any = None) -> ColumnElement[bool]:
    return taken < limit if ordinary is None else and_(taken < limit, ordinary)


def route_counts(project_id: int | None = None) -> Any:
    """Per route of an ordinary task (of one project, or all): its stored counters and what
    its workforce's rows say (whole tables read, as in :func:`task_counts`)."""
    a, n, t, r = _A.alias("a"), _N.alias("n"), _T.alias("t"), _R.alias("r")
    holds = or_(a.c.status == LEASED, and_(a.c.status == SUBMITTED, counted(n)))
    work = (
        select(a.c.task_id, a.c.workforce_id, func.count().label("n"))
        .select_from(a.outerjoin(n, and_(n.c.task_id == a.c.task_id, n.c.user_id == a.c.user_id)))
        .where(a.c.workforce_id.is_not(None), holds)
    )
    w = work.group_by(a.c.task_id, a.c.workforce_id).subquery("w")
    routes = (
        select(t.c.project_id, r.c.id, r.c.task_id, r.c.workforce_id, r.c.quota, r.c.taken)
        .add_columns(r.c.is_open, func.coalesce(w.c.n, 0).label("rows_taken"))
        .select_from(
            r.join(t, t.c.id == r.c.task_id).outerjoin(
                w, and_(w.c.task_id == r.c.task_id, w.c.workforce_id == r.c.workforce_id)
            )
        )
        .where(t.c.gold.is_(None))
    )
    if project_id is not None:
        routes = routes.where(t.c.project_id == project_id)
    return routes.subquery("route_counts")


# -- the checks: a few groups, one statement each ----------------------------------------------

# Every check yields rows (check, project_id, task_id, a, b, c) of integers; a group's checks
# are one UNION ALL over a shared CTE, so each table is read once per group.
Found = list[Select[Any]]


def _found(key: str, project: Any, task: Any, a: Any, b: Any = None, c: Any = None) -> Select[Any]:
    return select(
        literal(key).label("check"),
        project.label("project_id"),
        task.label("task_id"),
        _int(a).label("a"),
        _int(b).label("b"),
        _int(c).label("c"),
    )


def _int(value: Any) -> Any:
    """Booleans as 0/1 and NULL as an integer NULL, so every branch of the UNION agrees on
    the column types (PostgreSQL insists)."""
    if value is None:
        return cast(null(), Integer)
    if isinstance(value, ColumnElement) and isinstance(value.type, Boolean):
        return case((value, 1), else_=0)
    return value


def _task_group() -> Found:
    k = task_counts()
    wrong_open = k.c.is_open.is_distinct_from(open_when(k.c.rows_taken, k.c.overlap, k.c.ordinary))
    over = and_(k.c.ordinary, k.c.rows_taken > k.c.overlap)
    bad = (
        select(k)
        .where(or_(k.c.taken != k.c.rows_taken, k.c.done != k.c.rows_done, wrong_open, over))
        .cte("bad_tasks")
    )
    p, i = bad.c.project_id, bad.c.id
    return [
        _found("task_taken", p, i, bad.c.taken, bad.c.rows_taken).where(
            bad.c.taken != bad.c.rows_taken
        ),
        _found("task_done", p, i, bad.c.done, bad.c.rows_done).where(bad.c.done != bad.c.rows_done),
        _found("task_is_open", p, i, bad.c.rows_taken, bad.c.overlap, bad.c.ordinary).where(
            bad.c.is_open.is_distinct_from(
                open_when(bad.c.rows_taken, bad.c.overlap, bad.c.ordinary)
            )
        ),
        _found("task_over_overlap", p, i, bad.c.rows_taken, bad.c.overlap).where(
            bad.c.ordinary, bad.c.rows_taken > bad.c.overlap
        ),
    ]


def _route_group() -> Found:
    k = route_counts()
    wrong_open = k.c.is_open.is_distinct_from(open_when(k.c.rows_taken, k.c.quota))
    bad = (
        select(k)
        .where(or_(k.c.taken != k.c.rows_taken, wrong_open, k.c.rows_taken > k.c.quota))
        .cte("bad_routes")
    )
    p, i, wf = bad.c.project_id, bad.c.task_id, bad.c.workforce_id
    return [
        _found("route_taken", p, i, wf, bad.c.taken, bad.c.rows_taken).where(
            bad.c.taken != bad.c.rows_taken
        ),
        _found("route_is_open", p, i, wf, bad.c.rows_taken, bad.c.quota).where(
            bad.c.is_open.is_distinct_from(open_when(bad.c.rows_taken, bad.c.quota))
        ),
        _found("route_over_quota", p, i, wf, bad.c.rows_taken, bad.c.quota).where(
            bad.c.rows_taken > bad.c.quota
        ),
    ]


def _assignment_group() -> Found:
    """One pass over the assignments, each looked up in its task and its annotation."""
    a, n, t = _A.alias("a"), _N.alias("n"), _T.alias("t")
    fields = case(
        (a.c.status.not_in(STATUSES), 1),
        (and_(a.c.status == LEASED, a.c.finished_at.is_not(None)), 2),
        (and_(a.c.status == LEASED, a.c.expires_at.is_(None)), 3),
        (and_(a.c.status != LEASED, a.c.finished_at.is_(None)), 4),
        else_=None,
    ).label("fields")
    lonely = and_(a.c.status == SUBMITTED, n.c.status.is_distinct_from(SUBMITTED))
    elsewhere = a.c.project_id != t.c.project_id
    bad = (
        select(
            t.c.project_id,
            a.c.task_id,
            a.c.user_id,
            a.c.project_id.label("row_project"),
            fields,
            case((lonely, 1), else_=0).label("lonely"),
        )
        .select_from(
            a.join(t, t.c.id == a.c.task_id).outerjoin(
                n, and_(n.c.task_id == a.c.task_id, n.c.user_id == a.c.user_id)
            )
        )
        .where(or_(fields.is_not(None), lonely, elsewhere))
        .cte("bad_assignments")
    )
    p, i, u = bad.c.project_id, bad.c.task_id, bad.c.user_id
    return [
        _found("lease_fields", p, i, u, bad.c.fields).where(bad.c.fields.is_not(None)),
        _found("submitted_without_annotation", p, i, u).where(bad.c.lonely == 1),
        _found("wrong_project", p, i, u, bad.c.row_project, literal(1)).where(
            bad.c.row_project != p
        ),
    ]


def _annotation_group() -> Found:
    """One pass over the annotations, each looked up in its task and its assignment."""
    a, n, t = _A.alias("a"), _N.alias("n"), _T.alias("t")
    # An answer review rejected gave its slot back; its annotator may lease the task again
    # to fix it (tasks/rework.py), so their assignment may be leased, expired or skipped.
    reworked = and_(n.c.review_status == REJECTED, a.c.status.in_([LEASED, EXPIRED, SKIPPED]))
    lonely = and_(n.c.status == SUBMITTED, a.c.status.is_distinct_from(SUBMITTED), ~reworked)
    bad = (
        select(
            t.c.project_id,
            n.c.task_id,
            n.c.user_id,
            n.c.project_id.label("row_project"),
            case((lonely, 1), else_=0).label("lonely"),
        )
        .select_from(
            n.join(t, t.c.id == n.c.task_id).outerjoin(
                a, and_(a.c.task_id == n.c.task_id, a.c.user_id == n.c.user_id)
            )
        )
        .where(or_(lonely, n.c.project_id != t.c.project_id))
        .cte("bad_annotations")
    )
    p, i, u = bad.c.project_id, bad.c.task_id, bad.c.user_id
    return [
        _found("annotation_without_submission", p, i, u).where(bad.c.lonely == 1),
        _found("wrong_project", p, i, u, bad.c.row_project, literal(2)).where(
            bad.c.row_project != p
        ),
    ]


def _uniqueness_group() -> Found:
    """Pairs twice (the unique indexes make this a walk of each index) and people with
    several live leases (the partial index on live leases)."""
    found = []
    t = _T.alias("t")
    for key, tbl in (("assignment_twice", _A), ("annotation_twice", _N)):
        pairs = (  # task and person only: a walk of the unique index, no table rows
            select(tbl.c.task_id, tbl.c.user_id, func.count().label("n"))
            .group_by(tbl.c.task_id, tbl.c.user_id)
            .having(func.count() > 1)
            .subquery()
        )
        found.append(
            _found(key, t.c.project_id, pairs.c.task_id, pairs.c.user_id, pairs.c.n).select_from(
                pairs.join(t, t.c.id == pairs.c.task_id)
            )
        )
    leases = (
        select(
            _A.c.project_id,
            func.min(_A.c.task_id).label("task_id"),
            _A.c.user_id,
            func.count().label("n"),
        )
        .where(_A.c.status == LEASED)
        .group_by(_A.c.project_id, _A.c.user_id)
        .having(func.count() > 1)
        .subquery()
    )
    found.append(
        _found(
            "leases_per_person", leases.c.project_id, leases.c.task_id, leases.c.user_id, leases.c.n
        )
    )
    return found


GROUPS: dict[str, Callable[[], Found]] = {
    "task counters": _task_group,
    "route counters": _route_group,
    "assignments": _assignment_group,
    "annotations": _annotation_group,
    "uniqueness": _uniqueness_group,
}
