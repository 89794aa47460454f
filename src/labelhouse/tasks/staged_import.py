"""Imports on SQLite, staged out of sight, so that annotators never wait for them.

SQLite has one write lock, and ``/next`` is a write: an import in one transaction froze every
annotator for as long as it ran (48 s for a million rows). Here each batch is a short write
transaction of its own, queued at the same gate as everybody else's writes, and nobody sees
any of it until one more short transaction publishes the whole import:

1. (short) a ``task_import`` row in state 'staging', named by ``project.staging_import_id``;
   from then on every reader leaves its tasks out (:mod:`labelhouse.tasks.visibility`);
2. (one per batch) the checked rows, inserted as always (``ON CONFLICT DO NOTHING``: the
   first row of a key wins, keys of visible tasks are duplicates), routed by the project's
   rule, and the import's first task id noted;
3. (short) the counts, state 'done', the project's field cleared, the audit event.

A failure (a bad row in strict mode, any exception) deletes what was staged, in batches, and
the user is told "Nothing was imported" as before. A killed process leaves its staged rows
invisible; imports into one project take turns on an ``flock`` beside the database (the
kernel lets go of a dead process's lock), so the next import that gets the turn and still
finds a staging import knows its process is gone and clears it away first
(:func:`clear_stale_imports` does the same for every project, e.g. at start-up).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.engine import make_url

from labelhouse.accounts.policy import Actor
from labelhouse.db.engine import Database
from labelhouse.errors import Busy, Conflict
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project, load_schema
from labelhouse.tasks import routing
from labelhouse.tasks.import_rows import Prepared, RowChecker
from labelhouse.tasks.importer import (
    Batches,
    ImportResult,
    ProgressHandler,
    RejectHandler,
    check_may_import,
    record_outcome,
    write_batch,
)
from labelhouse.tasks.models import Task, TaskImport
from labelhouse.tasks.readers import read_rows
from labelhouse.tasks.visibility import DONE, STAGING

if TYPE_CHECKING:
    from labelhouse.media.sources import MediaSources

try:
    import fcntl
except ImportError:  # not on Windows: threads of one process still take turns
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("labelhouse.import")

TURN_WAIT = 30.0  # seconds an import waits for another import into the project
CLEAR_WINDOW = 5000  # task ids per clean-up transaction
# Rows per batch, each its own write transaction: an annotator's write may wait for one, and
# reading and checking the next batch leaves the lock free in between. The first batch has
# BATCH_ROWS; later ones double while a batch's transaction stays under half of
# BATCH_SECONDS and halve when one takes longer, between BATCH_ROWS and MAX_BATCH_ROWS. A
# commit rewrites every page the batch touched (task ids are sequential, but data-hash keys
# land all over their index), so 1,000-row batches spent most of a large import rewriting
# the same pages: 300,000 hashed rows took 7.6 s CPU in 1,000-row batches (37 ms each, on a
# loaded machine), 4.6 s in 10,000-row ones (144 ms each). The budget keeps an annotator's
# worst wait near what it was with fixed 1,000-row batches under load.
BATCH_ROWS = 1000
MAX_BATCH_ROWS = 8 * BATCH_ROWS  # every batch a whole multiple of BATCH_ROWS
BATCH_SECONDS = 0.1

_T: Table = Task.__table__  # type: ignore[assignment]
_I: Table = TaskImport.__table__  # type: ignore[assignment]
_P: Table = Project.__table__  # type: ignore[assignment]
_MAX_TASK_ID = select(func.max(_T.c.id))
# A batch's new tasks: every id above the highest one before the batch (SQLite gives a new
# row the highest id so far, and the batch's transaction holds the write lock).
_NEW_TASKS = (
    select(_T.c.id)
    .where(
        _T.c.id > bindparam("above"),
        _T.c.project_id == bindparam("pid"),
        _T.c.import_id == bindparam("iid"),
        _T.c.gold.is_(None),
    )
    .order_by(_T.c.id)
)
_NOTE_FIRST_TASK = (
    update(_I).where(_I.c.id == bindparam("iid")).values(first_task_id=bindparam("first"))
)
_CLEAR_WINDOW = delete(_T).where(
    _T.c.id >= bindparam("lo"),
    _T.c.id < bindparam("hi"),
    _T.c.project_id == bindparam("pid"),
    _T.c.import_id == bindparam("iid"),
)


# -- taking turns -------------------------------------------------------------------------------

_local_turns: dict[tuple[str, int], threading.Lock] = {}
_local_turns_guard = threading.Lock()


def _turn_file(db: Database, project_id: int) -> Path | None:
    database = make_url(db.url).database
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).resolve()
    return path.with_name(f"{path.name}-import-{int(project_id)}.lock")


@contextmanager
def import_turn(db: Database, project_id: int, *, wait: float | None = None) -> Iterator[bool]:
    """Hold the project's import turn; yields False if it could not be had within ``wait``
    seconds (0: try once; default :data:`TURN_WAIT`). An ``flock`` on
    ``<database>-import-<project>.lock`` across processes (released by the kernel when the
    holder dies), a mutex within one process when the database has no file."""
    wait = TURN_WAIT if wait is None else wait
    deadline = time.monotonic() + wait
    path = _turn_file(db, project_id)
    if path is None:
        with _local_turns_guard:
            lock = _local_turns.setdefault((db.url, int(project_id)), threading.Lock())
        got = lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _busy(project_id: int) -> Busy:
    return Busy(
        f"Another import into project {project_id} is still running; nothing was imported. "
        "Import again once it has finished.",
        retry_after=30,
    )


# -- clearing away a staged import ----------------------------------------------------------------


def clear_staged(db: Database, project_id: int, import_id: int) -> int:
    """Delete a staged import's tasks (their predictions and routes go with them) a window
    of ids per short transaction, then its record, and clear the project's field. The
    caller holds the project's import turn. Returns the tasks deleted."""
    with db.session() as s:
        first = s.execute(select(_I.c.first_task_id).where(_I.c.id == import_id)).scalar()
        top = s.execute(_MAX_TASK_ID).scalar()
    deleted = 0
    if first is not None and top is not None:
        for lo in range(int(first), int(top) + 1, CLEAR_WINDOW):
            with db.session() as s:
                params = {"lo": lo, "hi": lo + CLEAR_WINDOW, "pid": project_id, "iid": import_id}
                deleted += s.connection().execute(_CLEAR_WINDOW, params).rowcount
    with db.session() as s:
        s.execute(delete(_I).where(_I.c.id == import_id, _I.c.state == STAGING))
        s.execute(
            update(_P)
            .where(_P.c.id == project_id, _P.c.staging_import_id == import_id)
            .values(staging_import_id=None)
        )
    return deleted


