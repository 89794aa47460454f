"""The repair behind ``labelhouse db check --repair``: recompute the work queue's derived
counters (task ``taken``/``done``/``is_open``, route ``taken``/``is_open``) from the rows
they count, as :mod:`labelhouse.tasks.invariants` defines them. Assignments and
annotations are only read: what is wrong with them is for a person (and a backup) to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    Select,
    Table,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from labelhouse.tasks import invariant_queries as q

_T, _R, _P = q.TASK, q.ROUTE, q.PROJECT


@dataclass
class Repair:
    """How many rows each counter was changed on, in one project."""

    project_id: int
    changed: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.changed.values())


# Scratch tables for one repair: the rows to fix and their recomputed values, so the
# aggregate runs once and the change of each counter can be counted exactly. Temporary
# (this connection only) and dropped at the end of the transaction.
_SCRATCH = MetaData()
_TASK_FIX = Table(
    "lh_task_fix",
    _SCRATCH,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("taken", Integer),
    Column("done", Integer),
    Column("is_open", Boolean),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_ROUTE_FIX = Table(
    "lh_route_fix",
    _SCRATCH,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("taken", Integer),
    Column("is_open", Boolean),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def repair_counters(session: Session, project_id: int) -> Repair:
    """Recompute the project's derived counters (task ``taken``/``done``/``is_open``, route
    ``taken``/``is_open``) from the rows they count; assignments and annotations are only
    read. One aggregate pass over the tasks and one over the routes find the rows to fix.

    Call it on a new session, in its own transaction: on PostgreSQL it asks for REPEATABLE
    READ, so a claim that moves a counter meanwhile makes this transaction fail (SQLSTATE
    40001: run it again) rather than be overwritten by a stale count; SQLite's write
    transaction keeps claims out until it ends."""
    if session.get_bind().dialect.name == "postgresql":
        conn = session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        conn = session.connection()
    conn.execute(select(_P.c.id).where(_P.c.id == project_id).with_for_update())  # overlap
    changed: dict[str, int] = {}
    k = q.task_counts(project_id)
    want = q.open_when(k.c.rows_taken, k.c.overlap, k.c.ordinary)
    _fix(
        conn,
        _T,
        _TASK_FIX,
        select(k.c.id, k.c.rows_taken, k.c.rows_done, want).where(
            or_(
                k.c.taken != k.c.rows_taken,
                k.c.done != k.c.rows_done,
                k.c.is_open.is_distinct_from(want),
            )
        ),
        changed,
        "task",
    )
    changed |= {"task_route.taken": 0, "task_route.is_open": 0}
    if conn.execute(select(_R.c.id).where(_R.c.project_id == project_id).limit(1)).first():
        r = q.route_counts(project_id)
        route_want = q.open_when(r.c.rows_taken, r.c.quota)
        _fix(
            conn,
            _R,
            _ROUTE_FIX,
            select(r.c.id, r.c.rows_taken, route_want).where(
                or_(r.c.taken != r.c.rows_taken, r.c.is_open.is_distinct_from(route_want))
            ),
            changed,
            "task_route",
        )
    return Repair(project_id, changed)


def _fix(
    conn: Connection,
    target: Table,
    scratch: Table,
    wrong: Select[Any],
    changed: dict[str, int],
    prefix: str,
) -> None:
    """Put the rows to fix with their right values in ``scratch``, count per column how many
    differ, and copy the values into ``target``."""
    names = [c.name for c in scratch.columns if c.name != "id"]
    scratch.create(conn, checkfirst=True)
    conn.execute(scratch.delete())
    conn.execute(insert(scratch).from_select(["id", *names], wrong))
    joined = scratch.join(target, target.c.id == scratch.c.id)
    counts = conn.execute(
        select(
            *(
                func.coalesce(
                    func.sum(case((target.c[n].is_distinct_from(scratch.c[n]), 1), else_=0)), 0
                )
                for n in names
            )
        ).select_from(joined)
    ).one()
    changed.update({f"{prefix}.{n}": int(v) for n, v in zip(names, counts, strict=True)})
    conn.execute(
        update(target).where(target.c.id == scratch.c.id).values({n: scratch.c[n] for n in names})
    )
    scratch.drop(conn)  # (a failure rolls the whole transaction back, this table too)
