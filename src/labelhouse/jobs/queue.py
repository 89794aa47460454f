"""The queue library behind the jobs: huey, in the database's own place.

- SQLite (the embedded default): ``SqliteHuey``, a file beside the database
  (``labelhouse.db-jobs``), so a one-command install needs no other service.
- PostgreSQL: huey's SQL storage (``huey.contrib.sql_huey``, through peewee) on the same
  database, in our ``huey_*`` tables. Its dequeue is ``SELECT … ORDER BY priority DESC, id
  LIMIT 1 FOR UPDATE SKIP LOCKED`` then ``DELETE … WHERE id = ?`` checked for one row, in
  one transaction: two consumers never lock the same row, and even without SKIP LOCKED the
  second DELETE would find nothing, so a message is delivered to one consumer only.

huey delivers at most once: a message is deleted when a consumer takes it, so a consumer
killed mid-job loses it. That is why the ``job`` table, not huey, is the truth: a running
job whose heartbeat goes stale is re-queued or failed by :func:`labelhouse.jobs.service.
recover_stale`, which a periodic task runs every minute (and every consumer at start).
huey's result store is off; results live in the ``job`` row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy import make_url

QUEUE_NAME = "labelhouse"
HUEY_TABLES = {"task": "huey_task", "schedule": "huey_schedule", "kv": "huey_kv"}
HUEY_TABLES["counter"] = "huey_counter"


def jobs_file(sqlite_url: str) -> Path:
    """Where huey keeps the queue of a SQLite deployment: beside the database file."""
    database = make_url(sqlite_url).database
    if not database or database == ":memory:":
        raise ValueError("background jobs need a SQLite database file, not memory")
    path = Path(database)
    return path.with_name(path.name + "-jobs")


def open_huey(database_url: str) -> Huey:
    """A huey instance for the deployment's database (no tasks registered yet)."""
    if database_url.startswith("sqlite"):
        return SqliteHuey(
            QUEUE_NAME, filename=str(jobs_file(database_url)), results=False, utc=True, timeout=30
        )
    from huey.contrib.sql_huey import SqlStorage
    from peewee import PostgresqlDatabase

    class OurTables(SqlStorage):  # type: ignore[misc]
        """huey's models under the ``huey_*`` names our migration created (``task`` is
        ours already)."""

        def create_models(self) -> Any:
            models = super().create_models()
            for model in models:
                model._meta.set_table_name(HUEY_TABLES[model._meta.table_name])
            return models

    url = make_url(database_url)
    database = PostgresqlDatabase(
        url.database,
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        connect_timeout=10,
    )
    return Huey(
        QUEUE_NAME,
        storage_class=OurTables,
        database=database,
        create_tables=False,
        results=False,
        utc=True,
    )


class _Consumer(Consumer):  # type: ignore[misc]
    """huey's consumer, also runnable beside other work (inside ``serve``, or a test):
    then it leaves the process's signal handlers alone (``serve`` has its own, and they
    can only be set from the main thread anyway)."""

    signals = True

    def _set_signal_handlers(self) -> None:
        if self.signals and threading.current_thread() is threading.main_thread():
            super()._set_signal_handlers()


def register(
    huey: Huey, run: Callable[[int], Any], recover: Callable[[], Any]
) -> Callable[[int], Any]:
    """Register the two tasks on ``huey``: running one job, and the periodic recovery.

    A message names its task by module and name; these wrappers are defined here, so the
    names are the same in every process whatever ``run`` and ``recover`` are bound to."""

    def run_job(job_id: int) -> None:
        run(job_id)

    def recover_jobs() -> None:
        recover()

    task = huey.task(name="run_job")(run_job)
    huey.periodic_task(crontab(minute="*"), name="recover_jobs")(recover_jobs)
    return task  # type: ignore[no-any-return]


def make_consumer(
    huey: Huey, *, threads: int, signals: bool = True, shutdown_timeout: float | None = None
) -> Consumer:
    """``signals``: whether ``SIGINT``/``SIGTERM`` stop it (the ``jobs worker`` command).
    ``shutdown_timeout``: how long a graceful stop waits for running jobs (None: until they
    end); a job cut short (its threads are daemons) is run again by recovery."""
    logging.getLogger("huey").setLevel(logging.WARNING)
    consumer = _Consumer(
        huey,
        workers=threads,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,
        max_delay=1.0,
        backoff=1.15,
        check_worker_health=True,
        shutdown_timeout=shutdown_timeout,
    )
    consumer.signals = signals
    return consumer
