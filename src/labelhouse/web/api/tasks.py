"""The work queue, tasks and annotations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from labelhouse.annotations import service as annotations
from labelhouse.projects.service import load_schema_and_document, project_row
from labelhouse.tasks import queue
from labelhouse.tasks import service as tasks
from labelhouse.web.api.schemas import AnnotationIn, SkipIn
from labelhouse.web.api.serializers import annotation_out, json_response, revision_out, task_out
from labelhouse.web.deps import Ctx

router = APIRouter(prefix="/api", tags=["work"])


@router.post("/projects/{project_id}/next")
def next_task(project_id: int, ctx: Ctx) -> Response:
    """Lease the next task for the caller (the same one again while the lease is held).

    ``task`` is null when nothing is left for this annotator. The response carries the
    schema so a client needs no second request; ``annotations`` holds the caller's own
    draft or submission if there is one.
    """
    with ctx.write() as (s, actor):
        lease = queue.claim_next(s, actor, project_id)
        if lease is None:
            version = project_row(s, actor, project_id).schema_version
            return json_response({"task": None, "lease": None, "schema_version": version})
        project = lease.project
        _, document = load_schema_and_document(s, project)
        task_id = lease.task.id
        preds = tasks.predictions_for(s, [task_id])[task_id]
        # A fresh lease cannot have an annotation yet (a task is never leased twice).
        own = [] if lease.created else annotations.own_annotations(s, actor, task_id)
        body = {
            "task": task_out(s, lease.task, project, predictions=preds, annotations=own),
            "lease": {"expires_at": lease.expires_at, "new": lease.created},
            "schema_version": project.schema_version,
            "schema": document,
        }
    return json_response(body)


@router.post("/tasks/{task_id}/skip", status_code=204)
def skip_task(task_id: int, ctx: Ctx, body: SkipIn | None = None) -> None:
    with ctx.write() as (s, actor):
        queue.skip(s, actor, task_id, reason=body.reason if body else None)


@router.delete("/tasks/{task_id}/lease", status_code=204)
def release_task(task_id: int, ctx: Ctx) -> None:
    with ctx.write() as (s, actor):
        queue.release(s, actor, task_id)


@router.get("/projects/{project_id}/tasks")
def list_tasks(
    project_id: int,
    ctx: Ctx,
    cursor: int = Query(default=0, ge=0, description="next_cursor from the previous page"),
    limit: int = Query(default=50, ge=1, le=500),
    status: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        page = tasks.list_tasks(
            s,
            actor,
            project_id,
            after_id=cursor,
            limit=limit,
            status=status,
            external_id=external_id,
        )
        project = project_row(s, actor, project_id)
        items = [task_out(s, t, project) for t in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/tasks/{task_id}")
def get_task(task_id: int, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        task, project = tasks.get_task(s, actor, task_id)
        preds = tasks.predictions_for(s, [task.id])[task.id]
        anns = annotations.annotations_of_task(s, actor, task.id)
        return task_out(s, task, project, predictions=preds, annotations=anns)


@router.post("/tasks/{task_id}/annotations")
def save_annotation(task_id: int, body: AnnotationIn, ctx: Ctx) -> Response:
    """Submit (or, with ``draft``, save) the caller's annotation; resubmitting updates it and
    keeps the previous revision. Invalid values: 422 listing every field's problem."""
    with ctx.write() as (s, actor):
        result = annotations.save(
            s, actor, task_id, value=body.value, draft=body.draft, lead_time_ms=body.lead_time_ms
        )
        out = {**annotation_out(result.annotation), "created": result.created}
    return json_response(out)


@router.get("/tasks/{task_id}/annotations")
def task_annotations(task_id: int, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        items = [annotation_out(a) for a in annotations.annotations_of_task(s, actor, task_id)]
    return {"items": items, "next_cursor": None}


@router.get("/annotations/{annotation_id}/history")
def annotation_history(annotation_id: int, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        items = [revision_out(r) for r in annotations.history(s, actor, annotation_id)]
    return {"items": items, "next_cursor": None}
