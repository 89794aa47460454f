"""The export's per-batch answer query reads one task range through an index, whatever the
planner knows: before statistics exist (SQLite never gathers them by itself) it used to walk
every answer of the project for every batch, so export time grew with the square of size."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from labelhouse.exports.records import _annotations_query


def test_answers_of_a_task_range_are_searched_by_project_and_task(db):
    if not db.is_sqlite:
        pytest.skip("PostgreSQL's plan depends on its statistics; the index is the same")
    query = _annotations_query(1, 1000, 6000, include_drafts=False)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.read_session() as s:
        plan = " ".join(row[3] for row in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "ix_annotation_project_task (project_id=? AND task_id>? AND task_id<?)" in plan
