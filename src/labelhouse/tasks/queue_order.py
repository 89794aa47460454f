"""The order the work queue serves a project's tasks in (``project.queue_order``).

* ``default``: import order (task id), the queue's classic walk of ``ix_task_queue``.
* ``priority``: higher ``task.priority`` first (set at import, by the API or the CLI).
* ``entropy`` / ``margin``: the most uncertain predictions first (active learning).

Every order is one SQL key, ``task.queue_rank`` (ascending, ties by id), kept up to date
whenever a priority, a prediction or the project's order changes, so a claim walks
``ix_task_queue_rank (project_id, is_open, queue_rank, id)`` in index order and never sorts
the project. The queue's guarantees do not depend on the order: it only decides which open
task the claim tries first (tasks/queue.py).

Uncertainty comes from a task's predictions. A prediction may carry class probabilities
per field in ``scores`` (``{"label": {"pos": 0.6, "neg": 0.4}}``); without them its single
``score`` in [0, 1] is read as the probability of the predicted answer, i.e. the two-class
distribution (score, 1 - score). Per distribution (normalised to sum 1):

* entropy: ``H(p) / log(k)`` for k classes (0 certain … 1 uniform);
* margin: ``1 - (p1 - p2)``, the two most likely classes (0 certain … 1 a tie).

A task's uncertainty is the largest over its predictions and fields (its most doubtful
part). Tasks without usable scores rank 0, with certain ones: after every uncertain task.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, case, func, literal, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import InvalidInput, Problem
from labelhouse.projects.models import Project
from labelhouse.projects.service import QUEUE_ORDERS, get_project
from labelhouse.tasks.models import Prediction, Task

UNCERTAINTY_ORDERS = ("entropy", "margin")
PRIORITY_LIMIT = 1_000_000_000  # |priority| at most this (an integer)
MAX_PRIORITIES = 100_000  # per request
_CHUNK = 500  # ids per IN list (well under SQLite's bound-parameter limit)
_WINDOW = 20_000  # ids per UPDATE of a whole-project re-rank

_T: Table = Task.__table__  # type: ignore[assignment]
_PR: Table = Prediction.__table__  # type: ignore[assignment]


def check_priority(value: Any, where: str = "priority") -> int:
    """An integer within ±PRIORITY_LIMIT (import rows, the API and the CLI share this)."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > PRIORITY_LIMIT:
        raise InvalidInput(
            "Invalid priority.",
            [Problem(where, f"must be an integer from -{PRIORITY_LIMIT} to {PRIORITY_LIMIT}")],
        )
    return value


def rank_expr(order: str, table: Any = _T) -> ColumnElement[Any]:
    """``queue_rank`` of a task row under ``order`` (ascending is served first)."""
    if order == "priority":
        return -table.c.priority
    if order in UNCERTAINTY_ORDERS:
        column = table.c[f"uncertainty_{order}"]
        return case((column.is_(None), literal(0.0)), else_=-column)
    return literal(0.0)


def rerank(
    session: Session, project_id: int, order: str, task_ids: Iterable[int] | None = None
) -> None:
    """Recompute ``queue_rank`` for the project's tasks (or only ``task_ids``) under
    ``order``. A whole project goes in windows of ids (ix_task_browse), so no statement runs
    into the statement timeout (one UPDATE of 200k tasks did on a busy PostgreSQL); rows
    already right are left alone (no write, no index maintenance: switching to "priority"
    when few tasks have one touches only those)."""
    rank = rank_expr(order)
    stmt = (
        update(_T)
        .where(_T.c.project_id == project_id, _T.c.queue_rank != rank)
        .values(queue_rank=rank)
    )
    if task_ids is not None:
        ids = list(task_ids)
        for i in range(0, len(ids), _CHUNK):
            session.execute(stmt.where(_T.c.id.in_(ids[i : i + _CHUNK])))
        return
    low, high = session.execute(
        select(func.min(_T.c.id), func.max(_T.c.id)).where(_T.c.project_id == project_id)
    ).one()
    if low is None:
        return
    for start in range(low, high + 1, _WINDOW):
        session.execute(stmt.where(_T.c.id >= start, _T.c.id < start + _WINDOW))


