"""A returned task back in the hands of the annotator whose answer review rejected.

A rejection gives the rejected answers' slots back (``review/service.py``): the task is
open again, for other annotators and for its original annotators, who may fix their answer
and submit it again. Their assignment row stays (the queue never hands them the task as new
work); to fix it they either

- take a lease on it (:func:`lease_again`, "Fix" in their "Returned to you" list): the slot
  is theirs while they work on it, renewed by the page's heartbeat like any lease, and
  their lease on another task of the project, if any, is given back first (one live lease
  per person and project); or
- submit straight away (:func:`take_slot_again`).

Either way a free slot is taken atomically, exactly as a late submission takes one
(``queue.mark_submitted``): when others have filled the task meanwhile it is a Conflict
and nothing changes, so a task never holds more than its overlap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict
from labelhouse.projects.service import ProjectRow
from labelhouse.tasks import queue
from labelhouse.tasks.gold import open_expr
from labelhouse.tasks.models import Assignment, Task

_T: Table = Task.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]
LEASED, SUBMITTED = queue.LEASED, queue.SUBMITTED

_MINE = select(_A.c.id, _A.c.status, _A.c.workforce_id).where(
    _A.c.task_id == bindparam("tid"), _A.c.user_id == bindparam("uid")
)
_OTHER_LEASE = select(_A.c.task_id).where(
    _A.c.project_id == bindparam("pid"),
    _A.c.user_id == bindparam("uid"),
    _A.c.status == LEASED,
    _A.c.task_id != bindparam("tid"),
)
_TAKE_FREE_SLOT = (
    update(_T)
    .where(_T.c.id == bindparam("tid"), _T.c.taken < bindparam("overlap"), _T.c.gold.is_(None))
    .values(taken=_T.c.taken + 1, is_open=open_expr(_T.c.taken + 1, bindparam("overlap")))
    .returning(_T.c.id)
)
_LEASE = (
    update(_A)
    .where(_A.c.id == bindparam("aid"))
    .values(
        status=LEASED,
        leased_at=bindparam("now"),
        expires_at=bindparam("until"),
        finished_at=None,
    )
)
_SUBMITTED = (
    update(_A)
    .where(_A.c.id == bindparam("aid"))
    .values(status=SUBMITTED, finished_at=bindparam("now"))
)

FULL = (
    "Others have answered task {task} since it was returned to you, so it needs no more "
    "answers; your rejected answer stays as it was. Ask for your next task."
)


def _take_free_slot(
    session: Session, project: ProjectRow, task_id: int, workforce_id: int | None
) -> None:
    """Count one more annotator on the task (and on its route in a routed project: the
    route of the workforce the person was served it in, else no route may hold it)."""
    conn = session.connection()
    full = Conflict(FULL.format(task=task_id))
    if conn.execute(_TAKE_FREE_SLOT, {"tid": task_id, "overlap": project.overlap}).first() is None:
        raise full
    if project.routed and not queue.take_route_slot_again(session, task_id, workforce_id):
        raise full  # the transaction rolls back the task's slot too


def lease_again(
    session: Session,
    actor: Actor,
    project: ProjectRow,
    task_id: int,
    *,
    now: datetime | None = None,
) -> None:
    """Lease a task again to someone who answered it before (callers check that review
    returned it to them). Their lease on another task of the project is given back first;
    asking again while the lease lives only renews it."""
    now = now or utcnow()
    conn = session.connection()
    params = {"tid": task_id, "uid": actor.user_id}
    mine = conn.execute(_MINE, params).first()
    if mine is None:
        raise Conflict(f"You have no earlier answer on task {task_id} to fix.")
    assignment_id, status, workforce_id = mine
    other = conn.execute(_OTHER_LEASE, {**params, "pid": project.id}).scalar()
    if other is not None:
        queue.release(session, actor, other)  # one live lease per person and project
    if status != LEASED:  # a live (or unreclaimed) lease already holds its slot
        _take_free_slot(session, project, task_id, workforce_id)
    until = now + timedelta(seconds=project.lease_seconds)
    conn.execute(_LEASE, {"aid": assignment_id, "now": now, "until": until})


def take_slot_again(session: Session, actor: Actor, project: ProjectRow, task_id: int) -> None:
    """A rejected answer is submitted again, so it needs a slot again: the lease the
    annotator took to fix it closes, or else a free slot is taken (Conflict when none is
    left)."""
    now = utcnow()
    conn = session.connection()
    params = {"tid": task_id, "uid": actor.user_id}
    if conn.execute(queue.CLOSE_LEASE, {**params, "now": now}).first() is not None:
        return
    mine = conn.execute(_MINE, params).first()
    _take_free_slot(session, project, task_id, None if mine is None else mine[2])
    if mine is None:  # (an answer always has its assignment; kept whole if not)
        queue.insert_submitted(session, actor, project.id, task_id, now)
    else:
        conn.execute(_SUBMITTED, {"aid": mine[0], "now": now})
