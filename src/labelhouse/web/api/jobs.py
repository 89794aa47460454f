"""Background exports, snapshots and imports: start one (202 and the job), follow it, cancel it,
download its result with HTTP Range; snapshots listed per project, their manifests and
files."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from labelhouse.errors import Conflict
from labelhouse.jobs import service as jobs
from labelhouse.jobs.exports import request_export, request_snapshot
from labelhouse.jobs.imports import check_import, request_import
from labelhouse.jobs.models import SUCCEEDED, Job, Snapshot
from labelhouse.jobs.snapshots import get_snapshot, list_snapshots, snapshot_file
from labelhouse.web.api.exports import COMMON_PARAMETERS
from labelhouse.web.api.projects import _spool_body
from labelhouse.web.api.serializers import json_response
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.downloads import stored_file
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["jobs"])
log = logging.getLogger("labelhouse.jobs")


class ExportIn(BaseModel):
    """The parameters of ``GET /api/projects/{id}/export``, as a JSON body."""

    model_config = ConfigDict(extra="forbid")
    format: str = "jsonl"
    include_drafts: bool = False
    content: str = "raw"
    consensus_method: str = "majority"
    csv_formulas: str = "escape"
    options: dict[str, str] = Field(default_factory=dict, description="the format's own")


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)
    formats: list[str] = Field(default_factory=lambda: ["jsonl"], min_length=1, max_length=20)
    include_drafts: bool = False
    content: str = "raw"
    consensus_method: str = "majority"
    csv_formulas: str = "escape"
    options: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="per format: that format's own options"
    )


def job_out(job: Job) -> dict[str, Any]:
    done, total = job.progress_done, job.progress_total
    result = None
    if job.state == SUCCEEDED and job.result_key:
        result = {
            "name": job.result_name,
            "media_type": job.result_media_type,
            "size": job.result_size,
            "sha256": job.result_sha256,
            "download_url": f"/api/jobs/{job.id}/download",
        }
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "project_id": job.project_id,
        "requested_by": job.requested_by,
        "snapshot_id": job.params.get("snapshot_id"),
        "format": job.params.get("format"),
        "progress": {
            "done": done,
            "total": total,
            "fraction": round(min(done / total, 1.0), 4) if total else None,
        },
        "attempts": job.attempts,
        "error": job.error,
        "result": result,
        "outcome": job.outcome,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "heartbeat_at": job.heartbeat_at,
        "finished_at": job.finished_at,
    }


def snapshot_out(snapshot: Snapshot, job: Job) -> dict[str, Any]:
    files = []
    if snapshot.manifest is not None:
        files = [
            {**f, "download_url": f"/api/snapshots/{snapshot.id}/files/{f['name']}"}
            for f in snapshot.manifest["files"]
        ]
        files.append(
            {
                "name": "manifest.json",
                "size": job.result_size,
                "sha256": job.result_sha256,
                "download_url": f"/api/snapshots/{snapshot.id}/files/manifest.json",
            }
        )
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "project_id": snapshot.project_id,
        "settings": snapshot.settings,
        "created_at": snapshot.created_at,
        "completed_at": snapshot.completed_at,
        "job": job_out(job),
        "files": files,
    }


def _enqueue(ctx: Context, job_id: int) -> None:
    """After the commit. If the queue cannot take it now, the job stays queued and the
    periodic recovery enqueues it again (jobs.service.REENQUEUE_AFTER)."""
    try:
        ctx.request.app.state.jobs.enqueue(job_id)
    except Exception:
        log.exception("job %s: enqueue failed; recovery will enqueue it again", job_id)


@router.post("/projects/{project_id}/exports", status_code=202)
def start_export(
    project_id: Id, ctx: Ctx, request: Request, body: ExportIn | None = None
) -> Response:
    """Start a background export: 202 with the job (follow ``GET /api/jobs/{id}``). Takes
    the parameters of ``GET …/export`` as a JSON body, or as query parameters (then any
    other query parameter is an option of the format)."""
    if body is None:
        query = request.query_params
        body = ExportIn(
            format=query.get("format", "jsonl"),
            include_drafts=query.get("include_drafts", "false").lower() in ("1", "true", "on"),
            content=query.get("content", "raw"),
            consensus_method=query.get("consensus_method", "majority"),
            csv_formulas=query.get("csv_formulas", "escape"),
            options={k: v for k, v in query.items() if k not in COMMON_PARAMETERS},
        )
    with ctx.write() as (s, actor):
        job = request_export(
            s,
            actor,
            project_id,
            format_name=body.format,
            include_drafts=body.include_drafts,
            content=body.content,
            consensus_method=body.consensus_method,
            csv_formulas=body.csv_formulas,
            options=body.options,
        )
        out = job_out(job)
    _enqueue(ctx, job.id)
    return json_response(out, status_code=202)


@router.post("/projects/{project_id}/import/jobs", status_code=202)
async def start_import(
    project_id: Id,
    request: Request,
    ctx: Ctx,
    format: str | None = Query(default=None, description="jsonl, json, csv or parquet"),
    filename: str | None = Query(default=None, description="used to guess the format"),
    skip_invalid: bool = False,
) -> Response:
    """Import a task file (the raw request body) in the background: 202 with the job, whose
    ``outcome`` holds the import's counts once it has succeeded. The upload is staged in
    the file storage first; nothing is imported unless every row is valid (or
    ``skip_invalid``), as with ``POST …/import``."""
    name = filename or ("upload." + (format or "jsonl"))
    await run_in_threadpool(_may_import, ctx, project_id, name, format)  # before the upload
    spool = await _spool_body(request, ctx.settings.max_upload_bytes)
    try:
        out = await run_in_threadpool(
            _stage_import, ctx, project_id, spool, name, format, skip_invalid
        )
    finally:
        spool.close()
    _enqueue(ctx, out["id"])
    return json_response(out, status_code=202)


def _may_import(ctx: Context, project_id: int, name: str, fmt: str | None) -> None:
    with ctx.write() as (s, actor):
        check_import(s, actor, project_id, name, fmt)


def _stage_import(
    ctx: Context,
    project_id: int,
    spool: Any,
    name: str,
    fmt: str | None,
    skip_invalid: bool,
) -> dict[str, Any]:
    key = f"uploads/{uuid.uuid4().hex}"
    ctx.storage.put(key, spool)
    try:
        with ctx.write() as (s, actor):
            job = request_import(
                s,
                actor,
                project_id,
                upload_key=key,
                filename=name,
                file_format=fmt,
                skip_invalid=skip_invalid,
            )
            return job_out(job)
    except BaseException:
        ctx.storage.delete(key)
        raise


@router.get("/projects/{project_id}/jobs")
def project_jobs(
    project_id: Id, ctx: Ctx, limit: int = Query(default=50, ge=1, le=200)
) -> Response:
    """The project's background jobs, newest first (managers)."""
    with ctx.read() as (s, actor):
        items = [job_out(j) for j in jobs.list_jobs(s, actor, project_id, limit=limit)]
    return json_response({"items": items})