# -- uncertainty ------------------------------------------------------------------------------


def distribution_uncertainty(probabilities: Sequence[float]) -> tuple[float, float] | None:
    """(normalised entropy, margin uncertainty) of one distribution; None if it has no mass.
    Probabilities summing to less than 1 leave the rest to one more, unnamed class (a
    model that names only its top answer); more than 1 are scaled down."""
    ps = [p for p in probabilities if p > 0]
    total = sum(ps)
    if total <= 0:
        return None
    k = len(probabilities)
    if total < 1 - 1e-9:
        ps.append(1 - total)
        total, k = 1.0, k + 1
    ps = sorted((p / total for p in ps), reverse=True)
    k = max(k, 2)
    entropy = -sum(p * math.log(p) for p in ps) / math.log(k)
    margin = 1.0 - (ps[0] - (ps[1] if len(ps) > 1 else 0.0))
    return min(max(entropy, 0.0), 1.0), min(max(margin, 0.0), 1.0)


def prediction_uncertainty(
    score: float | None, scores: Mapping[str, Any] | None
) -> tuple[float, float] | None:
    """The most doubtful field of one prediction: class probabilities when given, else the
    single score as (score, 1 - score); None when neither is usable."""
    found = []
    for per_class in (scores or {}).values():
        if isinstance(per_class, Mapping) and per_class:
            u = distribution_uncertainty([float(p) for p in per_class.values()])
            if u is not None:
                found.append(u)
    if not found and score is not None and 0.0 <= score <= 1.0:
        u = distribution_uncertainty([score, 1.0 - score])
        if u is not None:
            found.append(u)
    if not found:
        return None
    return max(e for e, _ in found), max(m for _, m in found)


def check_scores(value: Any, fields: Iterable[str]) -> dict[str, dict[str, float]] | str:
    """A prediction's ``scores`` as given at import or by a model: ``{field: {option:
    probability}}`` with probabilities in [0, 1]; a sentence saying what is wrong if not."""
    known = set(fields)
    if not isinstance(value, dict):
        return 'scores must be an object like {"field": {"option": 0.7, "other": 0.3}}'
    clean: dict[str, dict[str, float]] = {}
    for name, per_class in value.items():
        if name not in known:
            return f"scores: '{name}' is not a field of the schema"
        if not isinstance(per_class, dict) or not per_class or len(per_class) > 1000:
            return f"scores.{name} must be an object of 1 to 1000 option: probability pairs"
        for option, p in per_class.items():
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                return f"scores.{name}.{option} must be a probability from 0 to 1"
        clean[name] = {str(k): float(v) for k, v in per_class.items()}
    return clean


_PREDICTION_SCORES = select(_PR.c.task_id, _PR.c.score, _PR.c.scores)
_SET_UNCERTAINTY = (
    update(_T)
    .where(_T.c.id == bindparam("tid"))
    .values(uncertainty_entropy=bindparam("entropy"), uncertainty_margin=bindparam("margin"))
)
_ORDERS_OF = select(_T.c.project_id, Project.queue_order).join(
    Project, Project.id == _T.c.project_id
)


def store_uncertainty(session: Session, task_ids: Iterable[int]) -> None:
    """Recompute the tasks' uncertainty from all their stored predictions and re-rank them
    if their project is ordered by it. Call it after storing predictions, in the same
    transaction (the task import does; so must any other writer of predictions)."""
    ids = sorted(set(task_ids))
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        found: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for task_id, score, scores in session.execute(
            _PREDICTION_SCORES.where(_PR.c.task_id.in_(chunk))
        ):
            u = prediction_uncertainty(score, scores)
            if u is not None:
                found[task_id].append(u)
        params = [
            {
                "tid": tid,
                "entropy": max((e for e, _ in found[tid]), default=None),
                "margin": max((m for _, m in found[tid]), default=None),
            }
            for tid in chunk
        ]
        session.connection().execute(_SET_UNCERTAINTY, params)
        rerank_tasks(session, chunk, only=UNCERTAINTY_ORDERS)


