"""Validated, atomic, idempotent task import.

Rows stream from a reader, are checked against the keys the project's schema reads, and are
bulk-inserted in batches inside the caller's transaction: one bad row (in strict mode) raises
and the caller's rollback leaves nothing behind. Re-importing adds nothing because every task
has a ``dedup_key`` (its external id, or a hash of its data) under a unique constraint.

Each row's data is encoded to JSON once, by the check, and that text is what the bulk path
(:mod:`labelhouse.tasks.bulk`) stores; on PostgreSQL the database inserts one batch while
the next is being read and checked.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.db.dialect import insert_ignoring_conflicts
from labelhouse.errors import InvalidInput, LabelhouseError, Problem
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project, load_schema
from labelhouse.storable import NUL, encoded_json_has_nul, find_nul
from labelhouse.storable import PROBLEM as NUL_PROBLEM
from labelhouse.tasks import routing
from labelhouse.tasks.bulk import TaskWriter, open_writer
from labelhouse.tasks.models import Prediction, StoredFile, Task, TaskImport
from labelhouse.tasks.readers import RowError, detect_format, read_rows

BATCH_SIZE = 5000
FIRST_BATCH_SIZE = 1000  # a small first batch gets the database to work sooner
# A batch also ends at this much JSON: 5,000 tasks of up to 1 MB each would otherwise be held
# at once (twice over while the COPY thread works), and a tiny Parquet file of one repeated
# long string decodes to exactly that.
BATCH_BYTES = 16 * 1024 * 1024
ANALYZE_AFTER = 5000  # imports this large refresh PostgreSQL's planner statistics
# The direct bulk path tracks this many keys (a set of ints, ~30 MB at most); larger imports
# go on with the duplicate-skipping path.
TRACKED_KEYS = 500_000
MAX_TASK_BYTES = 1024 * 1024
MAX_REPORTED_PROBLEMS = 20
STRUCTURED_KEYS = {"data", "external_id", "predictions", "gold"}

RejectHandler = Callable[[str, Any, list[str]], None]
ProgressHandler = Callable[[int], None]


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


@dataclass(slots=True)
class _Prepared:
    dedup_key: str
    external_id: str | None
    data: dict[str, Any]
    encoded: bytes  # ``data`` as stored (orjson), for the bulk path
    predictions: list[dict[str, Any]]
    gold: dict[str, Any] | None = None
    # Rows with predictions or gold take the slower path (see :meth:`_Load._store`).
    needs_orm: bool = False


class _RowChecker:
    """Turns one decoded row into a task (or a list of problems), per the project's schema."""

    def __init__(self, session: Session, project: Project, schema: LabelSchema) -> None:
        self.schema = schema
        self.media_keys = {k for f in schema.fields for k in f.media_keys()}
        self.files: dict[str, tuple[int | None, int | None]] = {}
        if self.media_keys:
            rows = session.execute(
                select(StoredFile.name, StoredFile.width, StoredFile.height).where(
                    StoredFile.project_id == project.id
                )
            )
            self.files = {name: (w, h) for name, w, h in rows}

    def check(self, row: Any) -> _Prepared | list[str]:
        if not isinstance(row, dict):
            return [f"expected a JSON object per task, got {type(row).__name__}"]
        external_id: Any
        if isinstance(row.get("data"), dict):
            unknown = set(row) - STRUCTURED_KEYS
            if unknown:
                return [
                    f"unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}; "
                    f"a task object may have: {', '.join(sorted(STRUCTURED_KEYS))}"
                ]
            data = row["data"]
            external_id = row.get("external_id")
            raw_predictions = row.get("predictions") or []
            raw_gold = row.get("gold")
        else:
            data = dict(row)
            external_id = data.pop("external_id", None)
            raw_predictions = []
            raw_gold = None
        problems: list[str] = []
        if external_id is not None:
            if isinstance(external_id, bool) or not isinstance(external_id, str | int):
                problems.append("external_id must be a string or an integer")
            else:
                external_id = str(external_id)
                if not 1 <= len(external_id) <= 200:
                    problems.append("external_id must be 1 to 200 characters")
                elif NUL in external_id:
                    problems.append(f"external_id {NUL_PROBLEM}")
        # One encoding serves the size check and storage when no hash is needed and media
        # lookups cannot add keys; otherwise the canonical form (sorted keys, before media
        # sizes are filled in) is what is measured and hashed, as it always was.
        canonical = stored = None
        if external_id is None or self.media_keys:
            canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
            size = len(canonical)
        else:
            stored = orjson.dumps(data)
            size = len(stored)
        if size > MAX_TASK_BYTES:
            problems.append(f"task data is larger than {MAX_TASK_BYTES // 1024} KB")
        elif encoded_json_has_nul(canonical or stored):  # type: ignore[arg-type]
            problems.append(f"'{find_nul(data)}' {NUL_PROBLEM}")
        for extra, name in ((raw_predictions, "predictions"), (raw_gold, "gold")):
            where = find_nul(extra, name)
            if where is not None:
                problems.append(f"{where} {NUL_PROBLEM}")
        problems.extend(self.schema.check_task_data(data))
        for key in self.media_keys:
            ref = data.get(key)
            if isinstance(ref, str) and ref:
                problems.extend(self._resolve_media(key, ref, data))
        predictions: list[dict[str, Any]] = []
        if raw_predictions:
            if not isinstance(raw_predictions, list):
                problems.append("predictions must be a list")
            else:
                for i, p in enumerate(raw_predictions):
                    result = self._prediction(p, data)
                    if isinstance(result, str):
                        problems.append(f"predictions[{i}]: {result}")
                    else:
                        predictions.append(result)
        gold = None
        if raw_gold is not None:
            from labelhouse.tasks.gold import validate_gold  # only gold rows need its imports

            try:
                gold = validate_gold(self.schema, raw_gold, data)
            except InvalidInput as exc:
                problems.extend(
                    f"gold: {d.field}: {d.problem}" if d.field != "value" else f"gold: {d.problem}"
                    for d in exc.details
                )
        if problems:
            return problems
        if external_id is not None:
            dedup = f"x:{external_id}"
        else:
            dedup = "h:" + hashlib.sha256(canonical).hexdigest()[:48]  # type: ignore[arg-type]
        if stored is None:
            stored = orjson.dumps(data)
        return _Prepared(
            dedup,
            external_id,
            data,
            stored,
            predictions,
            gold,
            bool(predictions) or gold is not None,
        )

    def _resolve_media(self, key: str, ref: str, data: dict[str, Any]) -> list[str]:
        if ref.startswith(("http://", "https://")):
            return [
                f"'{key}' is a URL; fetching media by URL is not supported yet, "
                "upload the file to the project and refer to it by name"
            ]
        if ref not in self.files:
            return [
                f"'{key}' refers to '{ref}', which is not uploaded to this project; "
                "upload it first (POST /api/projects/{id}/files or `labelhouse import --files DIR`)"
            ]
        width, height = self.files[ref]
        if width and height:
            data.setdefault("image_width", width)
            data.setdefault("image_height", height)
        return []

    def _prediction(self, p: Any, data: dict[str, Any]) -> dict[str, Any] | str:
        if not isinstance(p, dict) or not isinstance(p.get("value"), dict):
            return 'expected {"value": {field: value}, "model_version": str, "score": number}'
        unknown = set(p) - {"value", "model_version", "score"}
        if unknown:
            return f"unknown key(s) {', '.join(sorted(unknown))}"
        score = p.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            return "score must be a number"
        model_version = p.get("model_version") or ""
        if not isinstance(model_version, str) or len(model_version) > 200:
            return "model_version must be a string of at most 200 characters"
        try:
            value = self.schema.validate_annotation(p["value"], data, draft=True)
        except InvalidInput as exc:
            return "; ".join(f"{d.field}: {d.problem}" for d in exc.details)
        return {"value": value, "model_version": model_version, "score": score}


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
) -> ImportResult:
    """Import every row of ``stream`` into the project, inside the caller's transaction."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "import tasks")
    try:
        fmt = detect_format(filename, file_format)
    except ValueError as exc:
        raise InvalidInput(str(exc), [Problem("format", str(exc))]) from None
    project = get_project(session, actor, project_id)
    checker = _RowChecker(session, project, load_schema(session, project))
    record = TaskImport(
        project_id=project.id, user_id=actor.user_id, filename=filename[-500:], file_format=fmt
    )
    session.add(record)
    session.flush()
    result = ImportResult(import_id=record.id, file_format=fmt)
    load = _Load(session, project, record.id, result, on_rejected)
    try:
        load.run(read_rows(stream, fmt), checker.check, skip_invalid, on_progress)
    finally:
        load.writer.close()  # before the caller's rollback or commit uses the connection
    if load.problems:
        first = load.problems[0]
        more = len(load.problems) - 1
        raise InvalidInput(
            f"Nothing was imported: {filename}, {first.field}: {first.problem}"
            + (f" (and {more} more problems)" if more else ""),
            load.problems,
        )
    if on_progress:
        on_progress(result.rows)
    if result.rows == 0:
        raise InvalidInput(
            f"Nothing was imported: {filename} holds no tasks.", [Problem("file", "no rows")]
        )
    result.created = load.created + load.writer.inserted
    if result.created >= ANALYZE_AFTER:
        refresh_queue_statistics(session)
    result.duplicates = result.rows - result.rejected - result.created
    if project.routing_rule and result.created:
        result.routed = routing.apply_rule_to_import(session, project, record.id).tasks
    record.rows, record.created = result.rows, result.created
    record.duplicates, record.rejected = result.duplicates, result.rejected
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="tasks.import",
        object_type="project",
        object_id=project.id,
        details={k: v for k, v in result.as_dict().items() if k != "rejected_sample"}
        | {"filename": filename[-200:]},
    )
    return result


_ANALYZE_QUEUE_COLUMNS = text("ANALYZE task (id, project_id, is_open, taken, done, gold)")


def refresh_queue_statistics(session: Session) -> None:
    """After a bulk load, give PostgreSQL's planner the new task counts now rather than at
    the next autovacuum: without them it took a freshly imported project for a few dozen
    rows and planned the work queue's claim as a merge anti-join over every assignment
    (~0.5 ms more per claim at 5,000 answers, growing). Only the columns the queue filters
    on are sampled (~35 ms for 100,000 tasks; the JSON data would triple it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ANALYZE_QUEUE_COLUMNS)


