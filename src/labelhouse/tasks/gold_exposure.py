"""Gold exposure: how often each gold item was served, to which workforces, and rotation.

An item shown to many people leaks: annotators (vendors above all) can share what they
saw. Exposure is counted from the leases (``assignment`` rows: one per person the item was
served to, whatever became of the lease), per workforce as recorded on each lease.

A project may set ``gold_exposure_limit``. An item in use served more often than that is
**over the limit**; rotation **retires** it (``gold_state`` "retired": never served again,
its answers still count for accuracy) and puts the oldest **reserve** item (lowest task id,
``gold_state`` "reserve") in use in its place. Rotation runs by itself, in the claim's
transaction, on the serve that takes an item over the limit (:func:`rotate_when_served`,
called from :func:`labelhouse.tasks.gold.pick_gold`), and on demand for the whole project
(:func:`rotate_gold`, e.g. after lowering the limit). Without a reserve item left an item is
retired all the same, and the result says how many could not be replaced.

Under concurrent claims (PostgreSQL) an item can be served a few times past the limit
before it is retired; each item is retired, and each reserve item put in use, only once
(the row lock of the UPDATE decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role, Team
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, Problem
from labelhouse.projects.service import ProjectRow, get_project
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.service import get_task
from labelhouse.tasks.visibility import visible_tasks

ACTIVE, RESERVE, RETIRED = "active", "reserve", "retired"
STATES = (ACTIVE, RESERVE, RETIRED)
NO_WORKFORCE = "no workforce"

_T: Table = Task.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]


def db_state(state: str) -> str | None:
    """``task.gold_state`` for a state name (in use is NULL: the queue's filter)."""
    if state not in STATES:
        raise InvalidInput(
            f"Unknown gold state '{state}': use active, reserve or retired.",
            [Problem("state", "active, reserve or retired")],
        )
    return None if state == ACTIVE else state


def api_state(gold_state: str | None) -> str:
    return gold_state or ACTIVE


@dataclass
class WorkforceExposure:
    id: int | None  # None: people in no workforce
    name: str
    served: int


@dataclass
class GoldExposure:
    """One gold item: how often it was served, to whom, and where it stands."""

    task_id: int
    external_id: str | None
    state: str
    served: int = 0
    workforces: list[WorkforceExposure] = field(default_factory=list)
    over_limit: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "external_id": self.external_id,
            "state": self.state,
            "served": self.served,
            "workforces": [
                {"id": w.id, "name": w.name, "served": w.served} for w in self.workforces
            ],
            "over_limit": self.over_limit,
        }


@dataclass
class RotationResult:
    retired: list[int] = field(default_factory=list)  # task ids, in the order rotated
    activated: list[int] = field(default_factory=list)  # reserve items put in use
    unreplaced: int = 0  # retired without a reserve item to take their place

    @property
    def message(self) -> str:
        if not self.retired:
            return "No gold item in use is over the exposure limit."
        n = len(self.retired)
        text = f"Retired {n} gold item{'' if n == 1 else 's'}"
        text += f"; {len(self.activated)} replaced from the reserve"
        if self.unreplaced:
            text += f"; {self.unreplaced} could not be replaced: mark more gold tasks as reserve"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        return {
            "retired": self.retired,
            "activated": self.activated,
            "unreplaced": self.unreplaced,
            "message": self.message,
        }


# -- counting ----------------------------------------------------------------------------------


