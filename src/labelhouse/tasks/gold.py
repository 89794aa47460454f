"""Gold tasks: marking them, and the queue rule that mixes them into each annotator's work.

Rules (documented in docs and the issue):

- A gold task carries ``task.gold``, the expected value of some or all fields, validated
  through the schema like a draft annotation (present values must be valid; fields may be
  left out and are then not checked).
- Gold tasks have **no overlap limit**: every annotator can be checked on every gold task.
  Their ``is_open`` is always false, so the ordinary queue (and its index) never sees them;
  they are handed out only by :func:`pick_gold`.
- When an annotator needs a new task, a gold task they have not seen is preferred while
  they have fewer than ``gold_first_n`` gold answers, and otherwise with probability
  ``gold_rate``, drawn from a hash of (project, user, number of tasks handed to them so
  far): reproducible in tests, unpredictable enough for an annotator.
- Gold tasks are only mixed in while ordinary work remains: with nothing left to label, a
  gold task would announce itself.
- Gold tasks are not deliverable work: project progress counts ordinary tasks only, and
  the review queue skips them (their answers are checked against the expected value).
- To an annotator a gold task looks like any other: the API never shows them ``gold``, and
  the counters they see are capped as for an ordinary task (``disguised_done``).
- Only gold items in use (``gold_state`` null) are served: ``reserve`` items wait to replace
  over-exposed ones, ``retired`` ones were rotated out (:mod:`labelhouse.tasks.gold_exposure`).
  The serve that takes an item over the project's ``gold_exposure_limit`` rotates it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Table, and_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.db.prepared import Prepared
from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds.base import FieldKind
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import ProjectRow, load_schema
from labelhouse.tasks import gold_exposure
from labelhouse.tasks.gold_exposure import RESERVE
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.service import TASK_ROW_COLUMNS, TaskRow, get_task
from labelhouse.tasks.visibility import claim_params, hidden_by_params

_T: Table = Task.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]
_P: Table = Project.__table__  # type: ignore[assignment]

# The first gold item in use the caller has not had (ix_task_gold, a partial index on
# gold tasks, walks them in id order; gold_state is checked on the row), and the project's
# exposure limit along with it (no extra round trip when there is none).
_GOLD_CANDIDATE = (
    select(
        *TASK_ROW_COLUMNS,
        select(_P.c.gold_exposure_limit).where(_P.c.id == bindparam("pid")).scalar_subquery(),
    )
    .where(
        _T.c.project_id == bindparam("pid"),
        _T.c.gold.is_not(None),
        _T.c.gold_state.is_(None),
        ~exists().where(_A.c.task_id == _T.c.id, _A.c.user_id == bindparam("uid")),
    )
    .order_by(_T.c.id)
    .limit(1)
)
_N_TASK = len(TASK_ROW_COLUMNS)
# While an import is being staged (tasks/visibility.py): its gold tasks are not served.
_VISIBLE_GOLD_CANDIDATE = _GOLD_CANDIDATE.where(hidden_by_params(_T))
_GOLD_CANDIDATE_NOW = Prepared(_GOLD_CANDIDATE)  # every claim asks: on the cursor
_GOLD_ANSWERED = (
    select(func.count())
    .select_from(_A)
    .join(_T, _T.c.id == _A.c.task_id)
    .where(
        _A.c.project_id == bindparam("pid"),
        _A.c.user_id == bindparam("uid"),
        _A.c.status == "submitted",
        _T.c.gold.is_not(None),
    )
)
_HANDED_OUT = select(func.count()).where(
    _A.c.project_id == bindparam("pid"), _A.c.user_id == bindparam("uid")
)


def draw(project_id: int, user_id: int, count: int) -> float:
    """A number in [0, 1) fixed by (project, user, count): the gold-rate coin."""
    digest = hashlib.blake2b(f"{project_id}:{user_id}:{count}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def pick_gold(session: Session, project: ProjectRow, user_id: int) -> TaskRow | None:
    """The gold task to hand out now, or None when the rule says ordinary work.

    The caller serves the task returned, in this transaction: when that serve takes the
    item over the project's exposure limit, it is rotated out here (after this serve)."""
    if project.gold_rate <= 0 and project.gold_first_n <= 0:
        return None
    params = {"pid": project.id, "uid": user_id}
    hidden = claim_params(session, project)  # None unless an import is being staged
    if hidden is None:
        row = _GOLD_CANDIDATE_NOW.first(session.connection(), params)  # a partial index
    else:
        row = session.connection().execute(_VISIBLE_GOLD_CANDIDATE, params | hidden).first()
    if row is None:
        return None
    task, limit = TaskRow(*row[:_N_TASK]), row[_N_TASK]
    if session.execute(_GOLD_ANSWERED, params).scalar_one() >= project.gold_first_n:
        handed_out = session.execute(_HANDED_OUT, params).scalar_one()
        if draw(project.id, user_id, handed_out) >= project.gold_rate:
            return None
    if limit is not None:
        locked = _lock_in_use(session, params, task)
        if locked is None:
            return None
        gold_exposure.rotate_when_served(session, project, locked.id, limit)
        return locked
    return task