def _clear_if_stale(db: Database, project_id: int) -> bool:
    """With the project's turn held, a staging import found now is a dead process's: clear
    it away. True if there was one."""
    with db.read_session() as s:
        stale = s.execute(select(_P.c.staging_import_id).where(_P.c.id == project_id)).scalar()
    if stale is None:
        return False
    deleted = clear_staged(db, project_id, int(stale))
    log.warning(
        "cleared away import %s of project %s (%s staged tasks): its process had died",
        stale,
        project_id,
        deleted,
    )
    return True


def clear_stale_imports(db: Database) -> int:
    """Clear away every staged import whose process has died (for ``serve`` start-up or a
    database repair); imports still running keep their turn and are left alone. Returns the
    imports cleared."""
    if not db.is_sqlite:
        return 0
    with db.read_session() as s:
        projects = list(
            s.execute(select(_P.c.id).where(_P.c.staging_import_id.is_not(None))).scalars()
        )
    cleared = 0
    for project_id in projects:
        with import_turn(db, project_id, wait=0) as mine:
            if mine and _clear_if_stale(db, project_id):
                cleared += 1
    return cleared


# -- the import -----------------------------------------------------------------------------------


class _Staged:
    """Stores each batch in a short transaction of its own, routed, out of sight."""

    def __init__(
        self, db: Database, project_id: int, import_id: int, router: routing.Router | None
    ) -> None:
        self.db = db
        self.project_id = project_id
        self.import_id = import_id
        self.router = router
        self.created = 0
        self.first_task_id: int | None = None
        self.batch_rows = BATCH_ROWS  # for the next batch (see BATCH_SECONDS)

    def store(self, batch: list[Prepared]) -> None:
        started = time.perf_counter()
        self._store(batch)
        self.batch_rows = next_batch_rows(
            self.batch_rows, len(batch), time.perf_counter() - started
        )

    def _store(self, batch: list[Prepared]) -> None:
        with self.db.session() as s:
            above = s.execute(_MAX_TASK_ID).scalar() or 0
            created = write_batch(s, self.project_id, self.import_id, batch)
            if created and self.first_task_id is None:
                s.execute(_NOTE_FIRST_TASK, {"iid": self.import_id, "first": above + 1})
            if created and self.router is not None:
                params = {"above": above, "pid": self.project_id, "iid": self.import_id}
                self.router.route(s, list(s.execute(_NEW_TASKS, params).scalars()))
        if created and self.first_task_id is None:
            self.first_task_id = above + 1
        self.created += created


