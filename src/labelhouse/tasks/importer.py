"""Validated, atomic, idempotent task import.

Rows stream from a reader, are checked against the keys the project's schema reads
(:mod:`labelhouse.tasks.import_rows`), and are bulk-inserted in batches. One bad row (in
strict mode) stores nothing. Re-importing adds nothing because every task has a
``dedup_key`` (its external id, or a hash of its data) under a unique constraint. An external
id repeated within the file is a bad row naming the first (:mod:`labelhouse.tasks.seen_ids`
remembers them), so only keys of earlier imports, and data hashes, meet the constraint.

Two ways to store, one outcome for the user (all or nothing):

* :func:`import_tasks` writes inside the caller's transaction: the caller's rollback leaves
  nothing behind. PostgreSQL always imports this way (its readers and the work queue's
  ``SKIP LOCKED`` claim are not held up by an open import transaction); on PostgreSQL the
  database inserts one batch while the next is being read and checked.
* :func:`run_import` is what the CLI and the API call. On SQLite one transaction would hold
  the only write lock for the whole file and freeze every annotator, so it stages the import
  instead (:mod:`labelhouse.tasks.staged_import`): short transactions, invisible until one
  more publishes them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.db.dialect import insert_ignoring_conflicts
from labelhouse.errors import InvalidInput, LabelhouseError, Problem
from labelhouse.projects.service import get_project, load_schema
from labelhouse.tasks import routing
from labelhouse.tasks.bulk import TaskWriter, open_writer
from labelhouse.tasks.import_rows import MAX_TASK_BYTES, Prepared, RowChecker
from labelhouse.tasks.models import Prediction, Task, TaskImport
from labelhouse.tasks.queue_order import rerank_tasks, store_uncertainty
from labelhouse.tasks.readers import RowError, detect_format, read_rows
from labelhouse.tasks.seen_ids import SeenIds

if TYPE_CHECKING:
    from labelhouse.db.engine import Database
    from labelhouse.media.sources import MediaSources

BATCH_SIZE = 5000
FIRST_BATCH_SIZE = 1000  # a small first batch gets the database to work sooner
# A batch also ends at this much JSON: 5,000 tasks of up to 1 MB each would otherwise be held
# at once (twice over while the COPY thread works), and a tiny Parquet file of one repeated
# long string decodes to exactly that.
BATCH_BYTES = 16 * 1024 * 1024
ANALYZE_AFTER = 5000  # imports this large refresh PostgreSQL's planner statistics
MAX_REPORTED_PROBLEMS = 20

RejectHandler = Callable[[str, Any, list[str]], None]
ProgressHandler = Callable[[int], None]
Store = Callable[[list[Prepared]], None]


@dataclass
class ImportResult:
    import_id: int
    file_format: str
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)
    routed: int = 0  # new tasks routed to workforces by the project's rule

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "format": self.file_format,
            "rows": self.rows,
            "created": self.created,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_sample": self.rejected_sample,
            "routed": self.routed,
        }


def check_may_import(actor: Actor, project_id: int, filename: str, file_format: str | None) -> str:
    """The checks before anything is read: the actor manages the project, the format is
    known (returned)."""
    actor.in_project(project_id).require(Role.manager, "import tasks")
    try:
        return detect_format(filename, file_format)
    except ValueError as exc:
        raise InvalidInput(str(exc), [Problem("format", str(exc))]) from None


def run_import(
    db: Database,
    actor: Actor,
    project_id: int,
    stream: BinaryIO,
    *,
    filename: str,
    file_format: str | None = None,
    skip_invalid: bool = False,
    on_rejected: RejectHandler | None = None,
    on_progress: ProgressHandler | None = None,
    media: MediaSources | None = None,
) -> ImportResult:
    """Import every row of ``stream`` into the project, in transactions of its own: one on
    PostgreSQL, short staged ones on SQLite (:mod:`labelhouse.tasks.staged_import`)."""
    options: dict[str, Any] = {
        "filename": filename,
        "file_format": file_format,
        "skip_invalid": skip_invalid,
        "on_rejected": on_rejected,
        "on_progress": on_progress,
        "media": media,
    }
    if db.is_sqlite:
        from labelhouse.tasks.staged_import import import_staged  # it builds on this module

        return import_staged(db, actor, project_id, stream, **options)
    with db.session(long_running=True) as session:  # no web statement timeout
        return import_tasks(session, actor, project_id, stream, **options)


def import_tasks(
    session: Session,
    actor: Actor,
    project_id: int,
    stream: BinaryIO,
    *,
    filename: str,
    file_format: str | None = None,
    skip_invalid: bool = False,
    on_rejected: RejectHandler | None = None,
    on_progress: ProgressHandler | None = None,
    media: MediaSources | None = None,
) -> ImportResult:
    """Import every row of ``stream`` into the project, inside the caller's transaction."""
    fmt = check_may_import(actor, project_id, filename, file_format)
    actor = actor.in_project(project_id)
    project = get_project(session, actor, project_id)
    checker = RowChecker(session, project, load_schema(session, project), media)
    record = TaskImport(
        project_id=project.id, user_id=actor.user_id, filename=filename[-500:], file_format=fmt
    )
    session.add(record)
    session.flush()
    result = ImportResult(import_id=record.id, file_format=fmt)
    sink = _InTransaction(session, project.id, record.id)
    load = Batches(result, on_rejected, sink.store)
    try:
        load.run(checker.prefetch(read_rows(stream, fmt)), checker.check, skip_invalid, on_progress)
        if not load.problems:
            sink.writer.drain()
    finally:
        sink.writer.close()  # before the caller's rollback or commit uses the connection
        sink.close()
    load.check_outcome(filename, on_progress)
    result.created = sink.created + sink.writer.inserted
    if result.created >= ANALYZE_AFTER:
        refresh_queue_statistics(session)
    result.duplicates = result.rows - result.rejected - result.created
    if project.routing_rule and result.created:
        result.routed = routing.apply_rule_to_import(session, project, record.id).tasks
    record_outcome(session, actor, project.id, record, result, filename)
    return result


