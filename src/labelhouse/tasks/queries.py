"""Read queries over tasks shared by the task browser, the import page and the API.

Text search here is deliberately simple and portable: a case-insensitive substring match
on the JSON text of a document, the same SQL on SQLite and PostgreSQL. It finds keys as
well as values and needs no extension or full-text index; it scans the project's tasks,
which is fine for the browser's "find that item" use. Case folding is ASCII-only on
SQLite (its ``lower()``), full Unicode on PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.projects.models import Project
from labelhouse.projects.queries import sample_task_data
from labelhouse.projects.service import get_project, load_schema
from labelhouse.tasks.models import StoredFile, Task, TaskImport
from labelhouse.tasks.visibility import DONE, visible_tasks

MAX_SEARCH_LENGTH = 200


def json_spellings(needle: str) -> list[str]:
    """How ``needle`` can appear inside JSON text: as written, and with JSON escapes.

    SQLite keeps the text SQLAlchemy serialised (``json.dumps``: non-ASCII as ``\\u00e9``,
    quotes as ``\\"``), PostgreSQL's JSONB prints non-ASCII as itself; matching every
    spelling makes one query work on both.
    """
    spellings = [needle, json.dumps(needle)[1:-1], json.dumps(needle, ensure_ascii=False)[1:-1]]
    return list(dict.fromkeys(spellings))


def json_text_contains(document: Any, needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring test on a JSON column or JSON expression's text.

    ``%`` and ``_`` in the needle are literal (autoescape), never LIKE wildcards.
    """
    as_text = cast(document, Text)
    return or_(*(as_text.icontains(s, autoescape=True) for s in json_spellings(needle)))


@dataclass
class TransferView:
    """What the import and export pages show about a project."""

    project: Project
    data_keys: list[str]
    media_keys: list[str]
    imports: list[TaskImport]
    files: int
    tasks: int
    example: dict[str, Any]  # one valid task row, for the page's format help


def transfer_view(session: Session, actor: Actor, project_id: int) -> TransferView:
    """Managers only: importing and exporting are manager actions."""
    actor = actor.in_project(project_id)
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "import or export tasks")
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    return TransferView(
        project=project,
        data_keys=sorted(schema.data_keys()),
        media_keys=sorted({k for f in schema.fields for k in f.media_keys()}),
        imports=recent_imports(session, actor, project.id),
        example={"external_id": "item-1", **sample_task_data(schema, media="cat.jpg")},
        files=session.scalar(
            select(func.count()).select_from(StoredFile).where(StoredFile.project_id == project.id)
        )
        or 0,
        tasks=session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.project_id == project.id, visible_tasks(session, project.id))
        )
        or 0,
    )


def recent_imports(
    session: Session, actor: Actor, project_id: int, *, before_id: int = 0, limit: int = 10
) -> list[TaskImport]:
    """The project's import runs, newest first, older than ``before_id`` if given (the import
    page's history and the API's keyset pages). Managers only, like importing."""
    actor = actor.in_project(project_id)
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "see the project's imports")
    project = get_project(session, actor, project_id)
    query = select(TaskImport).where(
        TaskImport.project_id == project.id, TaskImport.state == DONE
    )  # an import still being staged is not one yet
    if before_id:
        query = query.where(TaskImport.id < before_id)
    return list(session.scalars(query.order_by(TaskImport.id.desc()).limit(limit)))
