"""One streaming read of a project's submitted annotations, shaped as aligned columns.

Rows come sorted by (task, annotator), so every task's answers are one contiguous slice
(``bounds``) and per-task work never queries the database again. Values are kept as codes:
an answer's JSON text is decoded once per distinct text (a categorical project of 300,000
answers has a handful), and :meth:`Answers.field` gives one field's values as codes into
its distinct values, so statistics map a few values to classes instead of every row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import orjson
from sqlalchemy import ColumnElement, Text, cast, or_, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.annotations.models import Annotation
from labelhouse.annotations.service import DRAFT
from labelhouse.quality.data import FloatArray, IntArray
from labelhouse.review.service import ACCEPTED, CORRECTED, ReviewStats
from labelhouse.tasks.models import Task
from labelhouse.tasks.visibility import visible_tasks

SUBMITTED = "submitted"
REJECTED = "rejected"  # review.service.REJECTED
_ABSENT = object()


@dataclass(frozen=True)
class FieldColumn:
    """One field over every row: ``codes[r]`` indexes ``values`` (-1: the row lacks it)."""

    codes: IntArray
    values: list[Any]

    def rows(self) -> IntArray:
        return np.flatnonzero(self.codes >= 0)


@dataclass(frozen=True)
class Answers:
    """Submitted annotations of one project, one row each (sorted by task, then user).

    ``task_code``/``user_code`` are dense codes into ``task_ids``/``user_ids``; the rows of
    task code ``t`` are ``bounds[t]:bounds[t + 1]``. Row ``r``'s value is
    ``distinct[value_code[r]]`` (shared between rows with the same JSON text: read-only).
    """

    task_ids: IntArray
    user_ids: IntArray
    task_code: IntArray
    user_code: IntArray
    value_code: IntArray
    distinct: list[dict[str, Any]]
    seconds: FloatArray
    bounds: IntArray
    _fields: dict[str, FieldColumn] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_tasks(self) -> int:
        return int(self.task_ids.size)

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_rows(self) -> int:
        return int(self.value_code.size)

    @cached_property
    def values(self) -> list[dict[str, Any]]:
        """Row values as a list (for per-row work on kinds without classes)."""
        distinct = self.distinct
        return [distinct[c] for c in self.value_code.tolist()]

    def rows_of(self, task: int) -> range:
        return range(int(self.bounds[task]), int(self.bounds[task + 1]))

    def field(self, name: str) -> FieldColumn:
        """Field ``name`` of every row as codes into its distinct values (computed once)."""
        column = self._fields.get(name)
        if column is None:
            column = _field_column(self.distinct, self.value_code, name)
            self._fields[name] = column
        return column


def _field_column(distinct: list[dict[str, Any]], value_code: IntArray, name: str) -> FieldColumn:
    values: list[Any] = []
    seen: dict[bytes, int] = {}
    mapping = np.full(len(distinct) + 1, -1, dtype=np.int64)  # the last: no rows at all
    for d, doc in enumerate(distinct):
        value = doc.get(name, _ABSENT)
        if value is _ABSENT:
            continue
        key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        code = seen.get(key)
        if code is None:
            code = seen[key] = len(values)
            values.append(value)
        mapping[d] = code
    return FieldColumn(mapping[value_code] if value_code.size else value_code.copy(), values)


def _decode(text: str | None) -> dict[str, Any]:
    decoded = orjson.loads(text) if text else {}
    return decoded if isinstance(decoded, dict) else {}


def counted(project_id: int) -> tuple[ColumnElement[bool], ...]:
    """Which annotations the quality report counts: submitted, and not rejected by a
    reviewer (those no longer count towards agreement or consensus)."""
    return (
        Annotation.project_id == project_id,
        Annotation.status == SUBMITTED,
        or_(Annotation.review_status.is_(None), Annotation.review_status != REJECTED),
    )


def load_answers(session: Session, project_id: int) -> Answers:
    """Every submitted annotation of the project, as columns.

    One plain (not ORM) query of four columns; the value is read as the database's JSON
    text, and each distinct text is decoded once with orjson. Rows are sorted here with
    numpy rather than by the database.
    """
    result = session.connection().execute(
        select(
            Annotation.task_id,
            Annotation.user_id,
            cast(Annotation.value, Text),
            Annotation.lead_time_ms,
        ).where(*counted(project_id))
    )
    try:  # the driver's rows as they come: no result processing is needed for these types
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    n = len(rows)
    table = np.array(rows, dtype=object).reshape(n, 4)
    tasks = table[:, 0].astype(np.int64)
    users = table[:, 1].astype(np.int64)
    # Distinct texts in order of appearance, then a code per row, both by C-level loops
    # (dict.fromkeys, map): a Python-level lookup per row was a third of the load's time.
    texts = table[:, 2].tolist()
    index: dict[str | None, int] = dict.fromkeys(texts, 0)
    for code, text in enumerate(index):
        index[text] = code
    codes = np.fromiter(map(index.__getitem__, texts), dtype=np.int64, count=n)
    distinct = [_decode(text) for text in index]
    del texts
    leads = table[:, 3]
    leads[np.equal(leads, None)] = 0
    millis = leads.astype(np.float64)
    del rows, table
    return _shaped(tasks, users, codes, distinct, millis)


def shape_coded(
    tasks: list[int],
    users: list[int],
    codes: list[int],
    distinct: list[dict[str, Any]],
    millis: list[int],
) -> Answers:
    """Aligned rows (any order) as :class:`Answers`, row ``r``'s value ``distinct[codes[r]]``
    (rows with the same JSON text share one decoded value)."""
    return _shaped(
        np.asarray(tasks, dtype=np.int64),
        np.asarray(users, dtype=np.int64),
        np.asarray(codes, dtype=np.int64),
        distinct,
        np.asarray(millis, dtype=np.float64),
    )


def _shaped(
    tasks: IntArray,
    users: IntArray,
    codes: IntArray,
    distinct: list[dict[str, Any]],
    millis: FloatArray,
) -> Answers:
    order = np.lexsort((users, tasks))
    tasks, users, codes, millis = tasks[order], users[order], codes[order], millis[order]
    task_ids, task_code = np.unique(tasks, return_inverse=True)
    user_ids, user_code = np.unique(users, return_inverse=True)
    bounds = np.searchsorted(task_code, np.arange(task_ids.size + 1)).astype(np.int64)
    return Answers(
        task_ids=task_ids.astype(np.int64),
        user_ids=user_ids.astype(np.int64),
        task_code=task_code.astype(np.int64).ravel(),
        user_code=user_code.astype(np.int64).ravel(),
        value_code=codes,
        distinct=distinct,
        seconds=millis / 1000.0,
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


def load_review_stats(session: Session, project_id: int) -> dict[int, ReviewStats]:
    """Per annotator: review decisions on their answers (``review.service.review_stats``
    without the access check, for a report computed in the background).

    Status and review status are named (not ``IS NOT NULL``) so that the read is a range of
    ``ix_annotation_watermark`` holding only the reviewed answers; a filter the index cannot
    serve made the planner walk every answer of the project (0.3 s at 300,000)."""
    rows = session.execute(
        select(Annotation.user_id, Annotation.review_status).where(
            Annotation.project_id == project_id,
            Annotation.status.in_((DRAFT, SUBMITTED)),
            Annotation.review_status.in_((ACCEPTED, REJECTED, CORRECTED)),
        )
    ).all()
    counts: Counter[tuple[int, str]] = Counter((u, str(status)) for u, status in rows)
    emails = load_emails(session, sorted({user_id for user_id, _ in counts}))
    out: dict[int, ReviewStats] = {}
    for (user_id, status), count in sorted(counts.items()):
        stats = out.setdefault(user_id, ReviewStats(user_id, emails.get(user_id, "")))
        setattr(stats, status, getattr(stats, status) + count)
    return out