@router.get("/jobs/{job_id}")
def get_job(job_id: Id, ctx: Ctx) -> Response:
    """A job's state, progress, error and result (size, SHA-256, download URL)."""
    with ctx.read() as (s, actor):
        return json_response(job_out(jobs.get_job(s, actor, job_id)))


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: Id, ctx: Ctx) -> Response:
    """Cancel a queued or running job (409 once it has finished); nothing is stored."""
    with ctx.write() as (s, actor):
        job = jobs.cancel_job(s, actor, job_id)
        out = job_out(job)
    upload = job.params.get("upload_key")
    if upload and job.attempts == 0:  # it never ran: its staged upload goes now
        ctx.storage.delete(upload)
    return json_response(out)


@router.get("/jobs/{job_id}/download")
def download_job(job_id: Id, ctx: Ctx) -> Response:
    """A finished job's file, with HTTP Range (206, ``Content-Range``, ``If-Range`` against
    the ETag, which is the file's SHA-256; 416 past the end)."""
    with ctx.read() as (s, actor):
        job = jobs.get_job(s, actor, job_id)
        if job.state != SUCCEEDED or not job.result_key:
            raise Conflict(f"Job {job_id} has no file to download (it is {job.state}).")
        assert job.result_size is not None and job.result_sha256 and job.result_name
        return stored_file(
            ctx.request,
            ctx.storage,
            key=job.result_key,
            name=job.result_name,
            media_type=job.result_media_type or "application/octet-stream",
            size=job.result_size,
            sha256=job.result_sha256,
        )


@router.post("/projects/{project_id}/snapshots", status_code=202)
def start_snapshot(project_id: Id, ctx: Ctx, body: SnapshotIn) -> Response:
    """Freeze an export as a snapshot: its files and a manifest (SHA-256 and size of every
    file, counts, schema versions, filters, consensus settings, time), written by a job;
    202 with the snapshot and its job."""
    with ctx.write() as (s, actor):
        snapshot, job = request_snapshot(
            s,
            actor,
            project_id,
            formats=body.formats,
            name=body.name,
            include_drafts=body.include_drafts,
            content=body.content,
            consensus_method=body.consensus_method,
            csv_formulas=body.csv_formulas,
            options=body.options,
        )
        out = snapshot_out(snapshot, job)
    _enqueue(ctx, job.id)
    return json_response(out, status_code=202)


@router.get("/projects/{project_id}/snapshots")
def project_snapshots(project_id: Id, ctx: Ctx) -> Response:
    """The project's snapshots, newest first, with their files once complete."""
    with ctx.read() as (s, actor):
        items = [snapshot_out(*row) for row in list_snapshots(s, actor, project_id)]
    return json_response({"items": items})


@router.get("/snapshots/{snapshot_id}")
def snapshot_manifest(snapshot_id: Id, ctx: Ctx) -> Response:
    """A snapshot with its manifest (null until its job has succeeded)."""
    with ctx.read() as (s, actor):
        snapshot, job = get_snapshot(s, actor, snapshot_id)
        return json_response({**snapshot_out(snapshot, job), "manifest": snapshot.manifest})


@router.get("/snapshots/{snapshot_id}/files/{name}")
def snapshot_download(snapshot_id: Id, name: str, ctx: Ctx) -> Response:
    """One file of a snapshot (or ``manifest.json``) exactly as stored, with HTTP Range."""
    with ctx.read() as (s, actor):
        f = snapshot_file(s, actor, snapshot_id, name)
    return stored_file(
        ctx.request,
        ctx.storage,
        key=f.key,
        name=f.name,
        media_type=f.media_type,
        size=f.size,
        sha256=f.sha256,
    )
