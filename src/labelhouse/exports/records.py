"""Stream a project's tasks with their annotations, predictions and reviewed value as
export records.

Keyset batches keep memory flat however large the project (four statements per batch:
tasks, annotations, predictions, reviewed values); task data is passed through as the
database's own JSON text (an ``orjson.Fragment``) instead of being parsed and re-encoded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import String, Text, cast, exists, func, select, type_coerce
from sqlalchemy.orm import Session

from labelhouse.annotations.models import Annotation
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.review.reviewed import ReviewedValue, reviewed_values
from labelhouse.tasks.models import Assignment, Prediction, Task, TaskRoute
from labelhouse.tasks.visibility import visible_tasks

BATCH = 5000


def _iso(stored: str | None) -> str | None:
    """What ``datetime.isoformat()`` gives for a UTC timestamp read as
    ``YYYY-MM-DD[ T]HH:MM:SS.ffffff`` text (see :func:`_utc_text`), by rewriting the text:
    parsing and re-formatting a datetime per value was a third of an export's time."""
    if stored is None:
        return None
    iso = stored.replace(" ", "T", 1)
    return (iso[:-7] if iso.endswith(".000000") else iso) + "+00:00"


def _pg_utc_text(column: Any) -> Any:
    # whatever the session's TimeZone, in UTC and always with six fractional digits
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US')


def _utc_text(session: Session) -> Callable[[Any], Any]:
    """How to select a timestamp column as UTC text for :func:`_iso` (SQLite keeps ours as
    such text already, ``db.base.UtcDateTime``)."""
    if session.get_bind().dialect.name == "sqlite":
        return lambda column: type_coerce(column, String)
    return _pg_utc_text


