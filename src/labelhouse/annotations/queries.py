"""Task browsing with annotation filters, and everything the task detail page shows.

The annotation filters live here rather than in ``tasks`` because imports point down:
``tasks`` cannot see the annotation table, so it accepts extra conditions and this module
builds them.

Label-value matching works on the JSON of one field of a *submitted* annotation, with the
same SQL on SQLite and PostgreSQL (SQLAlchemy's JSON index operators):

- ``is``: the field's value equals the text (single choice, rating, free text), or a list
  value holds it as a whole JSON string (multiple choice; span and box labels). The list
  test is a substring match for ``"value"`` on the field's JSON text, so a span whose text
  is exactly the value matches too — rare, and acceptable for a browser filter.
- ``contains``: case-insensitive substring of the field's JSON text (ASCII-only case
  folding on SQLite).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, exists, or_, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.projects.service import (
    ProjectRow,
    get_project,
    load_schema,
    load_schema_and_document,
)
from labelhouse.tasks import service as tasks
from labelhouse.tasks.media_access import remote_media_urls
from labelhouse.tasks.models import Task
from labelhouse.tasks.queries import json_text_contains

MATCHES = ("is", "contains")
SUBMITTED = "submitted"


@dataclass(frozen=True)
class TaskFilters:
    """What the task browser (and ``GET /api/projects/{id}/tasks``) can filter on."""

    status: str | None = None
    external_id: str | None = None
    search: str | None = None
    annotator_id: int | None = None
    field: str | None = None
    value: str | None = None
    match: str = "is"

    @property
    def active(self) -> bool:
        return any(
            v not in (None, "")
            for v in (
                self.status,
                self.external_id,
                self.search,
                self.annotator_id,
                self.field,
                self.value,
            )
        )


def _value_condition(schema: LabelSchema, filters: TaskFilters) -> ColumnElement[bool] | None:
    if filters.value in (None, "") and not filters.field:
        return None
    names = [f.name for f in schema.fields]
    if not filters.field or schema.field(filters.field) is None:
        raise InvalidInput(
            "Pick the label field to filter on.",
            [Problem("field", f"use one of: {', '.join(names)}")],
        )
    if filters.value in (None, ""):
        raise InvalidInput(
            "Give the label value to look for.", [Problem("value", "required with a field")]
        )
    if filters.match not in MATCHES:
        raise InvalidInput(
            "Unknown match mode.", [Problem("match", f"use one of: {', '.join(MATCHES)}")]
        )
    value = str(filters.value)
    node = Annotation.value[filters.field]
    if filters.match == "contains":
        return json_text_contains(node, value)
    quoted = json.dumps(value)
    spellings = {quoted, json.dumps(value, ensure_ascii=False)}
    as_text = cast(node, Text)
    return or_(
        node.as_string() == value,
        *(as_text.contains(s, autoescape=True) for s in spellings),
    )


def _annotation_parts(
    actor: Actor, schema: LabelSchema, filters: TaskFilters
) -> list[ColumnElement[bool]]:
    """What one submitted annotation must satisfy for the annotator and value filters."""
    parts: list[ColumnElement[bool]] = []
    if filters.annotator_id is not None:
        parts.append(Annotation.user_id == filters.annotator_id)
    value = _value_condition(schema, filters)
    if value is not None:
        parts.append(value)
    if parts and not actor.sees_whole_project:
        parts.append(Annotation.user_id == actor.user_id)
    return parts


def annotated_by(
    actor: Actor, schema: LabelSchema, filters: TaskFilters, project_id: int
) -> tasks.DrivingRows | None:
    """With an annotator filter, the page is read from that person's submitted annotations
    in ``ix_annotation_browse (project_id, user_id, status, task_id)`` order (migration
    0024): one annotation per task and person, so the join lists each task once, and a
    page costs that person's answers rather than a walk of the project."""
    if filters.annotator_id is None:
        return None
    on = and_(
        Annotation.task_id == Task.id,
        Annotation.project_id == project_id,
        Annotation.status == SUBMITTED,
        *_annotation_parts(actor, schema, filters),
    )
    return tasks.DrivingRows(table=Annotation, on=on, task_id=Annotation.task_id)


