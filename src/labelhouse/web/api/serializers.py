"""Turn domain objects into the JSON the API returns (one place, shared by all routes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Response
from sqlalchemy.orm import Session

from labelhouse.accounts.models import ApiToken
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.annotations.service import Saved
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import ProjectRow, load_schema
from labelhouse.projects.skip_reasons import skip_reasons_of
from labelhouse.tasks.media_access import remote_media_urls
from labelhouse.tasks.models import StoredFile, Task, TaskImport
from labelhouse.tasks.outside_policy import OutsideServing
from labelhouse.tasks.service import media_urls, task_status


def project_out(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "instructions": project.instructions,
        "overlap": project.overlap,
        "lease_seconds": project.lease_seconds,
        "schema_version": project.schema_version,
        "archived": project.archived,
        "created_at": project.created_at,
        "gold_rate": project.gold_rate,
        "gold_first_n": project.gold_first_n,
        "gold_min_accuracy": project.gold_min_accuracy,
        "gold_min_answers": project.gold_min_answers,
        "gold_exposure_limit": project.gold_exposure_limit,
        "review_mode": project.review_mode,
        "review_sample_rate": project.review_sample_rate,
        "review_agreement_threshold": project.review_agreement_threshold,
        "skip_reasons": skip_reasons_of(project),
        "queue_order": project.queue_order,
    }


def annotation_out(a: Annotation | Saved, outside: OutsideServing | None = None) -> dict[str, Any]:
    """``outside``: shown to a vendor's person, whose answers are redacted like task data
    (a spans answer carries the original text it marks)."""
    return {
        "id": a.id,
        "task_id": a.task_id,
        "annotator_id": a.user_id,
        "status": a.status,
        "review_status": a.review_status,
        "value": a.value if outside is None else outside.answer(a.value),
        "schema_version": a.schema_version,
        "revision": a.revision,
        "lead_time_ms": a.lead_time_ms,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def revision_out(r: AnnotationRevision, outside: OutsideServing | None = None) -> dict[str, Any]:
    return {
        "revision": r.revision,
        "status": r.status,
        "value": r.value if outside is None else outside.answer(r.value),
        "schema_version": r.schema_version,
        "lead_time_ms": r.lead_time_ms,
        "created_at": r.created_at,
    }


def prediction_out(p: Any, outside: OutsideServing | None = None) -> dict[str, Any]:
    """``p``: a Prediction or a row with its id, model_version, score and value."""
    value = p.value if outside is None else outside.prediction(p.value)
    return {"id": p.id, "model_version": p.model_version, "score": p.score, "value": value}


def file_out(f: StoredFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "content_type": f.content_type,
        "size": f.size,
        "width": f.width,
        "height": f.height,
        "url": f"/api/files/{f.id}",
    }


def import_out(i: TaskImport) -> dict[str, Any]:
    return {
        "id": i.id,
        "filename": i.filename,
        "format": i.file_format,
        "user_id": i.user_id,
        "rows": i.rows,
        "created": i.created,
        "duplicates": i.duplicates,
        "rejected": i.rejected,
        "removed": i.removed,
        "removed_at": i.removed_at,
        "created_at": i.created_at,
    }


def media_names(schema: LabelSchema, task: Task, data: dict[str, Any] | None = None) -> list[str]:
    """Uploaded-file names the task's data (or ``data``, what is shown of it) refers to
    (e.g. a boxes field's image)."""
    data = task.data if data is None else data
    return [data[k] for f in schema.fields for k in f.media_keys() if isinstance(data.get(k), str)]


def task_out(
    session: Session,
    task: Task,
    project: ProjectRow,
    *,
    predictions: list[Any] | None = None,
    annotations: list[Annotation] | None = None,
    media: dict[str, str] | None = None,
    outside: OutsideServing | None = None,
) -> dict[str, Any]:
    """A task as JSON. ``media`` (name → URL) may be resolved by the caller for a whole
    page of tasks at once; otherwise this task's files are looked up here. ``outside``:
    shown to a vendor's person (data, media, predictions and answers as the project's
    outside policy allows; see :mod:`labelhouse.tasks.outside_policy`)."""
    data = task.data if outside is None else outside.data(task.id, task.data)
    schema = load_schema(session, project)
    if media is None:
        names = media_names(schema, task, data)
        media = media_urls(session, project.id, names) if names else {}
    else:
        media = {n: media[n] for n in media_names(schema, task, data) if n in media}
    media |= remote_media_urls(schema, task.id, data)  # media by URL: through our route
    out: dict[str, Any] = {
        "id": task.id,
        "project_id": task.project_id,
        "external_id": task.external_id if outside is None else outside.text(task.external_id),
        "data": data,
        "status": task_status(task, project.overlap),
        "annotations_done": task.done,
        "created_at": task.created_at,
        "media": media,
    }
    if predictions is not None:
        out["predictions"] = [prediction_out(p, outside) for p in predictions]
    if annotations is not None:
        out["annotations"] = [annotation_out(a, outside) for a in annotations]
    return out


def tasks_out(
    session: Session,
    tasks: list[Task],
    project: ProjectRow,
    *,
    outside: OutsideServing | None = None,
) -> list[dict[str, Any]]:
    """A page of tasks with their media resolved in one query (not one per task)."""
    schema = load_schema(session, project)
    names = sorted({n for t in tasks for n in media_names(schema, t)})
    media = media_urls(session, project.id, names) if names else {}
    return [task_out(session, t, project, media=media, outside=outside) for t in tasks]


def keyset_page(
    rows: list[Any], limit: int, out: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """A list response from ``limit + 1`` rows fetched in cursor order: the extra row only
    tells that there is a next page, whose cursor is the last shown id."""
    items = [out(row) for row in rows[:limit]]
    return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}


def json_response(body: Any, status_code: int = 200) -> Response:
    """Serialise with orjson (datetimes, nested dicts) straight to bytes: the hot endpoints
    skip FastAPI's generic encoder."""
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


def tokens_out(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "expires_at": t.expires_at,
        "read_only": t.read_only,
    }


def revoked_tokens_sentence(revoked: list[ApiToken]) -> str:
    """The end of a sentence telling someone which of their API tokens were revoked."""
    if not revoked:
        return "."
    names = ", ".join(f"'{t.name}' ({t.prefix}…)" for t in revoked)
    noun = "token was" if len(revoked) == 1 else f"{len(revoked)} tokens were"
    return f"; your API {noun} revoked: {names}. Create new ones on your account page."


def actor_out(actor: Actor) -> dict[str, Any]:
    return {
        "user_id": actor.user_id,
        "email": actor.email,
        "organization_id": actor.organization_id,
        "role": actor.role.value,
    }