def record_outcome(
    session: Session,
    actor: Actor,
    project_id: int,
    record: TaskImport,
    result: ImportResult,
    filename: str,
) -> None:
    """The import's counts on its record, and its audit event."""
    record.rows, record.created = result.rows, result.created
    record.duplicates, record.rejected = result.duplicates, result.rejected
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="tasks.import",
        object_type="project",
        object_id=project_id,
        details={k: v for k, v in result.as_dict().items() if k != "rejected_sample"}
        | {"filename": filename[-200:]},
    )


_ANALYZE_QUEUE_COLUMNS = text("ANALYZE task (id, project_id, is_open, taken, done, gold)")


def refresh_queue_statistics(session: Session) -> None:
    """After a bulk load, give PostgreSQL's planner the new task counts now rather than at
    the next autovacuum: without them it took a freshly imported project for a few dozen
    rows and planned the work queue's claim as a merge anti-join over every assignment
    (~0.5 ms more per claim at 5,000 answers, growing). Only the columns the queue filters
    on are sampled (~35 ms for 100,000 tasks; the JSON data would triple it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ANALYZE_QUEUE_COLUMNS)


class Batches:
    """Checked rows → batches → ``store``, for one import."""

    def __init__(
        self,
        result: ImportResult,
        on_rejected: RejectHandler | None,
        store: Store,
        *,
        batch_rows: Callable[[], int] | None = None,
    ) -> None:
        self.result = result
        self.on_rejected = on_rejected
        self.store = store
        # How long the next batch is, asked before each (else a small first one, then
        # BATCH_SIZE): the staged SQLite import sizes its batches by how long they take.
        self.batch_rows = batch_rows
        self.problems: list[Problem] = []
        self.seen_ids = SeenIds()  # of the rows let through so far, with their places

    def run(
        self,
        rows: Iterator[tuple[str, Any]],
        check: Callable[[Any], Prepared | list[str]],
        skip_invalid: bool,
        on_progress: ProgressHandler | None,
    ) -> None:
        """Check every row and store good ones in batches. In strict mode the first problem
        stops the storing, but checking goes on to report more problems at once."""
        try:
            self._run(rows, check, skip_invalid, on_progress)
        finally:
            self.seen_ids.close()  # its files, at once rather than when collected

    def _run(
        self,
        rows: Iterator[tuple[str, Any]],
        check: Callable[[Any], Prepared | list[str]],
        skip_invalid: bool,
        on_progress: ProgressHandler | None,
    ) -> None:
        result, problems = self.result, self.problems
        batch: list[Prepared] = []
        batch_size = self.batch_rows() if self.batch_rows else FIRST_BATCH_SIZE
        batch_bytes = 0
        first_of = self.seen_ids.add
        cut = 0  # where the number starts in ``where`` ("line 12": 5), the same for every row
        for where, row in rows:
            result.rows += 1
            outcome = check(row) if not isinstance(row, RowError) else [row.problem]
            # An id may come once per file: the first row keeps it (ids already in the
            # project are duplicates, as ever). ``where`` is "line 12", "item 3", "row 7".
            if type(outcome) is Prepared and outcome.external_id is not None:
                cut = cut or where.rindex(" ") + 1
                first = first_of(outcome.external_id, outcome.dedup_key, int(where[cut:]))
                if first is not None:
                    outcome = [_repeated(outcome.external_id, where, first)]
            if isinstance(outcome, list):
                fatal = isinstance(row, RowError) and row.fatal
                if skip_invalid:
                    self._reject(where, None if isinstance(row, RowError) else row, outcome)
                    if fatal:
                        break
                    continue
                if fatal:
                    problems.append(Problem(where, outcome[0]))
                    return
                problems.extend(Problem(where, p) for p in outcome)
                if len(problems) >= MAX_REPORTED_PROBLEMS:
                    return
                continue
            if problems:
                continue
            batch.append(outcome)
            batch_bytes += len(outcome.encoded)
            if len(batch) >= batch_size or batch_bytes >= BATCH_BYTES:
                self.store(batch)
                batch = []
                batch_bytes = 0
                batch_size = self.batch_rows() if self.batch_rows else BATCH_SIZE
                if on_progress:
                    on_progress(result.rows)
        if not problems and batch:
            self.store(batch)

    def check_outcome(self, filename: str, on_progress: ProgressHandler | None) -> None:
        """Raise what the user is told when nothing was imported; report the last progress."""
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            raise InvalidInput(
                f"Nothing was imported: {filename}, {first.field}: {first.problem}"
                + (f" (and {more} more problems)" if more else ""),
                self.problems,
            )
        if on_progress:
            on_progress(self.result.rows)
        if self.result.rows == 0:
            raise InvalidInput(
                f"Nothing was imported: {filename} holds no tasks.", [Problem("file", "no rows")]
            )

    def _reject(self, where: str, row: Any, reasons: list[str]) -> None:
        self.result.rejected += 1
        if len(self.result.rejected_sample) < 100:
            self.result.rejected_sample.append({"where": where, "problems": reasons})
        if self.on_rejected is not None:
            self.on_rejected(where, row, reasons)


def _repeated(external_id: str, where: str, first: int) -> str:
    unit = where[: where.rindex(" ")]
    preposition = "on" if unit == "line" else "in"
    return f"external_id '{external_id}' already appears {preposition} {unit} {first} of this file"


class _InTransaction:
    """Every batch into the caller's transaction through one writer (on PostgreSQL a COPY
    thread that inserts one batch while the next is being checked)."""

    def __init__(self, session: Session, project_id: int, import_id: int) -> None:
        self.session = session
        self.project_id = project_id
        self.import_id = import_id
        self.created = 0  # by the ORM path; the writer counts its own
        direct = _first_tasks_of_project(session, project_id)
        self.writer: TaskWriter = open_writer(session, project_id, import_id, direct=direct)
        # While the writer is direct: fingerprints of every key so far, to notice the first
        # batch that might repeat one (a fingerprint collision only costs the direct path).
        # The table of seen ids keeps its memory bounded whatever the number of keys (a
        # set of their hashes took ~60 bytes a key, so it stopped at 500,000 keys and a
        # larger import lost the direct path).
        self.seen: SeenIds | None = SeenIds() if direct else None

    def store(self, batch: list[Prepared]) -> None:
        if self.seen is not None and self._may_repeat_a_key(batch):
            self.writer.direct = False
            self.close()
        self.created += write_runs(
            self.session, self.writer, self.project_id, self.import_id, batch
        )

    def close(self) -> None:
        if self.seen is not None:
            self.seen.close()
            self.seen = None

    def _may_repeat_a_key(self, batch: list[Prepared]) -> bool:
        """True if a key of this batch may have come before, in it or in an earlier one.
        Only keys of data hashes count: a row repeating an earlier row's external id never
        gets here (:class:`Batches`)."""
        first_of = self.seen.add  # type: ignore[union-attr]
        for p in batch:
            if p.external_id is None and first_of(p.dedup_key, p.dedup_key, 1) is not None:
                return True
        return False


def write_runs(
    session: Session, writer: TaskWriter, project_id: int, import_id: int, batch: list[Prepared]
) -> int:
    """One batch, in file order (task ids follow the file): runs of plain rows through the
    bulk writer, runs of rows with predictions or gold through SQLAlchemy (they need the new
    task ids) once the writer has caught up. Every statement skips existing keys (the direct
    path only runs while none can exist), so the first row of a key wins. Returns the tasks
    the SQLAlchemy runs created (the writer counts its own)."""
    if not any(p.needs_orm for p in batch):
        if batch:
            writer.write(batch)
        return 0
    now = utcnow()
    created = 0
    for needs_orm, run in itertools.groupby(batch, key=lambda p: p.needs_orm):
        rows = list(run)
        if needs_orm:
            writer.drain()
            created += _orm_insert(session, project_id, import_id, rows, now)
        else:
            writer.write(rows)
    return created


def write_batch(session: Session, project_id: int, import_id: int, batch: list[Prepared]) -> int:
    """One batch in the session's transaction through a writer of its own (SQLite's staged
    import commits every batch); returns the tasks created."""
    writer = open_writer(session, project_id, import_id)
    try:
        created = write_runs(session, writer, project_id, import_id, batch)
        writer.drain()
        return created + writer.inserted
    finally:
        writer.close()


def _first_tasks_of_project(session: Session, project_id: int) -> bool:
    """On PostgreSQL, wait for any other import into the project to finish (a lock held until
    this transaction ends), then tell whether the project has no tasks yet. If so no key of
    this import can exist in the database, and the bulk writer may skip the duplicate check
    until the file repeats a key of its own. SQLite's writer never needs to know."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(_IMPORT_LOCK, {"key": IMPORT_LOCK_BASE + project_id})
    return session.execute(_HAS_TASKS, {"pid": project_id}).scalar() is None


