"""Reading tasks (scoped to organization, to the projects the actor may see and, for
annotators, to their own assignments) and storing uploaded media files."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    column,
    exists,
    func,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.db.base import UtcDateTime, utcnow
from labelhouse.db.prepared import Prepared
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem, TooLarge
from labelhouse.projects.models import Project
from labelhouse.projects.service import (
    PROJECT_ROW_COLUMNS,
    PROJECT_ROW_TABLE_COLUMNS,
    ProjectRow,
    get_project,
)
from labelhouse.storage import Storage
from labelhouse.tasks.models import Assignment, Prediction, StoredFile, Task
from labelhouse.tasks.outside_policy import hidden_keys_only
from labelhouse.tasks.queries import MAX_SEARCH_LENGTH, json_spellings, json_text_contains
from labelhouse.tasks.status_pages import status_condition, status_page
from labelhouse.tasks.visibility import stagings_of, visible_in, visible_joined, visible_tasks

TASK_STATUSES = ("new", "in_progress", "done")
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
SAFE_NAME = re.compile(r"[^A-Za-z0-9._\- ]+")


_TASK_WITH_PROJECT = (
    select(
        Task,
        *PROJECT_ROW_COLUMNS,
        exists()
        .where(Assignment.task_id == Task.id, Assignment.user_id == bindparam("uid"))
        .label("assigned"),
    )
    .join(Project, Project.id == Task.project_id)
    .where(
        Task.id == bindparam("tid"),
        Project.organization_id == bindparam("org"),
        visible_joined(),  # a task of an import still being staged is not there yet
    )
)


def may_see_task(actor: Actor, project_id: int, assigned: bool) -> bool:
    """The task rule: the project must be visible to the actor; there, whoever does not see
    the whole project (annotators, and a vendor's people in any role) only reaches the
    tasks they were given."""
    if actor.role_in(project_id) is None:
        return False
    return assigned or actor.in_project(project_id).sees_whole_project


# The review queue's leases (review/models.py ReviewLease), named as a plain table: review
# sits above tasks, and a vendor reviewer's view of a task they are reviewing is a task rule.
_REVIEW_LEASE = table(
    "review_lease",
    column("task_id"),
    column("project_id"),
    column("reviewer_id"),
    column("expires_at", UtcDateTime),
)


def _reviewing(session: Session, actor: Actor, project_id: int, task_id: int) -> bool:
    """A reviewer who does not see the whole project (a vendor's) reaches the task they
    hold a live review lease on: the one the review queue showed them."""
    if actor.role_in(project_id) is None or not actor.in_project(project_id).at_least(
        Role.reviewer
    ):
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    _REVIEW_LEASE.c.task_id == task_id,
                    _REVIEW_LEASE.c.reviewer_id == actor.user_id,
                    _REVIEW_LEASE.c.expires_at > utcnow(),
                )
            )
        )
    )


def get_task(session: Session, actor: Actor, task_id: int) -> tuple[Task, ProjectRow]:
    """The one scoped task lookup. Annotators (and a vendor's people) only reach tasks they
    were assigned, or as reviewers the one they hold a review lease on; a task of a project
    the actor may not see is as missing as one of another organization. Role checks after
    it use ``actor.in_project(project.id)``."""
    row = session.execute(
        _TASK_WITH_PROJECT, {"tid": task_id, "org": actor.organization_id, "uid": actor.user_id}
    ).first()
    if row is None or not (
        may_see_task(actor, row[1], row.assigned) or _reviewing(session, actor, row[1], task_id)
    ):
        raise NotFound(f"Task {task_id} does not exist.")
    return row[0], ProjectRow(*row[1:-1])


@dataclass
class TaskRow:
    """A task as plain columns, for the annotator's hot path (``/next`` and submit): no ORM
    identity map to fill and nothing for the unit of work to flush at commit. Same attribute
    names as :class:`Task`, so serializers take either."""

    id: int
    project_id: int
    external_id: str | None
    data: dict[str, Any]
    taken: int
    done: int
    is_open: bool
    gold: dict[str, Any] | None
    created_at: datetime


_T: Table = Task.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]
_P: Table = Project.__table__  # type: ignore[assignment]
TASK_ROW_COLUMNS = tuple(_T.c[name] for name in TaskRow.__dataclass_fields__)
_N_TASK, _N_PROJECT = len(TASK_ROW_COLUMNS), len(PROJECT_ROW_TABLE_COLUMNS)


@dataclass(frozen=True)
class ScopedTaskQuery:
    """The scoped task lookup as a prebuilt Core statement, optionally with extra columns
    (e.g. the caller's own annotation, outer-joined) so a hot path reads all it needs in one
    statement. Its last column says whether the task was given to the caller."""

    query: Select[Any]
    prepared: Prepared  # the same, run on the cursor: the submit's first statement

    @classmethod
    def build(cls, *extra: Any, outerjoin: tuple[Any, Any] | None = None) -> ScopedTaskQuery:
        source: Any = _T.join(_P, _P.c.id == _T.c.project_id)
        if outerjoin is not None:
            source = source.outerjoin(*outerjoin)
        query = (
            select(*TASK_ROW_COLUMNS, *PROJECT_ROW_TABLE_COLUMNS, *extra)
            .select_from(source)
            .where(
                _T.c.id == bindparam("tid"),
                _P.c.organization_id == bindparam("org"),
                visible_joined(),  # a task of an import still being staged is not there yet
            )
        )
        assigned = (
            exists().where(_A.c.task_id == _T.c.id, _A.c.user_id == bindparam("uid")).label("a")
        )
        query = query.add_columns(assigned)
        return cls(query, Prepared(query, standalone=True))  # a read: see db/deferred_begin.py

    def fetch(
        self, session: Session, actor: Actor, task_id: int
    ) -> tuple[TaskRow, ProjectRow, tuple[Any, ...]]:
        """The task, its project and the extra columns; NotFound outside the actor's scope
        (the same rule and message as :func:`get_task`)."""
        params = {"tid": task_id, "org": actor.organization_id, "uid": actor.user_id}
        row = self.prepared.first(session.connection(), params)
        if row is None or not may_see_task(actor, row[1], row[-1]):
            raise NotFound(f"Task {task_id} does not exist.")
        rest = _N_TASK + _N_PROJECT
        return TaskRow(*row[:_N_TASK]), ProjectRow(*row[_N_TASK:rest]), tuple(row[rest:-1])


_PREDICTIONS_OF_TASK = Prepared(
    select(Prediction.id, Prediction.model_version, Prediction.score, Prediction.value)
    .where(Prediction.task_id == bindparam("tid"))
    .order_by(Prediction.id),
    standalone=True,  # a read: see db/deferred_begin.py
)


class PredictionRow(NamedTuple):
    id: int
    model_version: str
    score: float | None
    value: Any


def predictions_of_task(session: Session, task_id: int) -> list[PredictionRow]:
    """A task's predictions as light rows (id, model_version, score, value).

    Built once and read as plain columns on the cursor (:mod:`labelhouse.db.prepared`): on
    the ``/next`` hot path the ORM version of this (usually empty) lookup cost a tenth of
    the server's time.
    """
    rows = _PREDICTIONS_OF_TASK.execute(session.connection(), {"tid": task_id})
    return [PredictionRow(*row) for row in rows]


@dataclass
class TaskPage:
    items: list[Task]
    next_cursor: int | None


@dataclass(frozen=True)
class DrivingRows:
    """Rows of another table that name at most one task each and hold the filter, read in
    their own index's order: the page joins them and pages by ``task_id`` (a column equal to
    ``task.id``), so it costs the matching rows, not the project's tasks. Built by layers
    above (the annotator filter: :mod:`labelhouse.annotations.queries`)."""

    table: Any
    on: ColumnElement[bool]
    task_id: Any


def list_tasks(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    after_id: int = 0,
    limit: int = 50,
    status: str | None = None,
    external_id: str | None = None,
    search: str | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    driving: DrivingRows | None = None,
) -> TaskPage:
    """Keyset-paginated task list (stable under inserts, O(log n) per page). A status filter
    reads ``ix_task_status`` (:mod:`labelhouse.tasks.status_pages`).

    ``search`` is a case-insensitive substring of the task data's JSON text (see
    :mod:`labelhouse.tasks.queries`). ``where`` takes extra conditions on ``Task`` from
    layers above (the annotation filters of :mod:`labelhouse.annotations.queries`), so the
    scoping and paging rules stay in this one function; ``driving``, rows of another table
    to read the page from (then a status is a plain filter on those rows' tasks).
    """
    actor = actor.in_project(project_id)
    project = get_project(session, actor, project_id)
    query = select(Task).where(
        Task.project_id == project.id, Task.id > after_id, visible_tasks(session, project.id)
    )
    if not actor.sees_whole_project:
        query = query.where(
            exists().where(Assignment.task_id == Task.id, Assignment.user_id == actor.user_id)
        )
    if status is not None and status not in TASK_STATUSES:
        raise InvalidInput(
            "Unknown status filter.",
            [Problem("status", f"use one of: {', '.join(TASK_STATUSES)}")],
        )
    if external_id is not None:
        # A task's dedup key is "x:" + its external id (tasks/import_rows.py): the unique
        # (project_id, dedup_key) index finds it at once, where the browse index walked the
        # whole project after the cursor (53-106 ms a page at 1M tasks).
        query = query.where(Task.dedup_key == f"x:{external_id}", Task.external_id == external_id)
    if search:
        if len(search) > MAX_SEARCH_LENGTH:
            raise InvalidInput(
                "The search text is too long.",
                [Problem("q", f"at most {MAX_SEARCH_LENGTH} characters")],
            )
        query = query.where(json_text_contains(Task.data, search))
    for condition in where:
        query = query.where(condition)
    items: list[Task] | None = None
    if driving is not None:
        query = query.join(driving.table, driving.on).where(driving.task_id > after_id)
        if status is not None:
            query = query.where(status_condition(status, project.overlap))
        if external_id is None:
            query = query.order_by(driving.task_id)
        items = list(session.scalars(query.limit(limit + 1)))
    elif status is not None and external_id is None:  # (by external id: one task at most)
        items = status_page(
            session,
            query,
            project_id=project.id,
            status=status,
            overlap=project.overlap,
            after_id=after_id,
            limit=limit,
        )
    if items is None:
        if status is not None:
            query = query.where(status_condition(status, project.overlap))
        if external_id is None:  # (one task at most otherwise: PostgreSQL would sort it)
            query = query.order_by(Task.id)
        items = list(session.scalars(query.limit(limit + 1)))
    more = len(items) > limit
    items = items[:limit]
    return TaskPage(items=items, next_cursor=items[-1].id if more and items else None)


def task_status(task: Task, overlap: int) -> str:
    if task.done >= overlap:
        return "done"
    return "in_progress" if task.taken or task.done else "new"


# -- media files ----------------------------------------------------------------------------


def safe_file_name(name: str) -> str:
    """Keep only the last path component and a conservative character set."""
    base = re.split(r"[\\/]", name or "")[-1].strip().lstrip(".")
    base = SAFE_NAME.sub("_", base)[:255]
    if not base:
        raise InvalidInput("The file needs a name.", [Problem("filename", "empty after cleaning")])
    return base


def store_file(
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    name: str,
    source: BinaryIO,
    storage: Storage,
    max_bytes: int,
) -> tuple[StoredFile, bool]:
    """Store an uploaded image; returns (row, created). The same bytes again is a no-op."""
    from PIL import Image, UnidentifiedImageError

    actor = actor.in_project(project_id)
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "upload files")
    project = get_project(session, actor, project_id)
    clean = safe_file_name(name)
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        while chunk := source.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"'{clean}' is larger than {max_bytes // (1 << 20)} MB.")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        try:
            with Image.open(spool) as image:
                kind = image.format
                width, height = image.size
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            # Pillow names an unknown format by the temporary file's repr: say it plainly.
            reason = (
                "not an image format Pillow can read"
                if isinstance(exc, UnidentifiedImageError)
                else str(exc)[:200]
            )
            raise InvalidInput(
                f"'{clean}' is not a readable image.",
                [Problem("file", reason)],
            ) from None
        if kind not in IMAGE_TYPES:
            raise InvalidInput(
                f"'{clean}' is a {kind} image; upload PNG, JPEG, GIF or WebP.",
                [Problem("file", "unsupported image type")],
            )
        sha = digest.hexdigest()
        existing = session.scalar(
            select(StoredFile).where(StoredFile.project_id == project.id, StoredFile.name == clean)
        )
        if existing is not None:
            if existing.sha256 == sha:
                return existing, False
            raise Conflict(f"A different file named '{clean}' is already in this project.")
        key = f"projects/{project.id}/{sha}.{kind.lower()}"
        spool.seek(0)
        storage.put(key, spool)  # type: ignore[arg-type]
    row = StoredFile(
        project_id=project.id,
        name=clean,
        storage_key=key,
        content_type=IMAGE_TYPES[kind],
        size=size,
        sha256=sha,
        width=width,
        height=height,
    )
    session.add(row)
    session.flush()
    return row, True


def get_file(session: Session, actor: Actor, file_id: int) -> StoredFile:
    """An uploaded file, under the rule of the tasks that use it: whoever sees the whole
    project sees every file of it; others (annotators, a vendor's people) only the files of
    tasks given to them (NotFound
    otherwise, exactly like a missing file)."""
    row = session.execute(
        select(StoredFile)
        .join(Project, Project.id == StoredFile.project_id)
        .where(StoredFile.id == file_id, Project.organization_id == actor.organization_id)
    ).scalar_one_or_none()
    if row is None or actor.role_in(row.project_id) is None:
        raise NotFound(f"File {file_id} does not exist.")
    whole = actor.in_project(row.project_id).sees_whole_project
    reviewing = [] if whole else _review_leased_data(session, actor, row.project_id)
    if (
        not whole
        and not _file_in_own_task(session, actor, row)
        and not any(_names(data, row.name) for data in reviewing)
    ):
        raise NotFound(f"File {file_id} does not exist.")
    if actor.vendor and not _file_shown_outside(session, actor, row, reviewing):
        raise NotFound(f"File {file_id} does not exist.")
    return row


def _review_leased_data(session: Session, actor: Actor, project_id: int) -> list[Any]:
    """The data of the tasks a (vendor) reviewer holds a live review lease on in the
    project: normally one, the task the review queue is showing them."""
    if not actor.in_project(project_id).at_least(Role.reviewer):
        return []
    return list(
        session.scalars(
            select(Task.data)
            .join(_REVIEW_LEASE, _REVIEW_LEASE.c.task_id == Task.id)
            .where(
                _REVIEW_LEASE.c.project_id == project_id,
                _REVIEW_LEASE.c.reviewer_id == actor.user_id,
                _REVIEW_LEASE.c.expires_at > utcnow(),
            )
            .limit(10)
        )
    )


def _file_shown_outside(
    session: Session, actor: Actor, row: StoredFile, reviewing: list[Any]
) -> bool:
    """For a vendor's person: whether one of their tasks (or the task they are reviewing)
    names the file outside the keys the project hides from outside workforces (a hidden
    key's file stays hidden)."""
    policy = hidden_keys_only(session, actor.organization_id, row.project_id)
    if policy is None:
        return True
    if any(_names(policy(data), row.name) for data in reviewing):
        return True
    as_text = cast(Task.data, Text)
    names = [f'"{spelling}"' for spelling in json_spellings(row.name)]
    datas = session.scalars(
        select(Task.data)
        .join(Assignment, Assignment.task_id == Task.id)
        .where(
            Assignment.user_id == actor.user_id,
            Assignment.project_id == row.project_id,
            or_(*(as_text.contains(n, autoescape=True) for n in names)),
        )
        .limit(100)
    )
    return any(_names(policy(data), row.name) for data in datas)


def _names(value: Any, name: str) -> bool:
    if isinstance(value, str):
        return value == name
    if isinstance(value, dict):
        return any(_names(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, name) for v in value)
    return False


def _file_in_own_task(session: Session, actor: Actor, row: StoredFile) -> bool:
    """Whether a task given to the actor names the file: its name as a whole JSON string
    value of the task data (in any of the spellings SQLite and PostgreSQL print)."""
    as_text = cast(Task.data, Text)
    names = [f'"{spelling}"' for spelling in json_spellings(row.name)]
    return bool(
        session.scalar(
            select(
                exists().where(
                    Assignment.user_id == actor.user_id,
                    Assignment.project_id == row.project_id,
                    Task.id == Assignment.task_id,
                    or_(*(as_text.contains(n, autoescape=True) for n in names)),
                )
            )
        )
    )


def media_urls(session: Session, project_id: int, names: list[str]) -> dict[str, Any]:
    """Map uploaded-file names used in task data to their API URLs."""
    if not names:
        return {}
    rows = session.execute(
        select(StoredFile.name, StoredFile.id).where(
            StoredFile.project_id == project_id, StoredFile.name.in_(names)
        )
    )
    return {name: f"/api/files/{file_id}" for name, file_id in rows}


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    in_progress: int = 0

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.in_progress

    @property
    def percent_done(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0


def progress_by_project(session: Session, projects: list[Project]) -> dict[int, Progress]:
    """Task counts per project in one grouped query (done = has ``overlap`` submissions).

    Gold tasks are checks, not deliverable work (``tasks/gold.py``): they are not counted."""
    out = {p.id: Progress() for p in projects}
    if not projects:
        return out
    overlap = {p.id: p.overlap for p in projects}
    rows = session.execute(
        select(Task.project_id, Task.done, Task.taken, func.count())
        .where(
            Task.project_id.in_(list(out)),
            Task.gold.is_(None),
            visible_in(stagings_of(session, out)),
        )
        .group_by(Task.project_id, Task.done, Task.taken)
    )
    for project_id, done, taken, count in rows:
        p = out[project_id]
        p.total += count
        if done >= overlap[project_id]:
            p.done += count
        elif done or taken:
            p.in_progress += count
    return out
