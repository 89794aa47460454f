"""One read of a project's counted answers, each with the prediction it was pre-filled with.

The pick runs in SQL: a window over (answer × the task's predictions) ranks them by the
shared pre-fill rule (:func:`labelhouse.tasks.prefill.shown_order`), so no per-task query
and no Python sort. Two conditions make "pre-filled" mean "shown to this annotator":

- the prediction existed when the answer was started (``prediction.created_at <=
  annotation.created_at``): a model asked later, e.g. a live endpoint run over tasks
  already labelled, did not pre-fill anything and must not count as accepted;
- the answer was given on the annotate page (``annotation.import_id IS NULL``): imported
  answers never saw a pre-fill.

(Export provenance counts every prediction of the task whatever its date, as its format
documents; the field-level outcome rule is the same.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Text, and_, cast, exists, func, select
from sqlalchemy.orm import Session, aliased

from labelhouse.annotations.models import Annotation
from labelhouse.quality.data import IntArray
from labelhouse.quality_report.loading import Answers, counted, shape_coded
from labelhouse.tasks.models import Prediction, Task
from labelhouse.tasks.prefill import shown_order


@dataclass(frozen=True)
class Prefilled:
    """:class:`Answers` plus, per answer row, the code of the pre-filling model version in
    ``models`` (-1: no pre-fill) and the prediction's value (None without one)."""

    answers: Answers
    model: IntArray
    models: list[str]
    predicted: list[dict[str, Any] | None]

    @property
    def n_prefilled(self) -> int:
        return int((self.model >= 0).sum())


def _decode(text: str | None) -> dict[str, Any]:
    value = orjson.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def has_predictions(session: Session, project_id: int) -> bool:
    """Whether any task of the project has a prediction — through the task (the prediction
    table has no index on ``project_id``), so the cost is bounded by the project's size."""
    found = exists().where(Task.project_id == project_id, Prediction.task_id == Task.id)
    return bool(session.scalar(select(found)))


def count_answers(session: Session, project_id: int) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Annotation).where(*counted(project_id)))
        or 0
    )


def load_prefilled(session: Session, project_id: int) -> Prefilled:
    """Counted answers of the project (as the quality report counts them), sorted by task
    then annotator, each with the prediction the annotate page pre-filled."""
    a, p = Annotation, aliased(Prediction)
    pick = (  # per answer, one index probe on prediction.task_id: no sort of the whole join
        select(p.id)
        .where(p.task_id == a.task_id, p.created_at <= a.created_at, a.import_id.is_(None))
        .order_by(*shown_order(p))
        .limit(1)
        .correlate(a)
        .scalar_subquery()
    )
    shown = aliased(Prediction)
    rows = session.execute(
        select(
            a.task_id,
            a.user_id,
            cast(a.value, Text).label("answer"),
            a.lead_time_ms,
            shown.id,
            shown.model_version,
            cast(shown.value, Text).label("predicted"),
        )
        .outerjoin(shown, and_(shown.id == pick, shown.project_id == project_id))
        .where(*counted(project_id))
        .order_by(a.task_id, a.user_id)
    )
    tasks: list[int] = []
    users: list[int] = []
    texts: dict[str | None, int] = {}  # one decode per distinct answer text, not per row
    value_codes: list[int] = []
    millis: list[int] = []
    model: list[int] = []
    predicted: list[dict[str, Any] | None] = []
    codes: dict[str, int] = {}
    decoded: dict[int, dict[str, Any]] = {}  # one decode per prediction, not per answer
    for task_id, user_id, value, lead, pred_id, version, pred_value in rows:
        tasks.append(task_id)
        users.append(user_id)
        value_codes.append(texts.setdefault(value, len(texts)))
        millis.append(lead or 0)
        if pred_id is None:
            model.append(-1)
            predicted.append(None)
            continue
        model.append(codes.setdefault(version or "", len(codes)))
        if pred_id not in decoded:
            decoded[pred_id] = _decode(pred_value)
        predicted.append(decoded[pred_id])
    return Prefilled(
        answers=shape_coded(tasks, users, value_codes, [_decode(t) for t in texts], millis),
        model=np.asarray(model, dtype=np.int64),
        models=list(codes),
        predicted=predicted,
    )