class _Load:
    """Checked rows → batches → the database, for one import."""

    def __init__(
        self,
        session: Session,
        project: Project,
        import_id: int,
        result: ImportResult,
        on_rejected: RejectHandler | None,
    ) -> None:
        self.session = session
        self.project = project
        self.import_id = import_id
        self.result = result
        self.on_rejected = on_rejected
        self.problems: list[Problem] = []
        self.created = 0  # by the ORM path; the writer counts its own
        direct = _first_tasks_of_project(session, project.id)
        self.writer: TaskWriter = open_writer(session, project.id, import_id, direct=direct)
        # While the writer is direct: hashes of every key so far, to notice the first batch
        # that might repeat one (a hash collision only costs the direct path).
        self.seen: set[int] | None = set() if direct else None

    def run(
        self,
        rows: Iterator[tuple[str, Any]],
        check: Callable[[Any], _Prepared | list[str]],
        skip_invalid: bool,
        on_progress: ProgressHandler | None,
    ) -> None:
        """Check every row and store good ones in batches. In strict mode the first problem
        stops the storing, but checking goes on to report more problems at once."""
        result, problems = self.result, self.problems
        batch: list[_Prepared] = []
        batch_size = FIRST_BATCH_SIZE
        batch_bytes = 0
        for where, row in rows:
            result.rows += 1
            outcome = check(row) if not isinstance(row, RowError) else [row.problem]
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
                self._store(batch)
                batch = []
                batch_bytes = 0
                batch_size = BATCH_SIZE
                if on_progress:
                    on_progress(result.rows)
        if not problems:
            self._store(batch)
            self.writer.drain()

    def _reject(self, where: str, row: Any, reasons: list[str]) -> None:
        self.result.rejected += 1
        if len(self.result.rejected_sample) < 100:
            self.result.rejected_sample.append({"where": where, "problems": reasons})
        if self.on_rejected is not None:
            self.on_rejected(where, row, reasons)

    def _store(self, batch: list[_Prepared]) -> None:
        """One batch, in file order (task ids follow the file): runs of plain rows through the
        bulk writer, runs of rows with predictions or gold through SQLAlchemy (they need the
        new task ids) once the writer has caught up. Every statement skips existing keys
        (the direct path only runs while none can exist), so the first row of a key wins."""
        if self.seen is not None and self._may_repeat_a_key(batch):
            self.writer.direct = False
            self.seen = None
        if not any(p.needs_orm for p in batch):
            if batch:
                self.writer.write(batch)
            return
        now = utcnow()
        for needs_orm, run in itertools.groupby(batch, key=lambda p: p.needs_orm):
            rows = list(run)
            if needs_orm:
                self.writer.drain()
                self.created += _orm_insert(self.session, self.project, self.import_id, rows, now)
            else:
                self.writer.write(rows)

    def _may_repeat_a_key(self, batch: list[_Prepared]) -> bool:
        """True if a key of this batch may have come before, in it or in an earlier one, or
        if there are too many keys to keep track of."""
        seen = self.seen
        assert seen is not None
        for p in batch:
            h = hash(p.dedup_key)
            if h in seen:
                return True
            seen.add(h)
        return len(seen) > TRACKED_KEYS


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
    project: Project,
    import_id: int,
    batch: list[_Prepared],
    now: datetime,
) -> int:
    """Rows with predictions or gold; returns how many tasks were created."""
    first: dict[str, _Prepared] = {}
    for p in batch:
        first.setdefault(p.dedup_key, p)
    table = Task.__table__
    stmt = insert_ignoring_conflicts(session, table, ["project_id", "dedup_key"])  # type: ignore[arg-type]
    params = [
        {
            "project_id": project.id,
            "external_id": p.external_id,
            "dedup_key": p.dedup_key,
            "data": p.data,
            "gold": p.gold,
            "taken": 0,
            "done": 0,
            "is_open": p.gold is None,  # gold tasks stay out of the ordinary queue
            "import_id": import_id,
            "created_at": now,
        }
        for p in batch
    ]
    # Only the rows this statement inserted come back, so a duplicate (of an earlier row of
    # the file or of an existing task) never attaches its predictions to the task kept.
    inserted = session.execute(stmt.returning(table.c.dedup_key, table.c.id), params).all()
    rows = [
        {
            "project_id": project.id,
            "task_id": task_id,
            "model_version": pred["model_version"],
            "score": pred["score"],
            "value": pred["value"],
            "created_at": now,
        }
        for key, task_id in inserted
        for pred in first[key].predictions
    ]
    if rows:
        session.execute(Prediction.__table__.insert(), rows)  # type: ignore[attr-defined]
    return len(inserted)


__all__ = ["ImportResult", "LabelhouseError", "import_tasks"]
