"""Stream a project's tasks with their annotations and predictions as export records.

Keyset batches keep memory flat however large the project; task data is passed through as
the database's own JSON text (an ``orjson.Fragment``) instead of being parsed and re-encoded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from labelhouse.annotations.models import Annotation
from labelhouse.tasks.models import Prediction, Task

BATCH = 5000


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt is not None else None


def iter_records(
    session: Session,
    project_id: int,
    *,
    include_drafts: bool = False,
    raw_json: bool = True,
    batch: int = BATCH,
    consensus: Mapping[int, dict[str, Any]] | None = None,
    annotations_included: bool = True,
) -> Iterator[dict[str, Any]]:
    """Yield one record per task. With ``raw_json`` JSON values are ``orjson.Fragment``s
    (re-emitted verbatim by JSON writers); otherwise they are decoded Python objects.

    With ``consensus`` (``{task_id: {field: {value, confidence, method}}}``) each record
    gains a ``consensus`` object (empty for tasks nobody annotated); without
    ``annotations_included`` the raw annotations are left out (and not even read)."""
    wrap = orjson.Fragment if raw_json else orjson.loads
    last_id = 0
    while True:
        tasks = session.execute(
            select(Task.id, Task.external_id, cast(Task.data, Text), Task.created_at)
            .where(Task.project_id == project_id, Task.id > last_id)
            .order_by(Task.id)
            .limit(batch)
        ).all()
        if not tasks:
            return
        lo, hi = tasks[0][0], tasks[-1][0]
        last_id = hi
        annotations: dict[int, list[dict[str, Any]]] = defaultdict(list)
        query = _annotations_query(project_id, lo, hi, include_drafts)
        rows = session.execute(query.order_by(Annotation.id)) if annotations_included else ()
        for (
            task_id,
            aid,
            uid,
            status,
            value,
            version,
            rev,
            lead,
            created,
            updated,
            review_status,
        ) in rows:
            annotations[task_id].append(
                {
                    "id": aid,
                    "annotator_id": uid,
                    "status": status,
                    "value": wrap(value),
                    "schema_version": version,
                    "revision": rev,
                    "lead_time_ms": lead,
                    "created_at": _iso(created),
                    "updated_at": _iso(updated),
                    "review_status": review_status,
                }
            )
        predictions: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for task_id, model_version, score, value in session.execute(
            select(
                Prediction.task_id,
                Prediction.model_version,
                Prediction.score,
                cast(Prediction.value, Text),
            )
            .where(
                Prediction.project_id == project_id,
                Prediction.task_id >= lo,
                Prediction.task_id <= hi,
            )
            .order_by(Prediction.id)
        ):
            predictions[task_id].append(
                {"model_version": model_version, "score": score, "value": wrap(value)}
            )
        for task_id, external_id, data, created in tasks:
            record = {
                "id": task_id,
                "external_id": external_id,
                "data": wrap(data),
                "created_at": _iso(created),
                "annotations": annotations.get(task_id, []),
                "predictions": predictions.get(task_id, []),
            }
            if not annotations_included:
                del record["annotations"]
            if consensus is not None:
                record["consensus"] = consensus.get(task_id, {})
            yield record


def _annotations_query(project_id: int, lo: int, hi: int, include_drafts: bool) -> Any:
    query = select(
        Annotation.task_id,
        Annotation.id,
        Annotation.user_id,
        Annotation.status,
        cast(Annotation.value, Text),
        Annotation.schema_version,
        Annotation.revision,
        Annotation.lead_time_ms,
        Annotation.created_at,
        Annotation.updated_at,
        Annotation.review_status,
    ).where(
        Annotation.project_id == project_id,
        Annotation.task_id >= lo,
        Annotation.task_id <= hi,
    )
    if not include_drafts:
        query = query.where(Annotation.status == "submitted")
    return query