# Imports into one project queue on this advisory lock (keys are the project id plus a
# constant, to stay clear of other users of advisory locks in the same database).
IMPORT_LOCK_BASE = 0x4C48 << 48
_IMPORT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_HAS_TASKS = text("SELECT 1 FROM task WHERE project_id = :pid LIMIT 1")


def _orm_insert(
    session: Session,
    project_id: int,
    import_id: int,
    batch: list[Prepared],
    now: datetime,
) -> int:
    """Rows with predictions or gold; returns how many tasks were created."""
    first: dict[str, Prepared] = {}
    for p in batch:
        first.setdefault(p.dedup_key, p)
    table = Task.__table__
    stmt = insert_ignoring_conflicts(session, table, ["project_id", "dedup_key"])  # type: ignore[arg-type]
    params = [
        {
            "project_id": project_id,
            "external_id": p.external_id,
            "dedup_key": p.dedup_key,
            "data": p.data,
            "gold": p.gold,
            "taken": 0,
            "done": 0,
            "is_open": p.gold is None,  # gold tasks stay out of the ordinary queue
            "import_id": import_id,
            "created_at": now,
            "priority": p.priority,
        }
        for p in batch
    ]
    # Only the rows this statement inserted come back, so a duplicate (of an earlier row of
    # the file or of an existing task) never attaches its predictions to the task kept.
    inserted = session.execute(stmt.returning(table.c.dedup_key, table.c.id), params).all()
    rows = [
        {
            "project_id": project_id,
            "task_id": task_id,
            "model_version": pred["model_version"],
            "score": pred["score"],
            "scores": pred.get("scores"),
            "value": pred["value"],
            "created_at": now,
        }
        for key, task_id in inserted
        for pred in first[key].predictions
    ]
    if rows:
        session.execute(Prediction.__table__.insert(), rows)  # type: ignore[attr-defined]
        store_uncertainty(session, {row["task_id"] for row in rows})
    prioritized = [task_id for key, task_id in inserted if first[key].priority]
    if prioritized:
        rerank_tasks(session, prioritized, only=("priority",))
    return len(inserted)


__all__ = ["MAX_TASK_BYTES", "ImportResult", "LabelhouseError", "import_tasks", "run_import"]
