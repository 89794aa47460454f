"""Media a task names by URL, under the task's access rule (``task:assigned-or-reviewer``):
whoever may open the task may see its media, nobody else, and a vendor's person only what
the project's outside policy shows them. The web route serves what this returns."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.errors import NotFound
from labelhouse.kinds.registry import LabelSchema
from labelhouse.media.refs import RemoteRef, is_url, parse_ref
from labelhouse.projects.service import load_schema
from labelhouse.tasks.outside_policy import serving_for
from labelhouse.tasks.service import get_task


def remote_media_of(session: Session, actor: Actor, task_id: int, key: str) -> RemoteRef:
    """The URL in the task's data under media key ``key``; NotFound, like a missing task,
    for a task the actor may not open, a key that is not media or holds no URL, and a value
    the outside policy hides or redacts for them."""
    task, project = get_task(session, actor, task_id)
    schema = load_schema(session, project)  # type: ignore[arg-type]  # as web/api/tasks.py
    value = task.data.get(key) if key in media_keys(schema) else None
    ref = parse_ref(value) if isinstance(value, str) and is_url(value) else None
    if isinstance(ref, RemoteRef):
        outside = serving_for(session, actor, project.id, schema, task_ids=[task.id])
        if outside is None or outside.data(task.id, task.data).get(key) == value:
            return ref
    raise NotFound(f"Task {task_id} has no media '{key[:100]}'.")


def media_keys(schema: LabelSchema) -> set[str]:
    return {k for f in schema.fields for k in f.media_keys()}


def remote_media_urls(schema: LabelSchema, task_id: int, data: dict[str, Any]) -> dict[str, str]:
    """Media URLs of the task data (as shown) → where the browser gets them: the task's
    media route, never the URL itself (see :mod:`labelhouse.media.sources`)."""
    return {
        data[k]: f"/api/tasks/{task_id}/media/{quote(k, safe='')}"
        for k in sorted(media_keys(schema))
        if is_url(data.get(k))
    }
