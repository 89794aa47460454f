"""Task imports as background jobs: the upload is staged in the storage, and a job runs
the ordinary import (``tasks.importer.run_import``) from it with a progress callback.

Never half-written comes from the import itself: on PostgreSQL it is one transaction, on
SQLite its staged batches stay invisible until one short transaction publishes them, and a
failed or killed import's staged rows are cleared (by itself, or by the next import and
``serve`` at start). A retried import is therefore a clean re-run (and imports skip rows
whose ``external_id`` is already in the project).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from labelhouse.accounts import service as accounts
from labelhouse.accounts.policy import Actor
from labelhouse.config import Settings
from labelhouse.errors import NotAuthenticated, PermissionDenied
from labelhouse.jobs.models import Job
from labelhouse.jobs.runner import JobRun
from labelhouse.jobs.service import Result, create_job
from labelhouse.media.sources import MediaSources
from labelhouse.projects.service import get_project
from labelhouse.tasks import importer


def check_import(
    session: Session, actor: Actor, project_id: int, filename: str, file_format: str | None
) -> str:
    """Before the upload: the project exists and is the actor's to import into, and the
    format is known (returned)."""
    get_project(session, actor, project_id)
    return importer.check_may_import(actor, project_id, filename, file_format)


def request_import(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    upload_key: str,
    filename: str,
    file_format: str | None = None,
    skip_invalid: bool = False,
) -> Job:
    """A queued import job for an upload already in the storage under ``upload_key``."""
    file_format = check_import(session, actor, project_id, filename, file_format)
    params = {
        "upload_key": upload_key,
        "filename": filename,
        "format": file_format,
        "skip_invalid": skip_invalid,
    }
    return create_job(session, actor, project_id=project_id, kind="import", params=params)


def run_import_job(
    run: JobRun, *, media: MediaSources | None = None, settings: Settings | None = None
) -> Result:
    job = run.job
    with run.db.read_session() as s:
        try:  # as the person who asked, with their rights now
            if job.requested_by is None:
                raise NotAuthenticated("gone")
            actor = accounts.actor_for(
                s, user_id=job.requested_by, organization_id=job.organization_id
            )
        except NotAuthenticated:
            raise PermissionDenied(
                "The person who asked for this import is no longer in the organization."
            ) from None
    with run.storage.open(job.params["upload_key"]) as stream:
        result = importer.run_import(
            run.db,
            actor,
            job.project_id,
            stream,
            filename=job.params["filename"],
            file_format=job.params["format"],
            skip_invalid=bool(job.params["skip_invalid"]),
            on_progress=lambda rows: run.control.progress(rows),
            media=media,
        )
    run.control.progress(result.rows, result.rows)
    outcome = result.as_dict()
    if settings is not None and result.import_id:
        from labelhouse.jobs.model_calls import calls_on_import

        models = calls_on_import(run.db, settings, actor, job.project_id, result.import_id)
        if models:
            outcome["models"] = models
    return Result("", "", "", 0, "", outcome=outcome)
