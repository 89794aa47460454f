"""Fixtures shared by the database tests."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labelhouse.tasks.models import Task
from tests.factories import add_tasks, make_project, text_rows


@pytest.fixture
def task_id(db, owner) -> int:
    """One ordinary task in a new project (test_prepared.py has its own, with more)."""
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    with db.read_session() as s:
        return s.scalars(select(Task.id).where(Task.project_id == pid)).one()
