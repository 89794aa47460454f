"""Fixtures-by-function for the page tests: projects, tasks, users and annotations made
through the service layer in the live server's database (each test makes its own)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ProjectMember, Role
from labelhouse.accounts.policy import Actor
from labelhouse.annotations import service as annotations
from labelhouse.projects.models import Project
from labelhouse.projects.service import create_project
from labelhouse.tasks import queue
from labelhouse.tasks.importer import import_tasks
from tests.browser.conftest import PASSWORD, LiveServer
from tests.factories import open_project_to_all

SCHEMA: dict[str, Any] = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [
                {"value": "pos", "hotkey": "1"},
                {"value": "neg", "hotkey": "2"},
                {"value": "neu", "hotkey": "3"},
            ],
        },
        {"name": "note", "kind": "text", "required": False},
    ]
}


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def jsonl(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)


def new_project(
    live: LiveServer,
    *,
    rows: list[dict[str, Any]] | None = None,
    schema: dict[str, Any] | None = None,
    name: str | None = None,
    open_to_all: bool = True,
    **settings: Any,
) -> int:
    """A project owned by the live server's owner, with ``rows`` imported; every reviewer and
    annotator of the organization is a member with their organization role (none is with
    ``open_to_all=False``: then only the organization's owners and managers see it)."""
    with live.db.session() as s:
        project = create_project(
            s, live.owner, name=name or unique("Project"), schema=schema or SCHEMA, **settings
        )
        pid = project.id
        if open_to_all:
            open_project_to_all(s, pid)
        if rows:
            import_tasks(s, live.owner, pid, io.BytesIO(jsonl(rows)), filename="rows.jsonl")
    return pid


def text_rows(n: int, prefix: str = "item") -> list[dict[str, Any]]:
    return [{"external_id": f"{prefix}-{i}", "text": f"{prefix} number {i}"} for i in range(n)]


def new_user(live: LiveServer, role: Role = Role.annotator) -> tuple[Actor, str]:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@browser.test"
    with live.db.session() as s:
        user = accounts.create_user(
            s,
            email=email,
            password=PASSWORD,
            organization_id=live.owner.organization_id,
            role=role,
        )
        for pid in s.scalars(
            select(Project.id).where(Project.organization_id == live.owner.organization_id)
        ):
            s.add(ProjectMember(project_id=pid, user_id=user.id, role=role.value))
        s.flush()
        actor = accounts.actor_for(s, user_id=user.id)
    return actor, email


def fresh(s: Session, actor: Actor) -> Actor:
    """The actor as the database sees them now (their current project memberships)."""
    return accounts.actor_for(s, user_id=actor.user_id, organization_id=actor.organization_id)


def annotate(live: LiveServer, actor: Actor, pid: int, values: dict[str, Any]) -> dict[str, int]:
    """Lease tasks in order and submit ``values[external_id]`` (skipping tasks without one)
    until the annotator's queue is empty. Returns {external_id: task id} of submissions."""
    done: dict[str, int] = {}
    while True:
        with live.db.session() as s:
            actor = fresh(s, actor)
            lease = queue.claim_next(s, actor, pid)
            if lease is None:
                return done
            ext = lease.task.external_id
            if ext in values:
                annotations.save(s, actor, lease.task.id, value=values[ext], lead_time_ms=2500)
                done[ext] = lease.task.id
            else:
                queue.skip(s, actor, lease.task.id)


def resubmit(live: LiveServer, actor: Actor, task_id: int, value: dict[str, Any]) -> None:
    """Change a submitted annotation (a new revision; the old one stays in the history)."""
    with live.db.session() as s:
        annotations.save(s, fresh(s, actor), task_id, value=value, lead_time_ms=1000)


def unexpected(console_errors: list[str], *statuses: int) -> list[str]:
    """Console errors minus Chromium's "Failed to load resource" lines for the HTTP statuses
    a test provokes on purpose (e.g. a 422 for a bad schema): those are the server's
    answers, not page errors."""
    expected = tuple(f"status of {code} " for code in statuses)
    return [
        e
        for e in console_errors
        if not ("Failed to load resource" in e and any(x in e for x in expected))
    ]
