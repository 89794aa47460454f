"""Projects, schemas, task import and media uploads."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile as FormFile

from labelhouse.errors import InvalidInput, Problem, TooLarge
from labelhouse.jobs.model_calls import queue_calls_on_import
from labelhouse.kinds.registry import parse_schema
from labelhouse.projects import service as projects
from labelhouse.rubrics.service import resolve_schema
from labelhouse.tasks import importer, queue, queue_order, undo
from labelhouse.tasks import service as tasks
from labelhouse.tasks.import_files import plan_media
from labelhouse.tasks.queries import recent_imports
from labelhouse.web.api.schemas import PrioritiesIn, ProjectIn, ProjectPatch, SchemaIn
from labelhouse.web.api.serializers import file_out, import_out, keyset_page, project_out
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Cursor, Id

log = logging.getLogger("labelhouse.models")
router = APIRouter(prefix="/api", tags=["projects"])


@router.get("/projects")
def list_projects(
    ctx: Ctx,
    include_archived: bool = False,
    cursor: Cursor = 0,
    limit: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        rows = projects.list_projects(
            s, actor, include_archived=include_archived, after_id=cursor, limit=limit + 1
        )
        return keyset_page(rows, limit, project_out)


@router.post("/projects", status_code=201)
def create_project(body: ProjectIn, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        p = projects.create_project(
            s,
            actor,
            name=body.name,
            schema=body.label_schema,
            description=body.description,
            instructions=body.instructions,
            overlap=body.overlap,
            lease_seconds=body.lease_seconds,
        )
        return project_out(p)


@router.get("/projects/{project_id}")
def get_project(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        p = projects.get_project(s, actor, project_id)
        return {**project_out(p), "schema": projects.current_schema_row(s, p).document}


@router.patch("/projects/{project_id}")
def update_project(project_id: Id, body: ProjectPatch, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        p = queue.update_project(s, actor, project_id, body.changes())
        return project_out(p)


@router.get("/projects/{project_id}/schema")
def get_schema(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        p = projects.get_project(s, actor, project_id)
        row = projects.current_schema_row(s, p)
        return {"version": row.version, "schema": row.document, "created_at": row.created_at}


@router.put("/projects/{project_id}/schema")
def set_schema(project_id: Id, body: SchemaIn, ctx: Ctx) -> dict[str, Any]:
    """Store a new schema version; annotations keep the version they were made under."""
    with ctx.write() as (s, actor):
        row = projects.set_schema(s, actor, project_id, body.label_schema)
        return {"version": row.version, "schema": row.document, "created_at": row.created_at}


@router.get("/projects/{project_id}/schema/versions")
def schema_versions(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        p = projects.get_project(s, actor, project_id)
        items = [
            {"version": r.version, "schema": r.document, "created_at": r.created_at}
            for r in projects.schema_versions(s, p)
        ]
    return {"items": items, "next_cursor": None}


@router.post("/schemas/validate")
def validate_schema(body: SchemaIn, ctx: Ctx) -> dict[str, Any]:
    """Validate a schema without storing it (the schema editor calls this as you type)."""
    with ctx.read() as (s, actor):
        parsed = resolve_schema(s, actor.organization_id, parse_schema(body.label_schema))
    return {"valid": True, "schema": parsed.model_dump(mode="json", exclude_none=True)}


async def _spool_body(request: Request, limit: int) -> tempfile.SpooledTemporaryFile[bytes]:
    # Closed by the caller once the import has read it.
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
        max_size=4 << 20
    )
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spool.close()
            raise TooLarge(f"The upload is larger than {limit:,} bytes.")
        spool.write(chunk)
    spool.seek(0)
    return spool


MAX_IMPORT_FILES = 1000  # images sent along with one task file


@router.post("/projects/{project_id}/import")
async def import_tasks(
    project_id: Id,
    request: Request,
    ctx: Ctx,
    format: str | None = Query(default=None, description="jsonl, json, csv or parquet"),
    filename: str | None = Query(default=None, description="used to guess the format"),
    skip_invalid: bool = False,
) -> dict[str, Any]:
    """Import tasks from the request body (raw file, or multipart with a ``file`` part).

    The body is spooled to disk while it arrives, then read row by row; nothing is stored
    unless every row is valid (or ``skip_invalid`` is set, which reports rejected rows).
    A multipart request may also send images as ``files`` parts: those some row refers to
    are uploaded first (``uploaded_files``), the others are not (``unreferenced_files``).
    """
    content_type = request.headers.get("content-type", "")
    images: dict[str, Any] = {}
    if content_type.startswith("multipart/form-data"):
        form = await request.form(
            max_files=MAX_IMPORT_FILES + 1, max_part_size=ctx.settings.max_upload_bytes
        )
        upload = form.get("file")
        # request.form() gives Starlette's UploadFile, a base class of FastAPI's
        if not isinstance(upload, FormFile):
            raise InvalidInput(
                "Send the file in a form field named 'file'.", [Problem("file", "missing")]
            )
        name = filename or upload.filename or "upload"
        stream: Any = upload.file
        for image in form.getlist("files"):
            if isinstance(image, FormFile):
                images.setdefault(image.filename or "", image.file)
    else:
        stream = await _spool_body(request, ctx.settings.max_upload_bytes)
        name = filename or ("upload." + (format or "jsonl"))
    try:
        return await run_in_threadpool(
            _run_import, ctx, project_id, stream, name, format, skip_invalid, images
        )
    finally:
        stream.close()


def _run_import(
    ctx: Context,
    project_id: int,
    stream: Any,
    name: str,
    fmt: str | None,
    skip_invalid: bool,
    images: dict[str, Any],
) -> dict[str, Any]:
    # Who asks, and whether they may (a refusal is recorded as usual); the import then runs
    # in transactions of its own (short ones on SQLite, so annotators keep working).
    with ctx.write() as (_, actor):
        file_format = importer.check_may_import(actor, project_id, name, fmt)
    uploaded: list[str] = []
    unreferenced: list[str] = []
    if images:
        with ctx.read() as (s, actor):
            plan = plan_media(s, actor, project_id, images, stream, file_format)
        if plan.upload:
            with ctx.write() as (s, actor):
                for stored, source in plan.upload:
                    tasks.store_file(
                        s,
                        actor,
                        project_id,
                        name=stored,
                        source=source,
                        storage=ctx.storage,
                        max_bytes=ctx.settings.max_upload_bytes,
                    )
        uploaded, unreferenced = [n for n, _ in plan.upload], plan.unreferenced
    result = importer.run_import(
        ctx.db,
        actor,
        project_id,
        stream,
        filename=name,
        file_format=fmt,
        skip_invalid=skip_invalid,
        media=ctx.media,
    )
    out = result.as_dict() | {"uploaded_files": uploaded, "unreferenced_files": unreferenced}
    if result.import_id:  # the project may ask a model about new tasks (docs/models.md)
        models = queue_calls_on_import(ctx.db, ctx.settings, actor, project_id, result.import_id)
        for queued in models:
            if "job" in queued:
                try:
                    ctx.request.app.state.jobs.enqueue(queued["job"])
                except Exception:  # recovery enqueues it again (jobs.service.REENQUEUE_AFTER)
                    log.exception("job %s: enqueue failed", queued["job"])
        if models:
            out["models"] = models
    return out


@router.get("/projects/{project_id}/imports")
def list_imports(
    project_id: Id,
    ctx: Ctx,
    cursor: Cursor = 0,
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    """The project's import runs, newest first (``cursor``: the ``next_cursor`` of the page
    before; managers only)."""
    with ctx.read() as (s, actor):
        rows = recent_imports(s, actor, project_id, before_id=cursor, limit=limit + 1)
        return keyset_page(rows, limit, import_out)


@router.post("/projects/{project_id}/tasks/priorities")
def set_priorities(project_id: Id, body: PrioritiesIn, ctx: Ctx) -> dict[str, Any]:
    """Set tasks' priorities (by ``task_id`` or ``external_id``; higher is served first when
    the project's ``queue_order`` is ``priority``). All or nothing; managers only."""
    with ctx.write() as (s, actor):
        updated = queue_order.set_priorities(s, actor, project_id, body.priorities)
    return {"updated": updated}


