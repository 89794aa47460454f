"""An annotator's progress in a project, for the annotate page's counter: how many tasks
they submitted today and in all, and how many are left for them.

Three statements, each bounded whatever the project's size:

- *done* and *done today* count the person's submitted assignments in the project (the
  ``ix_assignment_user`` index: as many rows as they submitted);
- *remaining* counts the open tasks the queue could still hand them (open, not had before,
  visible, and for routed projects or vendors' people the tasks routed to their workforce,
  as ``queue.claim_next`` chooses), and stops counting at :data:`REMAINING_CAP`: the page
  shows "1,000+" beyond it, rather than walking a million-task queue on every submit
  (see :func:`annotator_progress` for how).

Tasks held by someone else's lease are not open, so they are not counted although they may
come back; gold tasks are never open (they are mixed in by the gold rule), so the count can
fall short by those. "Today" starts when the caller says (the browser's local midnight);
without one it is midnight UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import Table, bindparam, exists, false, func, or_, select
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from labelhouse.tasks.visibility import staging_of_row, visible

REMAINING_CAP = 1000
SUBMITTED = "submitted"

_T: Table = Task.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]
_R: Table = TaskRoute.__table__  # type: ignore[assignment]

_DONE = select(
    func.count(),
    func.count().filter(_A.c.finished_at >= bindparam("since", type_=_A.c.finished_at.type)),
).where(
    _A.c.user_id == bindparam("uid"),
    _A.c.project_id == bindparam("pid"),
    _A.c.status == SUBMITTED,
)
_ROUTED_TO_ME = exists().where(
    _R.c.task_id == _T.c.id, _R.c.workforce_id == bindparam("wf"), _R.c.is_open.is_(True)
)
_ROUTED_TO_NOBODY = ~exists().where(_R.c.task_id == _T.c.id)


@dataclass(frozen=True)
class Progress:
    done_today: int
    done: int
    remaining: int
    remaining_capped: bool  # there are at least ``remaining`` (counting stopped there)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done_today": self.done_today,
            "done": self.done,
            "remaining": self.remaining,
            "remaining_capped": self.remaining_capped,
        }


def day_start(value: datetime | None, now: datetime | None = None) -> datetime:
    """When "today" began: the caller's value (a time without a zone is UTC), else
    midnight UTC."""
    if value is None:
        return datetime.combine((now or utcnow()).date(), time(), tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def annotator_progress(
    session: Session,
    actor: Actor,
    project: Any,
    *,
    since: datetime,
    holding: bool,
) -> Progress:
    """The actor's progress in ``project`` (a row the caller has scoped and loaded, e.g.
    the ``ProjectRow`` of a lease). ``holding``: the caller holds a lease in it now (the
    task on their screen counts as remaining).

    "Open to me, not had before" is counted as (open to me) − (open to me and had): an
    anti-join per task was planned as a nested loop over the person's assignments while
    PostgreSQL's statistics were stale (after a large import: 237 ms at 100,000 tasks and
    2,000 done, see bench/bench_progress.py). One count reads the person's own assignments
    (whose task is open to them), the other walks the queue index and stops after
    ``REMAINING_CAP`` + that many."""
    conn = session.connection()
    params = {"uid": actor.user_id, "pid": project.id}
    done, done_today = conn.execute(_DONE, params | {"since": since}).one()
    open_to_me = [
        _T.c.project_id == bindparam("pid"),
        _T.c.is_open.is_(True),
        visible(staging_of_row(session, project)),
    ]
    if project.routed or actor.vendor:  # as queue._take_routed_slot chooses
        ways: list[Any] = []
        if actor.workforce_id is not None:
            ways.append(_ROUTED_TO_ME)
            params["wf"] = actor.workforce_id
        if not actor.vendor and project.routed:
            ways.append(_ROUTED_TO_NOBODY)
        open_to_me.append(or_(*ways) if ways else false())
    # Written as "my assignments whose task is open" (an EXISTS probing the task by its
    # key per assignment): as a join, SQLite walked the open tasks instead (23 ms vs 0.6).
    had = conn.execute(
        select(func.count())
        .select_from(_A)
        .where(
            _A.c.user_id == bindparam("uid"),
            _A.c.project_id == bindparam("pid"),
            exists().where(_T.c.id == _A.c.task_id, *open_to_me),
        ),
        params,
    ).scalar_one()
    walk = (
        select(_T.c.id)
        .where(*open_to_me)
        .order_by(_T.c.is_open, _T.c.id)  # the queue index, as the queue walks it
        .limit(REMAINING_CAP + had)
        .subquery()
    )
    seen = conn.execute(select(func.count()).select_from(walk), params).scalar_one()
    counted = seen - had  # every task had is among those seen unless the walk stopped
    return Progress(
        done_today=done_today,
        done=done,
        remaining=counted + (1 if holding else 0),
        remaining_capped=seen >= REMAINING_CAP + had,
    )
