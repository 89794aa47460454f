"""Importing existing annotations: ``POST /api/projects/{id}/annotations/import``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile

from labelhouse.annotations import imports
from labelhouse.errors import InvalidInput, Problem
from labelhouse.web.api.projects import _spool_body
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["annotations"])


@router.post("/projects/{project_id}/annotations/import")
async def import_annotations(
    project_id: Id,
    request: Request,
    ctx: Ctx,
    format: str | None = Query(default=None, description="jsonl, json, csv or long"),
    filename: str | None = Query(default=None, description="used to guess the format"),
    field: str | None = Query(default=None, description="long format: the field labels answer"),
    update: bool = Query(default=False, description="a different answer becomes a revision"),
    workforce: str | None = Query(default=None, description="workforce of new externals"),
) -> dict[str, Any]:
    """Import answers a lab already has (project managers).

    The body is a file (raw, or multipart with a ``file`` part) in JSONL, JSON, CSV or the
    long format (item, worker, label), or a JSON object ``{"rows": [...]}`` of rows
    ``{"external_id" | "task_id", "annotator", "value", "created_at"?, "lead_time_ms"?}``.
    All or nothing: one bad row stores nothing and the 422 names every row and field.
    Importing the same answers again changes nothing (``unchanged``); see docs/import.md."""
    content_type = request.headers.get("content-type", "")
    options = {"field_name": field, "update": update, "workforce": workforce}
    if content_type.startswith("application/json"):
        body = await _spool_body(request, ctx.settings.max_upload_bytes)
        try:
            document = orjson.loads(body.read())
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("The body is not valid JSON.", [Problem("body", str(exc))]) from None
        finally:
            body.close()
        rows = document.get("rows") if isinstance(document, dict) else None
        if not isinstance(rows, list):
            raise InvalidInput(
                'Send {"rows": [...]} or a file.', [Problem("rows", "expected a list of rows")]
            )
        located = [(f"rows[{i}]", row) for i, row in enumerate(rows)]
        return await run_in_threadpool(_rows, ctx, project_id, located, options)
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_part_size=ctx.settings.max_upload_bytes)
        upload = form.get("file")
        if not isinstance(upload, FormFile):
            raise InvalidInput(
                "Send the file in a form field named 'file'.", [Problem("file", "missing")]
            )
        name = filename or upload.filename or "upload"
        stream: Any = upload.file
    else:
        stream = await _spool_body(request, ctx.settings.max_upload_bytes)
        name = filename or ("upload." + (format or "jsonl"))
    try:
        return await run_in_threadpool(_file, ctx, project_id, stream, name, format, options)
    finally:
        stream.close()


def _file(
    ctx: Context,
    project_id: int,
    stream: Any,
    name: str,
    fmt: str | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    with ctx.write() as (_, actor):  # who asks, and whether they may (refusals recorded)
        imports.check_may_import(actor, project_id, name, fmt)
    with ctx.db.session(long_running=True) as s:  # a big file: no interactive timeout
        result = imports.import_file(
            s, actor, project_id, stream, filename=name, file_format=fmt, **options
        )
        result.raise_for_problems(name)
    return result.as_dict()


def _rows(
    ctx: Context, project_id: int, located: list[tuple[str, Any]], options: dict[str, Any]
) -> dict[str, Any]:
    options = {k: v for k, v in options.items() if k != "field_name"}
    with ctx.write() as (_, actor):
        imports.check_may_import(actor, project_id, "rows.json", "json")
    with ctx.db.session(long_running=True) as s:
        result = imports.import_located(
            s, actor, project_id, located, source="api", filename=None, **options
        )
        result.raise_for_problems()
    return result.as_dict()
