"""Helpers for the annotate-page browser tests: make a project with tasks on the live
server's database, open the page as a user, read what the server stored."""

from __future__ import annotations

import io
import itertools
from typing import Any

import orjson
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from labelhouse.annotations.models import Annotation
from labelhouse.projects.service import create_project
from labelhouse.storage import LocalStorage
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import store_file
from tests.browser.conftest import LiveServer, login
from tests.factories import open_project_to_all

_names = itertools.count(1)


def make_project(
    live_server: LiveServer,
    schema: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    instructions: str = "",
    images: dict[str, bytes] | None = None,
    name: str | None = None,
) -> int:
    """A new project (own name, so tests never share a queue) with ``rows`` imported."""
    storage = LocalStorage(live_server.data_dir / "files")
    with live_server.db.session() as s:
        project = create_project(
            s,
            live_server.owner,
            name=name or f"annotate test {next(_names)}",
            schema=schema,
            instructions=instructions,
        )
        open_project_to_all(s, project.id)
        for name, data in (images or {}).items():
            store_file(
                s,
                live_server.owner,
                project.id,
                name=name,
                source=io.BytesIO(data),
                storage=storage,
                max_bytes=10 << 20,
            )
        payload = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
        result = import_tasks(
            s, live_server.owner, project.id, io.BytesIO(payload), filename="t.jsonl"
        )
        assert result.rejected == 0, result
        return project.id


def stored(live_server: LiveServer, project_id: int) -> dict[str, Any]:
    """The submitted annotation values of a project, by task external_id."""
    with live_server.db.read_session() as s:
        rows = s.execute(
            select(Task.external_id, Annotation.value)
            .join(Task, Task.id == Annotation.task_id)
            .where(Annotation.project_id == project_id, Annotation.status == "submitted")
        ).all()
    return {external_id: value for external_id, value in rows}


def annotation(live_server: LiveServer, project_id: int, external_id: str) -> Annotation:
    with live_server.db.read_session() as s:
        row = s.scalars(
            select(Annotation)
            .join(Task, Task.id == Annotation.task_id)
            .where(Annotation.project_id == project_id, Task.external_id == external_id)
        ).one()
        s.expunge(row)
        return row


def task_id(live_server: LiveServer, project_id: int, external_id: str) -> int:
    with live_server.db.read_session() as s:
        return s.scalars(
            select(Task.id).where(Task.project_id == project_id, Task.external_id == external_id)
        ).one()


def open_annotate(
    page: Page, live_server: LiveServer, project_id: int, email: str | None = None
) -> None:
    login(page, email or live_server.annotator_email)
    page.goto(f"/projects/{project_id}/annotate")
    expect(page.locator("#an-task-ref")).to_contain_text("Task #")


def current_external_id(page: Page) -> str:
    return page.locator("#an-task-ref").inner_text().split("·")[-1].strip()


def submit_and_wait(page: Page, *, keyboard: bool = True) -> None:
    """Submit the task on screen and wait until the next one (or "All done") is shown."""
    before = page.locator("#an-task-ref").inner_text()
    if keyboard:
        page.keyboard.press("Control+Enter")
    else:
        page.locator("#an-submit").click()
    expect(page.locator("#an-task-ref")).not_to_have_text(before)
    expect(page.locator("#an-status")).to_contain_text("Saved task")


def field(page: Page, name: str) -> Locator:
    return page.locator(f'section.lh-field[data-field="{name}"]')
