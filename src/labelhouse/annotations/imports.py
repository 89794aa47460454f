"""Importing answers a lab already has: validated in full, atomic, idempotent, counted.

Every row is checked before anything is written, as a submission would be (each field by
its kind, against the task's data) and against the queue: nothing is written unless every
row is good, and each problem names the row's place and the key or field. Then, in the
caller's transaction:

* an annotator that is the e-mail of a member is that member; any other identity is an
  external annotator of the organization (:mod:`labelhouse.accounts.externals`), created
  on first sight and the same person in every later import;
* a new answer is stored like a submitted one (revision 1, ``import_id`` set: marked as
  imported everywhere it is shown) and holds a slot on its task: a ``submitted``
  assignment, ``task.taken``/``done`` and its workforce's route counted, so the queue never
  hands the task out beyond its overlap;
* **overlap**: a task may not end up with more answers (and live leases) than the
  project's overlap. Rows beyond it are problems that say which overlap the file needs:
  raise the project's overlap first (crowd files often have 5-40 answers per item), or
  leave rows out. Gold tasks have no limit, as ever;
* **idempotent**: a row whose annotator already gave the same answer to the task changes
  nothing (the same file imported again: all ``unchanged``). A *different* answer is a
  problem unless ``update`` is asked: then it becomes a new revision of that answer (which
  waits for review again, like any edit);
* the same task and annotator twice in one file is a problem naming both places.

The contract other importers call is :func:`import_annotations` (rows as dicts); files go
through :func:`import_file` (:mod:`labelhouse.annotations.import_files`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from labelhouse.accounts import externals
from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.annotations import import_plan as plan
from labelhouse.annotations.import_files import detect_format, read_annotation_rows
from labelhouse.annotations.import_rows import Row, check_row
from labelhouse.annotations.import_writes import write_new, write_replacements
from labelhouse.annotations.models import AnnotationImport
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import InvalidInput, Problem
from labelhouse.projects.service import get_project, load_schema
from labelhouse.tasks.readers import RowError

MAX_PROBLEMS = 100
ProgressHandler = Callable[[int], None]


@dataclass
class AnnotationImportResult:
    """What an import did, or (``problems`` not empty) why it wrote nothing at all."""

    import_id: int | None
    rows: int = 0
    imported: int = 0  # new answers
    updated: int = 0  # answers replaced by a new revision (``update``)
    unchanged: int = 0  # the same answer was stored already (duplicates)
    external_annotators_created: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0  # problems past the first MAX_PROBLEMS, not listed

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "external_annotators_created": self.external_annotators_created,
            "problems": [{"field": p.field, "problem": p.problem} for p in self.problems],
            "more_problems": self.more_problems,
        }

    def raise_for_problems(self, filename: str | None = None) -> None:
        """The problems as one InvalidInput (what the API and the CLI tell the user)."""
        if not self.problems:
            return
        first, more = self.problems[0], len(self.problems) - 1 + self.more_problems
        where = f"{filename}, " if filename else ""
        raise InvalidInput(
            f"Nothing was imported: {where}{first.field}: {first.problem}"
            + (f" (and {more} more problems)" if more else ""),
            self.problems,
        )


def import_annotations(
    session: Session,
    actor: Actor,
    project_id: int,
    rows: Iterable[dict[str, Any]],
    *,
    source: str = "file",
    filename: str | None = None,
) -> AnnotationImportResult:
    """Import answers (rows as dicts, see the module docstring) in the caller's transaction.

    When any row has a problem nothing is written and the result lists the problems (rows
    are named "row 1", "row 2"… in the order given); otherwise its counts say what happened."""
    located = ((f"row {i}", row) for i, row in enumerate(rows, start=1))
    return import_located(session, actor, project_id, located, source=source, filename=filename)


def import_file(
    session: Session,
    actor: Actor,
    project_id: int,
    stream: BinaryIO,
    *,
    filename: str,
    file_format: str | None = None,
    field_name: str | None = None,
    update: bool = False,
    workforce: str | int | None = None,
    on_progress: ProgressHandler | None = None,
) -> AnnotationImportResult:
    """Import an annotation file (JSONL, JSON, CSV or the long format); places are lines."""
    fmt = check_may_import(actor, project_id, filename, file_format)
    project = get_project(session, actor.in_project(project_id), project_id)
    schema = load_schema(session, project)
    rows = read_annotation_rows(stream, fmt, schema, field=field_name)
    return import_located(
        session,
        actor,
        project_id,
        rows,
        source=f"file:{fmt}",
        filename=filename,
        update=update,
        workforce=workforce,
        on_progress=on_progress,
    )


def check_may_import(actor: Actor, project_id: int, filename: str, file_format: str | None) -> str:
    """The checks before anything is read: a project manager, a known format (returned)."""
    actor.in_project(project_id).require(Role.manager, "import annotations")
    return detect_format(filename, file_format)


class _Problems:
    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.count = 0

    def add(self, where: str, problem: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            self.listed.append(Problem(where, problem))


def import_located(
    session: Session,
    actor: Actor,
    project_id: int,
    rows: Iterable[tuple[str, Any]],
    *,
    source: str,
    filename: str | None,
    update: bool = False,
    workforce: str | int | None = None,
    on_progress: ProgressHandler | None = None,
) -> AnnotationImportResult:
    """:func:`import_annotations` over ``(where, row)`` pairs (a RowError is a problem)."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "import annotations")
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    workforce_id = externals.workforce_of(session, actor, workforce)
    problems = _Problems()
    parsed, count = _parse(rows, problems, on_progress)
    result = AnnotationImportResult(import_id=None, rows=count)
    if count == 0:
        problems.add("file", "no rows: nothing to import")
    checked = plan.Planner(session, actor, project, schema, problems.add, update=update)
    checked.check(parsed, workforce_id)
    if problems.count:
        result.problems = sorted(problems.listed, key=_place)
        result.more_problems = problems.count - len(problems.listed)
        return result
    now = utcnow()
    created = checked.create_externals(workforce_id)
    record = AnnotationImport(
        project_id=project.id,
        user_id=actor.user_id,
        source=source[:40],
        filename=(filename or "")[-500:],
        rows=count,
        created_at=now,
    )
    session.add(record)
    session.flush()
    answers = checked.new_answers(now)
    write_new(
        session,
        project_id=project.id,
        schema_version=project.schema_version,
        overlap=project.overlap,
        import_id=record.id,
        answers=answers,
        routed=project.routed,
        now=now,
    )
    write_replacements(
        session,
        schema_version=project.schema_version,
        import_id=record.id,
        replacements=checked.replacements(now),
    )
    result.import_id = record.id
    result.imported, result.updated = len(answers), len(checked.updates)
    result.unchanged, result.external_annotators_created = checked.unchanged, created
    record.imported, record.updated, record.unchanged = (
        result.imported,
        result.updated,
        result.unchanged,
    )
    record.externals_created = created
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="annotations.import",
        object_type="project",
        object_id=project.id,
        details={
            k: v for k, v in result.as_dict().items() if k not in ("problems", "more_problems")
        }
        | {"source": source, "filename": (filename or "")[-200:]},
    )
    return result


def _parse(
    rows: Iterable[tuple[str, Any]], problems: _Problems, on_progress: ProgressHandler | None
) -> tuple[list[Row], int]:
    parsed: list[Row] = []
    count = 0
    for where, raw in _counted(rows, on_progress):
        count += 1
        if isinstance(raw, RowError):
            problems.add(where, raw.problem)
            if raw.fatal:
                break
            continue
        out = check_row(where, raw)
        if isinstance(out, Row):
            parsed.append(out)
        else:
            for p in out:
                problems.add(where, p)
    return parsed, count


def _counted(
    rows: Iterable[tuple[str, Any]], on_progress: ProgressHandler | None
) -> Iterator[tuple[str, Any]]:
    n = 0
    for item in rows:
        n += 1
        if on_progress is not None and n % 1000 == 0:
            on_progress(n)
        yield item
    if on_progress is not None:
        on_progress(n)


_NUMBER = re.compile(r"(\d+)$")


def _place(p: Problem) -> tuple[int, int]:
    """Problems in file order ("line 9" before "line 10"); others (the file) first."""
    found = _NUMBER.search(p.field.split(":")[0])
    return (1, int(found.group(1))) if found else (0, 0)


__all__ = ["AnnotationImportResult", "import_annotations", "import_file"]