_IN_USE_LOCKED = select(_T.c.gold_state).where(_T.c.id == bindparam("tid")).with_for_update()
_RELOCK_ATTEMPTS = 5


def _lock_in_use(session: Session, params: dict[str, int], task: TaskRow) -> TaskRow | None:
    """On PostgreSQL, serves of one gold item take turns on its row, so each counts the
    serves before it: without the lock, annotators claiming at once all counted the item's
    earlier serves as none and served it past its exposure limit without rotating it. An
    item the previous holder rotated out gives way to the next one in use. (SQLite's
    writers already take turns.)"""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return task
    for _ in range(_RELOCK_ATTEMPTS):
        state = conn.execute(_IN_USE_LOCKED, {"tid": task.id}).first()
        if state is not None and state[0] is None:
            return task
        row = conn.execute(_GOLD_CANDIDATE, params).first()  # a new snapshot after the wait
        if row is None:
            return None
        task = TaskRow(*row[:_N_TASK])
    return None


_SUBMITTED_BY = select(_A.c.task_id).where(
    _A.c.user_id == bindparam("uid"),
    _A.c.task_id.in_(bindparam("tids", expanding=True)),
    _A.c.status == "submitted",
)


def submitted_by(session: Session, user_id: int, task_ids: list[int]) -> set[int]:
    """Which of these tasks the person has submitted an answer to (for the disguise)."""
    return set(session.execute(_SUBMITTED_BY, {"uid": user_id, "tids": task_ids}).scalars())


def disguised_done(task: Task | TaskRow, overlap: int, *, submitted_by_viewer: bool) -> int:
    """The ``done`` an annotator may see: an ordinary task they have not submitted has at
    most ``overlap - 1`` submissions, one they have at most ``overlap``."""
    if task.gold is None:
        return task.done
    return min(task.done, overlap if submitted_by_viewer else overlap - 1)


def validate_gold(schema: LabelSchema, value: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The normalised expected value, or InvalidInput naming every bad field."""
    clean = schema.validate_annotation(value, data, draft=True)
    if not clean:
        raise InvalidInput(
            "A gold value needs the expected value of at least one field.",
            [
                Problem(
                    "value",
                    f"give at least one field of: {', '.join(f.name for f in schema.fields)}",
                )
            ],
        )
    return clean


def gold_matches(field: FieldKind, expected: Any, given: Any) -> bool:
    """Whether an answer matches the expected value of one field.

    The one place that decides it: exact equality of the normalised values (kinds
    normalise on validation, e.g. choices in schema order, spans sorted). Kinds with
    partial credit (spans, boxes, text) may later switch to ``field.compare(...) >= 1``.
    """
    return bool(expected == given)


def set_gold(
    session: Session, actor: Actor, task_id: int, value: Any, *, reserve: bool | None = None
) -> Task:
    """Mark a task gold with its expected value (or change the value). ``reserve``: keep it
    back to replace an over-exposed item (True), or put it in use (False); None leaves a
    gold task's state as it is (a new one is in use)."""
    task, project = get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    actor.require(Role.manager, "mark gold tasks")
    clean = validate_gold(load_schema(session, project), value, task.data)
    if task.gold is None or reserve is not None:
        task.gold_state = RESERVE if reserve else None
    task.gold = clean
    task.is_open = False  # gold tasks leave the ordinary queue
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="task.gold",
        object_type="task",
        object_id=task.id,
        details={"fields": sorted(clean), "state": gold_exposure.api_state(task.gold_state)},
    )
    session.flush()
    return task


def clear_gold(session: Session, actor: Actor, task_id: int) -> Task:
    """Unmark a gold task; it returns to the ordinary queue if it still needs annotators."""
    task, project = get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    actor.require(Role.manager, "unmark gold tasks")
    task.gold = None
    task.gold_state = None
    task.is_open = task.taken < project.overlap
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="task.gold_clear",
        object_type="task",
        object_id=task.id,
        details={},
    )
    session.flush()
    return task


# is_open for any task: gold tasks are never open to the ordinary queue.
def open_expr(taken: Any, overlap: Any) -> Any:
    return and_(taken < overlap, _T.c.gold.is_(None))


REOPEN_ALL = (
    update(_T)
    .where(_T.c.project_id == bindparam("pid"))
    .values(is_open=open_expr(_T.c.taken, bindparam("overlap")))
)
