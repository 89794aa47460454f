"""The task browser reads its pages in index order (issue 19, item 3): for every filter it
offers, the database walks ``ix_task_browse (project_id, id)`` from the cursor and stops
when the page is full, instead of sorting the whole project for each page (SQLite had
``USE TEMP B-TREE FOR ORDER BY`` on every one of these). The statements are the ones the
API really runs, captured from the engine and explained on the same connection."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.factories import add_tasks, make_project, text_rows, token_client

FILTERS = [
    {},
    {"status": "new"},
    {"status": "in_progress"},
    {"status": "done"},
    {"external_id": "item-3"},
    {"q": "item"},
    {"annotator": "{annotator}"},
    {"field": "label", "value": "pos"},
    {"field": "label", "value": "po", "match": "contains"},
    {"status": "new", "q": "item"},
]


def _page_statements(db, client, project_id: int, params: dict[str, Any]) -> list[tuple]:
    seen: list[tuple] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "FROM task" in statement and (
            "ORDER BY task.id" in statement or "dedup_key" in statement
        ):
            seen.append((statement, parameters))

    engine = db.read_engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        r = client.get(f"/api/projects/{project_id}/tasks", params={**params, "cursor": 2})
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert r.status_code == 200, r.text
    assert seen, f"no task page query ran for {params}"
    return seen


def _plan(db, statement: str, parameters: Any) -> str:
    raw = db.read_engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.read_engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(str(row[-1]) for row in cur.fetchall())
        # A small table is cheaper to scan and sort: ask whether an ordered path exists.
        cur.execute("SET enable_seqscan = off")
        cur.execute("SET enable_sort = off")
        cur.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cur.fetchall())
        raw.rollback()
        return plan
    finally:
        raw.close()


@pytest.mark.parametrize(
    "params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all"
)
def test_every_filter_of_the_task_browser_reads_in_index_order(app, db, owner, annotator, params):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(30))
    client = token_client(app, db, owner)
    params = {k: v.format(annotator=annotator.user_id) for k, v in params.items()}
    for statement, parameters in _page_statements(db, client, pid, params):
        plan = _plan(db, statement, parameters)
        if db.read_engine.dialect.name == "sqlite":
            assert "TEMP B-TREE" not in plan, plan
            if "external_id" in params:  # one row at most, by the unique dedup key
                assert "sqlite_autoindex_task_1 (project_id=? AND dedup_key=?)" in plan, plan
            else:
                assert "ix_task_browse" in plan, plan
        else:
            # an ordered walk of an index on task: no Sort node above it
            assert "Sort" not in plan.split("Limit", 1)[-1].split("SubPlan", 1)[0], plan
