"""``Database.hot_session``: the annotator's lighter unit of work commits and rolls back as
``Database.session`` does, ORM use included, behind the same SQLite write gate."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from labelhouse.tasks.models import Prediction, Task


def done(db, task_id: int) -> int:
    with db.read_session() as s:
        return s.scalars(select(Task.done).where(Task.id == task_id)).one()


def predictions(db) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(Prediction))


def test_core_and_orm_work_commit_together(db, task_id):
    with db.hot_session() as s:
        conn = s.connection()
        conn.execute(update(Task).where(Task.id == task_id).values(done=Task.done + 1))
        assert s.connection() is conn  # the connection itself while the ORM is unused
        task = s.get(Task, task_id)  # the ORM joins the same transaction
        assert task is not None and task.done == 1
        s.add(Prediction(project_id=task.project_id, task_id=task_id, value={"a": 1}))
        if db.is_sqlite:
            assert db._gate is not None and db._gate._mutex.locked()
    assert (done(db, task_id), predictions(db)) == (1, 1)
    if db.is_sqlite:
        assert db._gate is not None and not db._gate._mutex.locked()


def test_an_error_rolls_everything_back(db, task_id):
    with pytest.raises(RuntimeError), db.hot_session() as s:
        s.connection().execute(update(Task).where(Task.id == task_id).values(done=5))
        task = s.get(Task, task_id)
        s.add(Prediction(project_id=task.project_id, task_id=task_id, value={"a": 1}))
        s.flush()
        raise RuntimeError("boom")
    assert (done(db, task_id), predictions(db)) == (0, 0)
    with db.hot_session() as s:  # and the next one starts clean
        assert s.connection().execute(text("SELECT 1")).scalar_one() == 1