@router.delete("/projects/{project_id}/imports/{import_id}/tasks")
def undo_import(project_id: Id, import_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Undo an import: remove its tasks that nobody has worked on (never handed out, no
    annotation) with their predictions. Tasks someone worked on stay and are counted as
    ``kept``. The import's record stays, with ``removed`` added up; its keys are free, so a
    corrected file can be imported."""
    with ctx.write() as (s, actor):
        return undo.undo_import(s, actor, project_id, import_id).as_dict()


@router.post("/projects/{project_id}/files", status_code=201)
def upload_files(project_id: Id, files: list[UploadFile], ctx: Ctx) -> dict[str, Any]:
    """Upload images (PNG, JPEG, GIF, WebP); tasks refer to them by file name."""
    out = []
    with ctx.write() as (s, actor):
        for upload in files:
            row, created = tasks.store_file(
                s,
                actor,
                project_id,
                name=upload.filename or "",
                source=upload.file,
                storage=ctx.storage,
                max_bytes=ctx.settings.max_upload_bytes,
            )
            out.append({**file_out(row), "created": created})
    return {"items": out}


@router.get("/files/{file_id}")
def download_file(file_id: Id, ctx: Ctx) -> StreamingResponse:
    with ctx.read() as (s, actor):
        row = tasks.get_file(s, actor, file_id)
        key, content_type, size = row.storage_key, row.content_type, row.size
    return StreamingResponse(
        ctx.storage.iter_bytes(key),
        media_type=content_type,
        headers={
            "content-length": str(size),
            "cache-control": "private, max-age=86400",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )
