"""Export and snapshot jobs: asking for one (checked and recorded like a download), and
the plain functions the runner calls to produce their files."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelhouse import __version__
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.formats.provenance import PSEUDONYM_SALT
from labelhouse.exports.manifest import MANIFEST_NAME, MANIFEST_VERSION, file_name, manifest_bytes
from labelhouse.exports.service import ExportPlan, plan_export, plan_for
from labelhouse.exports.writers import FORMATS
from labelhouse.jobs.imports import run_import_job
from labelhouse.jobs.models import Job, Snapshot
from labelhouse.jobs.runner import JobRun
from labelhouse.jobs.service import DeadAttempt, Result, create_job
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.tasks.models import Task

EXPORT_SETTINGS = ("format", "include_drafts", "content", "consensus_method", "csv_formulas")


def request_export(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    format_name: str = "jsonl",
    include_drafts: bool = False,
    content: str = "raw",
    consensus_method: str = "majority",
    csv_formulas: str = "escape",
    options: dict[str, str] | None = None,
) -> Job:
    """A queued export job, checked (access, format, options) and audited exactly like a
    streamed download (``plan_export``)."""
    plan_export(
        session,
        actor,
        project_id,
        format_name=format_name,
        include_drafts=include_drafts,
        content=content,
        consensus_method=consensus_method,
        csv_formulas=csv_formulas,
        options=options,
    )
    params = {
        "format": format_name,
        "include_drafts": include_drafts,
        "content": content,
        "consensus_method": consensus_method,
        "csv_formulas": csv_formulas,
        "options": dict(options or {}),
    }
    return create_job(session, actor, project_id=project_id, kind="export", params=params)


def plan_from(
    project: Project,
    schema: LabelSchema,
    settings: dict[str, Any],
    fmt: str,
    *,
    pseudonym_key: str | None = None,
) -> ExportPlan:
    """The plan of an export from stored settings (a job's, or a snapshot's for ``fmt``):
    the same settings and data always give the same plan, hence the same bytes. A
    snapshot's ``pseudonym_key`` fixes the annotator pseudonyms of its files."""
    options = settings.get("options") or {}
    if "formats" in settings:  # a snapshot: options per format
        options = options.get(fmt) or {}
    parsed = FORMATS[fmt].parse_options(schema, dict(options))
    if pseudonym_key is not None:
        parsed[PSEUDONYM_SALT] = bytes.fromhex(pseudonym_key)
    return plan_for(
        project,
        schema,
        fmt,
        include_drafts=bool(settings.get("include_drafts")),
        content=settings.get("content", "raw"),
        consensus_method=settings.get("consensus_method", "majority"),
        csv_formulas=settings.get("csv_formulas", "escape"),
        options=parsed,
    )


def _task_count(session: Session, project_id: int) -> int:
    return int(
        session.scalar(select(func.count(Task.id)).where(Task.project_id == project_id)) or 0
    )


def _stream(run: JobRun, session: Session, plan: ExportPlan, before: int) -> Any:
    for chunk in plan.stream(session):
        yield chunk
        run.control.progress(before + plan.records_written)


def run_export(run: JobRun) -> Result:
    job = run.job
    with run.db.read_session(long_running=True) as s:
        project = s.get(Project, job.project_id)
        assert project is not None  # deleting a project deletes its jobs
        schema = load_schema(s, project)
        plan = plan_from(project, schema, job.params, job.params["format"])
        run.control.progress(0, _task_count(s, job.project_id))
        key = f"jobs/{job.id}/{job.attempt}/export.{plan.fmt.extension}"
        size, sha256 = run.store(key, _stream(run, s, plan, 0))

    def finished(session: Session) -> None:
        audit.record(
            session,
            organization_id=job.organization_id,
            actor_id=job.requested_by,
            action="project.export_finished",
            object_type="project",
            object_id=job.project_id,
            details={"format": plan.format_name, "records": plan.records_written, "job": job.id},
        )

    run.on_success.append(finished)
    return Result(key, plan.filename, plan.media_type, size, sha256)


# -- snapshots -------------------------------------------------------------------------------


def request_snapshot(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    formats: list[str],
    name: str = "",
    include_drafts: bool = False,
    content: str = "raw",
    consensus_method: str = "majority",
    csv_formulas: str = "escape",
    options: dict[str, dict[str, str]] | None = None,
) -> tuple[Snapshot, Job]:
    """A snapshot and the job that will write it; every format is checked (and audited) as
    its export would be."""
    formats = list(dict.fromkeys(formats))
    if not formats:
        raise InvalidInput("Choose at least one format.", [Problem("formats", "empty")])
    options = options or {}
    unknown = sorted(set(options) - set(formats))
    if unknown:
        raise InvalidInput(
            "Options given for formats the snapshot does not include.",
            [Problem("options", f"no such format in formats: {', '.join(unknown)}")],
        )
    for fmt in formats:
        plan_export(
            session,
            actor,
            project_id,
            format_name=fmt,
            include_drafts=include_drafts,
            content=content,
            consensus_method=consensus_method,
            csv_formulas=csv_formulas,
            options=options.get(fmt),
        )
    settings = {
        "formats": formats,
        "include_drafts": include_drafts,
        "content": content,
        "consensus_method": consensus_method,
        "csv_formulas": csv_formulas,
        "options": {k: dict(v) for k, v in options.items()},
    }
    job = create_job(session, actor, project_id=project_id, kind="snapshot", params={})
    snapshot = Snapshot(
        organization_id=actor.organization_id,
        project_id=project_id,
        job_id=job.id,
        name=(name.strip() or f"Snapshot of {utcnow():%Y-%m-%d %H:%M} UTC")[:200],
        settings=settings,
    )
    session.add(snapshot)
    session.flush()
    job.params = {"snapshot_id": snapshot.id}
    return snapshot, job


def _counts(session: Session, project_id: int, include_drafts: bool) -> dict[str, Any]:
    statuses = ["submitted", "draft"] if include_drafts else ["submitted"]
    where = (Annotation.project_id == project_id) & Annotation.status.in_(statuses)
    versions = session.scalars(
        select(Annotation.schema_version)
        .where(where)
        .distinct()
        .order_by(Annotation.schema_version)
    )
    return {
        "tasks": _task_count(session, project_id),
        "annotations": int(session.scalar(select(func.count(Annotation.id)).where(where)) or 0),
        "annotation_schema_versions": list(versions),
    }


def run_snapshot(run: JobRun) -> Result:
    job = run.job
    snapshot_id = int(job.params["snapshot_id"])
    prefix = f"snapshots/{snapshot_id}/{job.attempt}"
    files: list[dict[str, Any]] = []
    with run.db.read_session(long_running=True) as s:
        snapshot = s.get(Snapshot, snapshot_id)
        project = s.get(Project, job.project_id)
        assert snapshot is not None and project is not None
        settings = dict(snapshot.settings)
        schema = load_schema(s, project)
        tasks = _task_count(s, job.project_id)
        run.control.progress(0, tasks * len(settings["formats"]))
        for i, fmt in enumerate(settings["formats"]):
            plan = plan_from(project, schema, settings, fmt, pseudonym_key=snapshot.pseudonym_key)
            name = file_name(fmt, plan.fmt.extension)
            size, sha256 = run.store(f"{prefix}/{name}", _stream(run, s, plan, i * tasks))
            files.append(
                {
                    "name": name,
                    "format": fmt,
                    "media_type": plan.fmt.media_type,
                    "records": plan.records_written,
                    "size": size,
                    "sha256": sha256,
                }
            )
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "snapshot_id": snapshot.id,
            "name": snapshot.name,
            "project": {"id": project.id, "name": project.name},
            "created_at": snapshot.created_at.isoformat(),
            "completed_at": utcnow().isoformat(),
            "labelhouse_version": __version__,
            "formats": settings["formats"],
            "filters": {"include_drafts": settings["include_drafts"]},
            "consensus": {
                "content": settings["content"],
                "method": settings["consensus_method"],
            },
            "options": settings["options"],
            "csv_formulas": settings["csv_formulas"],
            "schema_version": project.schema_version,
            "counts": _counts(s, job.project_id, settings["include_drafts"]),
            "files": files,
        }
    body = manifest_bytes(manifest)
    size, sha256 = run.store(f"{prefix}/{MANIFEST_NAME}", [body])

    def finished(session: Session) -> None:
        row = session.get(Snapshot, snapshot_id)
        assert row is not None
        row.manifest = manifest
        row.key_prefix = prefix
        row.completed_at = utcnow()

    run.on_success.append(finished)
    return Result(f"{prefix}/{MANIFEST_NAME}", MANIFEST_NAME, "application/json", size, sha256)


HANDLERS = {"export": run_export, "snapshot": run_snapshot, "import": run_import_job}


def attempt_keys(session: Session, dead: DeadAttempt) -> list[str]:
    """The storage keys an attempt of a job may have written (complete files only: the
    storage stores atomically), for clearing up after a worker that died."""
    if dead.kind == "export":
        fmt = FORMATS.get(dead.params.get("format", ""))
        return [f"jobs/{dead.id}/{dead.attempt}/export.{fmt.extension}"] if fmt else []
    if dead.kind == "snapshot":
        snapshot = session.get(Snapshot, dead.params.get("snapshot_id"))
        if snapshot is None:
            return []
        prefix = f"snapshots/{snapshot.id}/{dead.attempt}"
        names = [
            file_name(f, FORMATS[f].extension) for f in snapshot.settings["formats"] if f in FORMATS
        ]
        return [f"{prefix}/{n}" for n in [*names, MANIFEST_NAME]]
    return []
