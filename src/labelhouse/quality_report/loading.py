"""One streaming read of a project's submitted annotations, shaped as aligned arrays.

Rows come sorted by (task, annotator), so every task's answers are one contiguous slice
(``bounds``) and per-task work never queries the database again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import ColumnElement, Text, cast, or_, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.annotations.models import Annotation
from labelhouse.quality.data import FloatArray, IntArray
from labelhouse.tasks.models import Task
from labelhouse.tasks.visibility import visible_tasks

SUBMITTED = "submitted"
REJECTED = "rejected"


@dataclass(frozen=True)
class Answers:
    """Submitted annotations of one project, one row each (sorted by task, then user).

    ``task_code``/``user_code`` are dense codes into ``task_ids``/``user_ids``; the rows of
    task code ``t`` are ``bounds[t]:bounds[t + 1]``.
    """

    task_ids: IntArray
    user_ids: IntArray
    task_code: IntArray
    user_code: IntArray
    values: list[dict[str, Any]]
    seconds: FloatArray
    bounds: IntArray

    @property
    def n_tasks(self) -> int:
        return int(self.task_ids.size)

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    def rows_of(self, task: int) -> range:
        return range(int(self.bounds[task]), int(self.bounds[task + 1]))


def counted(project_id: int) -> tuple[ColumnElement[bool], ...]:
    """Which annotations the quality report counts: submitted, and not rejected by a
    reviewer (those no longer count towards agreement or consensus)."""
    return (
        Annotation.project_id == project_id,
        Annotation.status == SUBMITTED,
        or_(Annotation.review_status.is_(None), Annotation.review_status != REJECTED),
    )


def load_answers(session: Session, project_id: int) -> Answers:
    """Every submitted annotation of the project: (task, user, value, seconds) arrays.

    The value is read as the database's JSON text and decoded with orjson, which is several
    times faster than the ORM's JSON type for large projects.
    """
    result = session.execute(
        select(
            Annotation.task_id,
            Annotation.user_id,
            cast(Annotation.value, Text),
            Annotation.lead_time_ms,
        )
        .where(*counted(project_id))
        .order_by(Annotation.task_id, Annotation.user_id)
    )
    tasks: list[int] = []
    users: list[int] = []
    values: list[dict[str, Any]] = []
    millis: list[int] = []
    for task_id, user_id, value, lead in result:
        tasks.append(task_id)
        users.append(user_id)
        decoded = orjson.loads(value) if value else {}
        values.append(decoded if isinstance(decoded, dict) else {})
        millis.append(lead or 0)
    return shape_answers(tasks, users, values, millis)


def shape_answers(
    tasks: list[int], users: list[int], values: list[dict[str, Any]], millis: list[int]
) -> Answers:
    """Aligned rows (sorted by task, then user) as :class:`Answers`."""
    task_arr = np.asarray(tasks, dtype=np.int64)
    user_arr = np.asarray(users, dtype=np.int64)
    task_ids, task_code = np.unique(task_arr, return_inverse=True)
    user_ids, user_code = np.unique(user_arr, return_inverse=True)
    bounds = np.searchsorted(task_code, np.arange(task_ids.size + 1)).astype(np.int64)
    return Answers(
        task_ids=task_ids.astype(np.int64),
        user_ids=user_ids.astype(np.int64),
        task_code=task_code.astype(np.int64).ravel(),
        user_code=user_code.astype(np.int64).ravel(),
        values=values,
        seconds=np.asarray(millis, dtype=np.float64) / 1000.0,
        bounds=bounds,
    )


def load_task_data(session: Session, project_id: int) -> dict[int, dict[str, Any]]:
    """Data of the project's tasks that have a submitted annotation (one query), for kinds
    whose statistics read the task (responses compared, text quoted by spans)."""
    annotated = select(Annotation.task_id).where(
        Annotation.project_id == project_id, Annotation.status == SUBMITTED
    )
    rows = session.execute(
        select(Task.id, cast(Task.data, Text)).where(
            Task.project_id == project_id, Task.id.in_(annotated)
        )
    )
    return {task_id: orjson.loads(data) for task_id, data in rows}


def load_external_ids(session: Session, project_id: int, task_ids: list[int]) -> dict[int, str]:
    if not task_ids:
        return {}
    rows = session.execute(
        select(Task.id, Task.external_id).where(
            Task.project_id == project_id, Task.id.in_(task_ids)
        )
    )
    return {tid: ext for tid, ext in rows if ext is not None}


def load_emails(session: Session, user_ids: list[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return {uid: email for uid, email in rows}


def load_gold(session: Session, project_id: int) -> dict[int, dict[str, Any]]:
    """``{task_id: expected value per field}`` of the project's gold tasks (one query)."""
    rows = session.execute(
        select(Task.id, Task.gold).where(
            Task.project_id == project_id,
            Task.gold.is_not(None),
            visible_tasks(session, project_id),  # not those of an import being staged
        )
    )
    return {task_id: gold for task_id, gold in rows if isinstance(gold, dict)}