def annotation_conditions(
    actor: Actor, schema: LabelSchema, filters: TaskFilters
) -> list[ColumnElement[bool]]:
    """One EXISTS over submitted annotations; annotator and label value must hold for the
    *same* annotation ("tasks where Ada labelled PER"), not for two different ones.
    Annotators only ever match their own annotations (they cannot see anyone else's)."""
    parts = _annotation_parts(actor, schema, filters)
    if not parts:
        return []
    return [
        exists().where(Annotation.task_id == Task.id, Annotation.status == SUBMITTED, and_(*parts))
    ]


def browse_tasks(
    session: Session,
    actor: Actor,
    project_id: int,
    filters: TaskFilters,
    *,
    after_id: int = 0,
    limit: int = 50,
) -> tasks.TaskPage:
    """One page of the project's tasks matching every given filter."""
    actor = actor.in_project(project_id)
    project = get_project(session, actor, project_id)
    schema = load_schema(session, project)
    driving = annotated_by(actor, schema, filters, project.id)
    return tasks.list_tasks(
        session,
        actor,
        project_id,
        after_id=after_id,
        limit=limit,
        status=filters.status or None,
        external_id=filters.external_id or None,
        search=filters.search or None,
        where=[] if driving else annotation_conditions(actor, schema, filters),
        driving=driving,
    )


@dataclass
class BrowseView:
    project: Project
    page: tasks.TaskPage
    field_names: list[str]
    annotators: list[tuple[int, str]]


def browse_view(
    session: Session,
    actor: Actor,
    project_id: int,
    filters: TaskFilters,
    *,
    after_id: int = 0,
    limit: int = 50,
) -> BrowseView:
    """A page of the task browser with what its filter menus offer."""
    project = get_project(session, actor, project_id)
    page = browse_tasks(session, actor, project_id, filters, after_id=after_id, limit=limit)
    return BrowseView(
        project=project,
        page=page,
        field_names=[f.name for f in load_schema(session, project).fields],
        annotators=project_annotators(session, project.id),
    )


def project_annotators(session: Session, project_id: int) -> list[tuple[int, str]]:
    """(user id, e-mail) of everyone with an annotation in the project, for filter menus.
    Callers have already scoped the project to the actor's organization."""
    rows = session.execute(
        select(User.id, User.email)
        .where(exists().where(Annotation.user_id == User.id, Annotation.project_id == project_id))
        .order_by(User.email)
    )
    return [(uid, email) for uid, email in rows]


@dataclass
class AnnotationView:
    annotation: Annotation
    annotator_email: str
    revisions: list[AnnotationRevision] = field(default_factory=list)


@dataclass
class TaskDetail:
    task: Task
    project: ProjectRow
    schema: LabelSchema
    status: str
    predictions: list[Any]  # rows from tasks.service.predictions_of_task
    annotations: list[AnnotationView]
    media: dict[str, Any]
    document: dict[str, Any] = field(default_factory=dict)  # the schema as the widgets read it


def task_detail(session: Session, actor: Actor, task_id: int) -> TaskDetail:
    """A task with its predictions and every annotation (drafts too) with its full history,
    in three queries. Annotators only reach their own tasks and annotations."""
    task, project = tasks.get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    schema, document = load_schema_and_document(session, project)
    query = (
        select(Annotation, User.email)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.task_id == task.id)
        .order_by(Annotation.id)
    )
    if not actor.sees_whole_project:
        query = query.where(Annotation.user_id == actor.user_id)
    views = {a.id: AnnotationView(a, email) for a, email in session.execute(query)}
    if views:
        for rev in session.scalars(
            select(AnnotationRevision)
            .where(AnnotationRevision.annotation_id.in_(list(views)))
            .order_by(AnnotationRevision.annotation_id, AnnotationRevision.revision.desc())
        ):
            views[rev.annotation_id].revisions.append(rev)
    media_names = [
        task.data[k]
        for f in schema.fields
        for k in f.media_keys()
        if isinstance(task.data.get(k), str)
    ]
    return TaskDetail(
        task=task,
        project=project,
        schema=schema,
        status=tasks.task_status(task, project.overlap),
        predictions=tasks.predictions_of_task(session, task.id),
        annotations=list(views.values()),
        media=tasks.media_urls(session, project.id, media_names)
        | remote_media_urls(schema, task.id, task.data),
        document=document,
    )
