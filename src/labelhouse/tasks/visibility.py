"""Which of a project's task rows readers may see: every one, except the tasks of an import
that is still being staged.

On SQLite a large import commits its batches one by one (``tasks/staged_import.py``) so that
annotators' writes get the lock in between; until one short transaction publishes it, the
project names it in ``project.staging_import_id`` and every query over the project's tasks
leaves its tasks out. While nothing is staged (always on PostgreSQL, and nearly always on
SQLite) the condition is ``true()`` and costs nothing.

Task ids make the condition cheap: only imports create tasks, imports into one project take
turns, and SQLite gives a new row the highest id so far, so the staged tasks are exactly
the project's tasks from ``task_import.first_task_id`` on. Index walks stop there (the work
queue would otherwise step over every staged open task when the visible ones run out), and
rows that only name a task (routes) are filtered by id alone. The import id is tested too,
so a staged task stays hidden even if that ordering ever failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, true
from sqlalchemy.orm import Session

from labelhouse.projects.models import Project
from labelhouse.tasks.models import Task, TaskImport

STAGING, DONE = "staging", "done"
_T: Table = Task.__table__  # type: ignore[assignment]
_P: Table = Project.__table__  # type: ignore[assignment]
_I: Table = TaskImport.__table__  # type: ignore[assignment]
NO_TASK_ID = 2**63 - 1  # "no staged task yet": every id is below it


@dataclass(frozen=True)
class Staging:
    """A project's import being staged: its id and its lowest task id (None until a batch
    stored a task)."""

    import_id: int
    first_task_id: int | None

    @property
    def floor(self) -> int:
        return NO_TASK_ID if self.first_task_id is None else self.first_task_id


_STAGING_OF = (
    select(_P.c.staging_import_id, _I.c.first_task_id)
    .select_from(_P.outerjoin(_I, _I.c.id == _P.c.staging_import_id))
    .where(_P.c.id == bindparam("pid"))
)
_FIRST_TASK = select(_I.c.first_task_id).where(_I.c.id == bindparam("iid"))


def staging_of(session: Session, project_id: int) -> Staging | None:
    """The project's staging import, read in the caller's transaction: so it agrees with
    the task rows the caller reads next (one primary-key lookup)."""
    row = session.connection().execute(_STAGING_OF, {"pid": project_id}).first()
    if row is None or row[0] is None:
        return None
    return Staging(int(row[0]), row[1])


def staging_of_row(session: Session, project: Any) -> Staging | None:
    """Like :func:`staging_of` for a project row read in this transaction (a ``ProjectRow``
    of the hot paths): no query at all while nothing is staged."""
    staged = project.staging_import_id
    if staged is None:
        return None
    first = session.connection().execute(_FIRST_TASK, {"iid": staged}).scalar()
    return Staging(int(staged), first)


def stagings_of(session: Session, project_ids: Iterable[int]) -> dict[int, Staging]:
    """:func:`staging_of` for several projects at once (one query; usually empty)."""
    ids = list(project_ids)
    if not ids:
        return {}
    rows = session.connection().execute(
        select(_P.c.id, _P.c.staging_import_id, _I.c.first_task_id)
        .select_from(_P.outerjoin(_I, _I.c.id == _P.c.staging_import_id))
        .where(_P.c.id.in_(ids), _P.c.staging_import_id.is_not(None))
    )
    return {pid: Staging(int(iid), first) for pid, iid, first in rows}


def visible(staging: Staging | None, table: Any = _T) -> ColumnElement[bool]:
    """The condition on task rows (``table``: ``task`` or an alias of it) that leaves the
    staged import out; ``true()`` when nothing is staged."""
    if staging is None:
        return true()
    other_import = or_(table.c.import_id.is_(None), table.c.import_id != staging.import_id)
    if staging.first_task_id is None:
        return other_import
    return and_(table.c.id < staging.first_task_id, other_import)


def visible_tasks(session: Session, project_id: int, table: Any = _T) -> ColumnElement[bool]:
    """:func:`visible` for one project, looked up in the caller's transaction."""
    return visible(staging_of(session, project_id), table)


def visible_task_id(staging: Staging | None, task_id: Any) -> ColumnElement[bool]:
    """For rows that name a task of the project (``task_route.task_id``): not a staged one."""
    if staging is None or staging.first_task_id is None:
        return true()
    return task_id < staging.first_task_id  # type: ignore[no-any-return]


def visible_in(stagings: dict[int, Staging], table: Any = _T) -> ColumnElement[bool]:
    """:func:`visible` over rows of several projects (``table.c.project_id``)."""
    if not stagings:
        return true()
    return and_(*(or_(table.c.project_id != pid, visible(s, table)) for pid, s in stagings.items()))


def routes_visible_in(stagings: dict[int, Staging], routes: Any) -> ColumnElement[bool]:
    """:func:`visible_task_id` over route rows of several projects."""
    if not stagings:
        return true()
    return and_(
        *(
            or_(routes.c.project_id != pid, visible_task_id(s, routes.c.task_id))
            for pid, s in stagings.items()
        )
    )


def visible_joined(tasks: Any = _T, projects: Any = _P) -> ColumnElement[bool]:
    """For a statement that joins each task to its project row (task-by-id lookups): the
    task is not of the import its project is staging. One row: no index question."""
    return or_(
        projects.c.staging_import_id.is_(None),
        tasks.c.import_id.is_(None),
        tasks.c.import_id != projects.c.staging_import_id,
    )


# -- the work queue's prebuilt statements -------------------------------------------------------


def hidden_by_params(table: Any = _T) -> ColumnElement[bool]:
    """:func:`visible` with bind parameters (``staged``, ``first_staged``), for statements
    built once; their values come from :func:`claim_params`."""
    return and_(
        table.c.id < bindparam("first_staged"),
        or_(table.c.import_id.is_(None), table.c.import_id != bindparam("staged")),
    )


def claim_params(session: Session, project: Any) -> dict[str, int] | None:
    """The values for :func:`hidden_by_params`, or None while nothing is staged (then the
    queue runs its usual statements)."""
    staging = staging_of_row(session, project)
    if staging is None:
        return None
    return {"staged": staging.import_id, "first_staged": staging.floor}
