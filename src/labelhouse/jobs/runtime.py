"""One process's jobs: the huey instance for the deployment's database, enqueueing, and
the consumer (threads inside ``labelhouse serve``, or ``labelhouse jobs worker``)."""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path
from typing import Any

from labelhouse.config import Settings
from labelhouse.db.engine import Database, DatabaseOptions, open_database
from labelhouse.jobs import queue, runner, service
from labelhouse.jobs.analysis import run_analysis
from labelhouse.jobs.exports import HANDLERS, attempt_keys
from labelhouse.jobs.imports import run_import_job
from labelhouse.jobs.model_calls import run_model_job
from labelhouse.storage import Storage, open_storage

log = logging.getLogger("labelhouse.jobs")


class Jobs:
    """Enqueue jobs (any process) and run them (a consumer). The database and storage are
    the app's when given, else opened on first use by the consumer."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        storage: Storage | None = None,
        heartbeat_seconds: float = runner.HEARTBEAT_SECONDS,
    ) -> None:
        self.settings = settings
        self._db = database
        self._owns_db = False
        self._storage = storage
        self.heartbeat_seconds = heartbeat_seconds
        self._huey: Any = None
        self._task: Any = None
        self._lock = threading.Lock()

    @property
    def huey(self) -> Any:
        """Opened on first use: an app that never starts a job never creates the jobs file."""
        with self._lock:
            if self._huey is None:
                huey = queue.open_huey(self.settings.resolved_database_url)
                self._task = queue.register(huey, self.run, self.recover)
                self._huey = huey
            return self._huey

    @property
    def db(self) -> Database:
        if self._db is None:
            # the long timeouts of a command: an export reads for as long as it takes
            url = self.settings.resolved_database_url
            self._db = open_database(url, DatabaseOptions.long(self.settings))
            self._owns_db = True
        return self._db

    def close(self) -> None:
        """Close the database this object opened itself (not one it was given)."""
        if self._owns_db and self._db is not None:
            self._db.dispose()
            self._db = None

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.settings)
        return self._storage

    @property
    def work_dir(self) -> Path:
        return self.settings.data_dir / "tmp" / "jobs"

    def enqueue(self, job_id: int, *, delay: float = 0.0) -> None:
        """Call after the transaction that created (or re-queued) the job has committed;
        ``delay`` seconds later if given (a debounced recomputation)."""
        self.huey  # noqa: B018  (opens the queue and registers the task)
        if delay > 0:
            self._task.schedule((job_id,), delay=delay)
        else:
            self._task(job_id)
        if not self.settings.resolved_database_url.startswith("sqlite"):
            # huey's SQL storage keeps one connection per thread: an app's request threads
            # would each hold one to PostgreSQL for good. A consumer's thread reconnects.
            self.huey.storage.close()

    @property
    def handlers(self) -> dict[str, Any]:
        """What each kind of job runs; an import job fetches media URLs through the
        deployment's media sources (its allow-list and buckets), like a web import."""
        from labelhouse.media.sources import MediaSources

        media = MediaSources.from_settings(self.settings)
        return {
            **HANDLERS,
            "import": partial(run_import_job, media=media, settings=self.settings),
            "analysis": run_analysis,
            "model": partial(run_model_job, settings=self.settings),
        }

    def run(self, job_id: int, **kwargs: Any) -> str:
        """Run one job in this thread (what a consumer does with a message)."""
        return runner.execute(
            self.db,
            self.storage,
            job_id,
            work_dir=self.work_dir,
            handlers=self.handlers,
            heartbeat_seconds=self.heartbeat_seconds,
            **kwargs,
        )

    def recover(self, **kwargs: Any) -> service.Recovery:
        """Re-queue or fail jobs whose worker died (see service.recover_stale)."""
        with self.db.session() as s:
            found = service.recover_stale(s, **kwargs)
            leftovers = [key for dead in found.dead for key in attempt_keys(s, dead)]
        for dead in found.dead:  # before the job can run again: its temporary files
            for path in self.work_dir.glob(f"job-{dead.id}-*"):
                path.unlink(missing_ok=True)
        for key in leftovers:  # complete files of a dead attempt, never referenced
            try:
                self.storage.delete(key)
            except Exception:
                log.warning("jobs: could not delete %s", key, exc_info=True)
        for job_id in found.to_enqueue():
            self.enqueue(job_id)
        if found.requeued or found.failed:
            log.warning("jobs: re-queued %s, failed %s", found.requeued, found.failed)
        return found

    def consumer(
        self, threads: int = 1, *, signals: bool = True, shutdown_timeout: float | None = None
    ) -> Any:
        return queue.make_consumer(
            self.huey, threads=threads, signals=signals, shutdown_timeout=shutdown_timeout
        )


class ConsumerThread:
    """A consumer running on threads of this process (``serve``'s default, and tests). When
    stopped it waits ``shutdown_timeout`` seconds for running jobs, so a server stops
    promptly; a job cut short is run again by the next consumer's recovery."""

    def __init__(self, jobs: Jobs, threads: int = 1, shutdown_timeout: float = 10.0) -> None:
        self.jobs = jobs
        self.consumer = jobs.consumer(threads, signals=False, shutdown_timeout=shutdown_timeout)

    def start(self) -> ConsumerThread:
        try:
            self.jobs.recover()
        except Exception:
            log.warning("jobs: recovery at start failed", exc_info=True)
        self.consumer.start()
        return self

    def stop(self) -> None:
        """Finish the running jobs, then stop (a job cut short by a harder stop is retried
        by the next consumer's recovery)."""
        self.consumer.stop(graceful=True)
        self.jobs.close()