def gold_exposure(session: Session, actor: Actor, project_id: int) -> list[GoldExposure]:
    """Every gold item of the project with its exposure, by task id (project managers)."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "see how often gold items were served")
    project = get_project(session, actor, project_id)
    limit = project.gold_exposure_limit
    rows = session.execute(
        select(_T.c.id, _T.c.external_id, _T.c.gold_state, _A.c.workforce_id, func.count(_A.c.id))
        .select_from(_T.outerjoin(_A, _A.c.task_id == _T.c.id))
        .where(
            _T.c.project_id == project.id,
            _T.c.gold.is_not(None),
            visible_tasks(session, project.id),
        )
        .group_by(_T.c.id, _T.c.external_id, _T.c.gold_state, _A.c.workforce_id)
        .order_by(_T.c.id)
    ).all()
    ids = {wf for *_, wf, _n in rows if wf is not None}
    names = dict(
        session.execute(
            select(Team.id, Team.name).where(
                Team.id.in_(sorted(ids)), Team.organization_id == actor.organization_id
            )
        ).all()
        if ids
        else []
    )
    items: dict[int, GoldExposure] = {}
    for task_id, external_id, state, wf, n in rows:
        item = items.setdefault(task_id, GoldExposure(task_id, external_id, api_state(state)))
        if n:
            name = NO_WORKFORCE if wf is None else names.get(wf, f"team {wf}")
            item.workforces.append(WorkforceExposure(wf, name, int(n)))
            item.served += int(n)
    for item in items.values():
        item.workforces.sort(key=lambda w: (w.id is None, w.name))
        item.over_limit = limit is not None and item.served > limit
    return list(items.values())


# -- rotation ----------------------------------------------------------------------------------

_SERVED = select(func.count()).select_from(_A).where(_A.c.task_id == bindparam("tid"))
_RETIRE = (
    update(_T)
    .where(_T.c.id == bindparam("tid"), _T.c.gold.is_not(None), _T.c.gold_state.is_(None))
    .values(gold_state=RETIRED)
    .returning(_T.c.id)
)
# The oldest reserve item (lowest id) through the gold tasks' partial index; SKIP LOCKED
# (PostgreSQL; SQLite serialises writers) lets two rotations at once take two items.
_reserve = _T.alias("reserve")
_OLDEST_RESERVE = (
    select(_reserve.c.id)
    .where(
        _reserve.c.project_id == bindparam("pid"),
        _reserve.c.gold.is_not(None),
        _reserve.c.gold_state == RESERVE,
    )
    .order_by(_reserve.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_ACTIVATE = (
    update(_T)
    .where(_T.c.id == _OLDEST_RESERVE.scalar_subquery(), _T.c.gold_state == RESERVE)
    .values(gold_state=None)
    .returning(_T.c.id)
)


def _rotate(session: Session, project_id: int, task_ids: list[int], into: RotationResult) -> None:
    conn = session.connection()
    for task_id in task_ids:
        if conn.execute(_RETIRE, {"tid": task_id}).first() is None:
            continue  # retired (or put in reserve) meanwhile
        into.retired.append(task_id)
        replacement = conn.execute(_ACTIVATE, {"pid": project_id}).scalar()
        if replacement is None:
            into.unreplaced += 1
        else:
            into.activated.append(replacement)


def rotate_when_served(
    session: Session, project: ProjectRow, task_id: int, limit: int
) -> RotationResult | None:
    """The queue is serving this gold item now: if this serve takes it over the limit,
    retire it and put a reserve item in use (same transaction). Only on gold serves."""
    served = session.connection().execute(_SERVED, {"tid": task_id}).scalar_one() + 1
    if served <= limit:
        return None
    result = RotationResult()
    _rotate(session, project.id, [task_id], result)
    if result.retired:
        audit.record(
            session,
            organization_id=project.organization_id,
            actor_id=None,  # the queue did it
            action="gold.rotate",
            object_type="project",
            object_id=project.id,
            details={**result.as_dict(), "limit": limit, "automatic": True},
        )
    return result


def rotate_gold(session: Session, actor: Actor, project_id: int) -> RotationResult:
    """Retire every gold item in use served more than the project's exposure limit, each
    replaced by the oldest reserve item (project managers)."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "rotate gold items")
    project = get_project(session, actor, project_id)
    limit = project.gold_exposure_limit
    if limit is None:
        raise Conflict(
            "This project has no gold exposure limit, so no item is over it: set "
            "gold_exposure_limit in the project's settings first."
        )
    served = select(func.count()).where(_A.c.task_id == _T.c.id).scalar_subquery()
    over = session.scalars(
        select(_T.c.id)
        .where(
            _T.c.project_id == project.id,
            _T.c.gold.is_not(None),
            _T.c.gold_state.is_(None),
            served > limit,
        )
        .order_by(_T.c.id)
    ).all()
    result = RotationResult()
    _rotate(session, project.id, list(over), result)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="gold.rotate",
        object_type="project",
        object_id=project.id,
        details={**result.as_dict(), "limit": limit},
    )
    return result


def set_gold_state(session: Session, actor: Actor, task_id: int, state: str) -> Task:
    """Put a gold item in use, in reserve, or retire it by hand (project managers)."""
    value = db_state(state)
    task, project = get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    actor.require(Role.manager, "change the state of gold tasks")
    if task.gold is None:
        raise Conflict(f"Task {task_id} is not a gold task: mark it gold first.")
    task.gold_state = value
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="task.gold_state",
        object_type="task",
        object_id=task.id,
        details={"state": state},
    )
    session.flush()
    return task