def iter_records(
    session: Session,
    project_id: int,
    *,
    include_drafts: bool = False,
    raw_json: bool = True,
    batch: int = BATCH,
    consensus: Mapping[int, dict[str, Any]] | None = None,
    annotations_included: bool = True,
    schema: LabelSchema | None = None,
    workforce_id: int | None = None,
    data_view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    answer_view: Callable[[Any], Any] | None = None,
    workforces: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield one record per task. With ``raw_json`` JSON values are ``orjson.Fragment``s
    (re-emitted verbatim by JSON writers); otherwise they are decoded Python objects.

    Every record has ``review``: null, or what review settled on (``review/reviewed.py``).
    With ``consensus`` (``{task_id: {field: {value, confidence, method}}}``) each record
    gains a ``consensus`` object (empty for tasks nobody annotated; for a reviewed task, the
    reviewed value — see :func:`reviewed_consensus`); without ``annotations_included`` the
    raw annotations are left out (and not even read). ``schema`` is the project's current
    one (loaded when not given).

    A workforce's slice (``workforce_id``): only the tasks routed to it, only annotations by
    people served the task in it, no review (a lab decision over every workforce's work),
    and ``data_view`` / ``answer_view`` applied to task data and answers (what its people
    are shown).

    With ``workforces`` each annotation also has ``workforce_id``: the workforce its task
    was served to the annotator through (``Assignment.workforce_id``), or null (one more
    statement per batch, so only provenance asks for it)."""
    wrap = orjson.Fragment if raw_json else orjson.loads
    if schema is None:
        project = session.get(Project, project_id)
        if project is None:
            return
        schema = load_schema(session, project)
    stamp = _utc_text(session)
    visible = visible_tasks(session, project_id)  # read once: the export is one transaction
    last_id = 0
    while True:
        task_query = (
            select(Task.id, Task.external_id, cast(Task.data, Text), stamp(Task.created_at))
            .where(Task.project_id == project_id, Task.id > last_id, visible)
            .order_by(Task.id)
            .limit(batch)
        )
        if workforce_id is not None:
            task_query = task_query.where(
                exists().where(TaskRoute.task_id == Task.id, TaskRoute.workforce_id == workforce_id)
            )
        tasks = session.execute(task_query).all()
        if not tasks:
            return
        lo, hi = tasks[0][0], tasks[-1][0]
        last_id = hi
        annotations: dict[int, list[dict[str, Any]]] = defaultdict(list)
        query = _annotations_query(project_id, lo, hi, include_drafts, stamp)
        if workforce_id is not None:
            query = query.where(
                exists().where(
                    Assignment.task_id == Annotation.task_id,
                    Assignment.user_id == Annotation.user_id,
                    Assignment.workforce_id == workforce_id,
                )
            )
        rows = session.execute(query.order_by(Annotation.id)) if annotations_included else ()
        served = _served_through(session, project_id, lo, hi) if workforces else None
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
            import_id,
        ) in rows:
            annotations[task_id].append(
                {
                    "id": aid,
                    "annotator_id": uid,
                    "status": status,
                    "value": wrap(
                        value
                        if answer_view is None
                        else orjson.dumps(answer_view(orjson.loads(value))).decode()
                    ),
                    "schema_version": version,
                    "revision": rev,
                    "lead_time_ms": lead,
                    "created_at": _iso(created),
                    "updated_at": _iso(updated),
                    "review_status": review_status,
                    # Imported from a file (annotations/imports.py), not submitted here.
                    "imported": import_id is not None,
                }
            )
            if served is not None:
                annotations[task_id][-1]["workforce_id"] = served.get((task_id, uid))
        predictions: dict[int, list[dict[str, Any]]] = defaultdict(list)
        prediction_rows = (
            ()
            if workforce_id is not None
            else session.execute(
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
            )
        )
        for task_id, model_version, score, value in prediction_rows:  # the lab's models only
            predictions[task_id].append(
                {"model_version": model_version, "score": score, "value": wrap(value)}
            )
        reviewed = (
            reviewed_values(session, project_id, schema, lo, hi) if workforce_id is None else {}
        )
        for task_id, external_id, data, created in tasks:
            settled = reviewed.get(task_id)
            if data_view is not None:
                data = orjson.dumps(data_view(orjson.loads(data))).decode()
            record = {
                "id": task_id,
                "external_id": external_id,
                "data": wrap(data),
                "created_at": _iso(created),
                "annotations": annotations.get(task_id, []),
                "predictions": predictions.get(task_id, []),
                "review": settled.as_dict() if settled is not None else None,
            }
            if not annotations_included:
                del record["annotations"]
            if consensus is not None:
                record["consensus"] = reviewed_consensus(settled, consensus.get(task_id, {}))
            yield record


def _served_through(
    session: Session, project_id: int, lo: int, hi: int
) -> dict[tuple[int, int], int | None]:
    """``{(task id, user id): workforce id}`` for the tasks ``lo``..``hi`` served through a
    workforce."""
    rows = session.execute(
        select(Assignment.task_id, Assignment.user_id, Assignment.workforce_id).where(
            Assignment.project_id == project_id,
            Assignment.task_id >= lo,
            Assignment.task_id <= hi,
            Assignment.workforce_id.is_not(None),
        )
    )
    return {(task_id, user_id): workforce for task_id, user_id, workforce in rows}


def reviewed_consensus(settled: ReviewedValue | None, computed: dict[str, Any]) -> dict[str, Any]:
    """A reviewed task's consensus is its reviewed value, field by field, with confidence 1
    and method ``review`` (reviewed labels are the ground truth a dataset wants); fields the
    reviewed value leaves empty have no consensus, like fields nobody answered. Tasks
    without a reviewed value keep the ``computed`` consensus."""
    if settled is None or settled.value is None:
        return computed
    return {
        name: {"value": value, "confidence": 1.0, "method": "review"}
        for name, value in settled.value.items()
    }


def _annotations_query(
    project_id: int,
    lo: int,
    hi: int,
    include_drafts: bool,
    stamp: Callable[[Any], Any] = lambda column: column,
) -> Any:
    query = select(
        Annotation.task_id,
        Annotation.id,
        Annotation.user_id,
        Annotation.status,
        cast(Annotation.value, Text),
        Annotation.schema_version,
        Annotation.revision,
        Annotation.lead_time_ms,
        stamp(Annotation.created_at),
        stamp(Annotation.updated_at),
        Annotation.review_status,
        Annotation.import_id,
    ).where(
        Annotation.project_id == project_id,
        Annotation.task_id >= lo,
        Annotation.task_id <= hi,
    )
    if not include_drafts:
        query = query.where(Annotation.status == "submitted")
    return query