def next_batch_rows(rows: int, stored: int, seconds: float) -> int:
    """The next batch's length, after a transaction of ``stored`` rows took ``seconds``:
    double (if the batch was full) while well under :data:`BATCH_SECONDS`, halve over it."""
    if seconds > BATCH_SECONDS:
        return max(BATCH_ROWS, rows // 2)
    if seconds < BATCH_SECONDS / 2 and stored >= rows:
        return min(MAX_BATCH_ROWS, rows * 2)
    return rows


def import_staged(
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
    """:func:`labelhouse.tasks.importer.import_tasks` for SQLite, in short transactions."""
    fmt = check_may_import(actor, project_id, filename, file_format)
    actor = actor.in_project(project_id)
    with import_turn(db, project_id) as mine:
        if not mine:
            raise _busy(project_id)
        _clear_if_stale(db, project_id)
        with db.session() as s:
            project = get_project(s, actor, project_id)
            checker = RowChecker(s, project, load_schema(s, project), media)
            router = routing.rule_router(s, project)
            record = TaskImport(
                project_id=project.id,
                user_id=actor.user_id,
                filename=filename[-500:],
                file_format=fmt,
                state=STAGING,
            )
            s.add(record)
            s.flush()
            project.staging_import_id = import_id = record.id
        result = ImportResult(import_id=import_id, file_format=fmt)
        sink = _Staged(db, project_id, import_id, router)
        try:
            load = Batches(result, on_rejected, sink.store, batch_rows=lambda: sink.batch_rows)
            load.run(
                checker.prefetch(read_rows(stream, fmt)), checker.check, skip_invalid, on_progress
            )
            load.check_outcome(filename, on_progress)
            result.created = sink.created
            result.duplicates = result.rows - result.rejected - result.created
            result.routed = router.result.tasks if router is not None else 0
            _publish(db, actor, project_id, import_id, result, filename)
        except BaseException:
            _clear_after_failure(db, project_id, import_id)
            raise
    return result


def _publish(
    db: Database, actor: Actor, project_id: int, import_id: int, result: ImportResult, filename: str
) -> None:
    """The one short transaction that makes the whole import visible."""
    with db.session() as s:
        project = s.get(Project, project_id)
        record = s.get(TaskImport, import_id)
        if project is None or record is None or project.staging_import_id != import_id:
            raise Conflict(
                f"Project {project_id} was deleted or changed while the import ran; nothing "
                "was imported."
            )
        if result.routed:
            routing.rule_router(s, project)  # Conflict if the rule stopped holding meanwhile
            project.routed = True
        record.state = DONE
        project.staging_import_id = None
        record_outcome(s, actor, project_id, record, result, filename)


def _clear_after_failure(db: Database, project_id: int, import_id: int) -> None:
    """Best effort: what cannot be deleted now stays invisible, and the next import into
    the project (or :func:`clear_stale_imports`) clears it."""
    try:
        clear_staged(db, project_id, import_id)
    except Exception:
        log.exception("could not clear away failed import %s of project %s", import_id, project_id)


__all__ = ["clear_staged", "clear_stale_imports", "import_staged", "import_turn"]
