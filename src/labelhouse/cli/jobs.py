"""``labelhouse jobs …``: run a job worker, list, show, follow and cancel background jobs.

The worker is huey's consumer on this host's threads: ``serve`` runs one already (see
``--job-threads``), so a separate ``labelhouse jobs worker`` is only needed on other hosts
or to run more jobs at once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, console, fail, open_db, owner_actor, settings_for
from labelhouse.cli.output import AsJson, echo_json, echo_table, iso
from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from labelhouse.config import Settings
    from labelhouse.db.engine import Database
    from labelhouse.jobs.models import Job

jobs_app = App(help="Background jobs (exports, snapshots): run a worker, list, follow, cancel.")
POLL_SECONDS = 0.5


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "project_id": job.project_id,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "attempts": job.attempts,
        "error": job.error,
        "result": (
            {"name": job.result_name, "size": job.result_size, "sha256": job.result_sha256}
            if job.result_key
            else None
        ),
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at),
    }


def progress_bar() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        console=console,
    )


def load_job(db: Database, job_id: int) -> Job:
    """A job as its organization's owner sees it (the CLI acts with full rights)."""
    from labelhouse.errors import NotFound
    from labelhouse.jobs import service
    from labelhouse.jobs.models import Job

    with db.read_session() as s:
        row = s.get(Job, job_id)
        if row is None:
            raise NotFound(f"Job {job_id} does not exist.")
        job = service.get_job(s, owner_actor(s, row.organization_id), job_id)
        s.expunge(job)
        return job


def follow(db: Database, job_id: int, description: str) -> Job:
    """Poll a job until it finishes, with a progress bar on standard error."""
    from labelhouse.jobs.models import FINISHED

    with progress_bar() as bar:
        task = bar.add_task(description, total=None)
        while True:
            job = load_job(db, job_id)
            bar.update(task, completed=job.progress_done, total=job.progress_total)
            if job.state in FINISHED:
                return job
            time.sleep(POLL_SECONDS)


def report(job: Job) -> None:
    """The outcome on standard error; a job that did not succeed ends the command with 1."""
    if job.state == "succeeded":
        size = f", {job.result_size} bytes, sha256 {job.result_sha256}" if job.result_key else ""
        console.print(f"Job {job.id} succeeded{size}.")
        return
    console.print(f"[bold red]Job {job.id} {job.state}:[/] {job.error or ''}", highlight=False)
    raise typer.Exit(1)


def run_here(settings: Settings, db: Database, job_id: int, description: str) -> Job:
    """Run a queued job in this process (claimed like any worker would), with progress."""
    from labelhouse.jobs.runtime import Jobs

    jobs = Jobs(settings, database=db)
    with progress_bar() as bar:
        task = bar.add_task(description, total=None)
        jobs.run(job_id, on_progress=lambda d, t: bar.update(task, completed=d, total=t))
    return load_job(db, job_id)


@jobs_app.command("worker")
def worker(
    threads: int = typer.Option(2, "--threads", min=1, max=64, help="Jobs run at once"),
    data_dir: Path | None = DataDir,
) -> None:
    """Run background jobs until stopped (Ctrl-C or SIGTERM finish the running ones first).

    Needed only on hosts other than the one running `labelhouse serve`, which runs a
    worker itself. Jobs interrupted by a crash are retried once, then marked failed."""
    from labelhouse.jobs.runtime import Jobs

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        jobs = Jobs(settings, database=db)
        jobs.recover()
        console.print(f"Job worker running with {threads} thread(s); Ctrl-C stops it.")
        jobs.consumer(threads).run()
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


@jobs_app.command("list")
def list_jobs(
    project: str = typer.Argument(..., help="Project id or exact name"),
    limit: int = typer.Option(20, "--limit", min=1, max=200),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """A project's background jobs, newest first."""
    from labelhouse.cli.common import project_and_actor
    from labelhouse.jobs import service

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            rows = [job_dict(j) for j in service.list_jobs(s, actor, proj.id, limit=limit)]
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(rows)
        return
    echo_table(
        ["ID", "KIND", "STATE", "PROGRESS", "SIZE", "CREATED"],
        [
            [
                str(r["id"]),
                r["kind"],
                r["state"],
                f"{r['progress']['done']}/{r['progress']['total'] or '?'}",
                str(r["result"]["size"]) if r["result"] else "",
                r["created_at"] or "",
            ]
            for r in rows
        ],
    )


@jobs_app.command("show")
def show(
    job_id: int = typer.Argument(..., min=1),
    wait: bool = typer.Option(False, "--wait", help="Follow it with a progress bar until it ends"),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """A job's state, progress, error and result; --wait follows it to the end."""
    db = open_db(settings_for(data_dir))
    try:
        job = follow(db, job_id, f"Job {job_id}") if wait else load_job(db, job_id)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    row = job_dict(job)
    if as_json:
        echo_json(row)
    else:
        echo_table(["FIELD", "VALUE"], [[k, str(v)] for k, v in row.items() if v is not None])
    if wait:
        report(job)


@jobs_app.command("cancel")
def cancel(job_id: int = typer.Argument(..., min=1), data_dir: Path | None = DataDir) -> None:
    """Cancel a queued or running job; it stores nothing."""
    from labelhouse.jobs import service
    from labelhouse.jobs.models import Job

    db = open_db(settings_for(data_dir))
    try:
        with db.session() as s:
            row = s.get(Job, job_id)
            org = row.organization_id if row is not None else 0
            job = service.cancel_job(s, owner_actor(s, org) if row else _nobody(), job_id)
            console.print(f"Job {job.id} cancelled.")
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


def _nobody() -> Any:
    from labelhouse.errors import NotFound

    raise NotFound("No such job.")
