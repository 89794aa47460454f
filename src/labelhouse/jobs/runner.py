"""Running one job: claim it, call its kind's plain function with a progress callback and
a cancel check, beat while it runs, store outputs only when complete, record the outcome.

Outputs are written to a temporary file under the work folder (hashed on the way), then
handed to the storage (local: temp + rename; S3: an object appears only when complete)
under a key that includes the attempt, and the job row names them only in the same
transaction that marks it succeeded. A crash at any point leaves either no stored file or
a complete, unreferenced one of a dead attempt (deleted when the failure is recorded).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.db.engine import Database
from labelhouse.errors import LabelhouseError
from labelhouse.jobs import service
from labelhouse.jobs.models import FINISHED, Job
from labelhouse.jobs.service import Claimed, Result
from labelhouse.storage import Storage

HEARTBEAT_SECONDS = 2.0
log = logging.getLogger("labelhouse.jobs")


class Cancelled(Exception):
    """Raised at a cancel check once the job was cancelled (or taken from this attempt)."""


@dataclass
class Control:
    """What a job's function is given: report progress, and check for cancellation."""

    done: int = 0
    total: int | None = None
    stopped: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self.check()

    def check(self) -> None:
        if self.stopped.is_set():
            raise Cancelled


@dataclass
class JobRun:
    db: Database
    storage: Storage
    job: Claimed
    control: Control
    work_dir: Path
    stored: list[str] = field(default_factory=list)
    # Run in the transaction that marks the job succeeded (e.g. a snapshot's manifest).
    on_success: list[Callable[[Session], None]] = field(default_factory=list)

    def store(self, key: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        """Write ``chunks`` to a temporary file (checking for cancellation between chunks),
        then store it under ``key``: (size, sha256)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.work_dir, prefix=f"job-{self.job.id}-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    self.control.check()
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            self.control.check()
            with open(tmp, "rb") as source:
                self.storage.put(key, source)
            self.stored.append(key)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return size, digest.hexdigest()


Handler = Callable[[JobRun], Result | None]


class _Beater(threading.Thread):
    def __init__(self, db: Database, job: Claimed, control: Control, every: float) -> None:
        super().__init__(name=f"job-{job.id}-heartbeat", daemon=True)
        self.db, self.job, self.control, self.every = db, job, control, every
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                with self.db.session() as s:
                    mine = service.beat(
                        s, self.job, done=self.control.done, total=self.control.total
                    )
            except Exception:  # a missed beat is not fatal; recovery decides when it is
                log.warning("job %s: heartbeat failed", self.job.id, exc_info=True)
                continue
            if not mine:
                self.control.stopped.set()
                return


def sentence(exc: BaseException) -> str:
    if isinstance(exc, LabelhouseError):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"Unexpected {type(exc).__name__}" + (f" ({first})" if first else "") + "."


def execute(
    db: Database,
    storage: Storage,
    job_id: int,
    *,
    work_dir: Path,
    handlers: Mapping[str, Handler],
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> str:
    """Run job ``job_id`` if it is still queued; its final state ("skipped" if it was not
    queued)."""
    with db.session() as s:
        job = service.claim(s, job_id)
    if job is None:
        return "skipped"
    control = Control()
    if on_progress is not None:
        report = control.progress

        def progress(done: int, total: int | None = None) -> None:
            report(done, total)
            on_progress(control.done, control.total)

        control.progress = progress  # type: ignore[method-assign]
    run = JobRun(db, storage, job, control, work_dir)
    try:
        return _execute(run, handlers, heartbeat_seconds)
    finally:
        _drop_upload(run)


def _execute(run: JobRun, handlers: Mapping[str, Handler], heartbeat_seconds: float) -> str:
    db, job, control = run.db, run.job, run.control
    beater = _Beater(db, job, control, heartbeat_seconds)
    beater.start()
    error: str | None = None
    result: Result | None = None
    try:
        handler = handlers.get(job.kind)
        if handler is None:
            raise LabelhouseError(f"Unknown job kind '{job.kind}'.")
        result = handler(run)
    except Cancelled:
        _cleanup(run)
        return "cancelled"
    except Exception as exc:
        log.exception("job %s failed", job.id)
        error = sentence(exc)
    finally:
        beater.done.set()
        beater.join()
    if error is None:
        try:
            with db.session() as s:
                finished = service.finish(s, job, result, done=control.done)
                if finished:
                    for hook in run.on_success:
                        hook(s)
        except Exception as exc:
            log.exception("job %s: recording its result failed", job.id)
            error = sentence(exc)
        else:
            if finished:
                return "succeeded"
            _cleanup(run)
            return "cancelled"
    _cleanup(run)
    with db.session() as s:
        service.fail(s, job, error or "Failed.")
    return "failed"


def _drop_upload(run: JobRun) -> None:
    """A job's input staged in the storage (an import's upload) is deleted once the job has
    ended, whatever the outcome; a crash keeps it for the retry."""
    key = run.job.params.get("upload_key")
    if not key:
        return
    with run.db.read_session() as s:
        state = s.scalar(select(Job.state).where(Job.id == run.job.id))
    if state in FINISHED:  # not while another attempt may still read it
        try:
            run.storage.delete(key)
        except Exception:
            log.warning("job %s: could not delete its upload %s", run.job.id, key, exc_info=True)


def _cleanup(run: JobRun) -> None:
    for key in run.stored:
        try:
            run.storage.delete(key)
        except Exception:
            log.warning("job %s: could not delete %s", run.job.id, key, exc_info=True)