def rerank_tasks(
    session: Session, task_ids: Sequence[int], only: Sequence[str] = QUEUE_ORDERS
) -> None:
    """Re-rank these tasks under their projects' current orders (those in ``only``)."""
    if not task_ids:
        return
    orders: set[tuple[int, str]] = set()
    for i in range(0, len(task_ids), _CHUNK):
        chunk = task_ids[i : i + _CHUNK]
        orders.update(map(tuple, session.execute(_ORDERS_OF.where(_T.c.id.in_(chunk)).distinct())))
    for project_id, order in orders:  # each UPDATE is scoped by its project
        if order in only and order != "default":
            rerank(session, project_id, order, task_ids)


# -- priorities -------------------------------------------------------------------------------


def set_priorities(
    session: Session, actor: Actor, project_id: int, items: Sequence[Mapping[str, Any]]
) -> int:
    """Set tasks' priorities: each item is ``{"task_id": n}`` or ``{"external_id": s}`` with
    ``"priority": int``. Managers only; all or nothing (an unknown task names its item).
    Returns how many tasks were changed."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "set task priorities")
    project = get_project(session, actor, project_id)
    if not isinstance(items, Sequence) or not 1 <= len(items) <= MAX_PRIORITIES:
        raise InvalidInput(
            "No priorities to set.", [Problem("priorities", f"send 1 to {MAX_PRIORITIES} items")]
        )
    by_id: dict[int, int] = {}
    by_external: dict[str, int] = {}
    problems = []
    for n, item in enumerate(items):
        where = f"priorities[{n}]"
        if not isinstance(item, Mapping) or set(item) - {"task_id", "external_id", "priority"}:
            problems.append(Problem(where, 'expected {"task_id" or "external_id", "priority"}'))
            continue
        try:
            priority = check_priority(item.get("priority"), f"{where}.priority")
        except InvalidInput as exc:
            problems.extend(exc.details)
            continue
        task_id, external_id = item.get("task_id"), item.get("external_id")
        if isinstance(task_id, int) and not isinstance(task_id, bool) and external_id is None:
            by_id[task_id] = priority
        elif isinstance(external_id, str | int) and not isinstance(external_id, bool):
            if task_id is None:
                by_external[str(external_id)] = priority
                continue
            problems.append(Problem(where, "give task_id or external_id, not both"))
        else:
            problems.append(Problem(where, "needs an integer task_id or an external_id"))
    if problems:
        raise InvalidInput("Some priorities could not be read.", problems[:20])
    found: dict[int, int] = {}
    ids = list(by_id)
    for i in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(_T.c.id).where(_T.c.project_id == project.id, _T.c.id.in_(ids[i : i + _CHUNK]))
        )
        found.update((tid, by_id[tid]) for (tid,) in rows)
    externals = list(by_external)
    known_external: set[str] = set()
    for i in range(0, len(externals), _CHUNK):
        chunk = externals[i : i + _CHUNK]
        rows = session.execute(  # (project_id, dedup_key) is unique: an index lookup each
            select(_T.c.id, _T.c.external_id).where(
                _T.c.project_id == project.id, _T.c.dedup_key.in_([f"x:{e}" for e in chunk])
            )
        )
        for tid, ext in rows:
            found[tid] = by_external[ext]
            known_external.add(ext)
    missing = [f"task_id {t}" for t in by_id if t not in found]
    missing += [f"external_id {e!r}" for e in by_external if e not in known_external]
    if missing:
        raise InvalidInput(
            "Some tasks are not in this project.",
            [Problem("priorities", f"no task with {m}") for m in missing[:20]],
        )
    session.connection().execute(
        update(_T).where(_T.c.id == bindparam("tid")).values(priority=bindparam("p")),
        [{"tid": tid, "p": p} for tid, p in found.items()],
    )
    if project.queue_order == "priority":
        rerank(session, project.id, "priority", list(found))
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="task.prioritize",
        object_type="project",
        object_id=project.id,
        details={"tasks": len(found)},
    )
    return len(found)
