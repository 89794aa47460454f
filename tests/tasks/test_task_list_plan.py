"""The task browser reads its pages in index order (issue 19, item 3): for every filter it
offers, the database walks ``ix_task_browse (project_id, id)`` from the cursor and stops
when the page is full, instead of sorting the whole project for each page (SQLite had
``USE TEMP B-TREE FOR ORDER BY`` on every one of these). The statements are the ones the
API really runs, captured from the engine and explained on the same connection.

A status filter reads ``ix_task_status (project_id, status key, id)`` instead (issue 19, item
3, follow-up: ``tasks/status_pages.py``): its probes for the key values present and each key
value's page must use that index, so a sparse status costs no walk past the other tasks.
An annotator filter reads that person's answers in ``ix_annotation_browse`` order."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, text

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
    {"status": "done", "q": "item"},
    {"status": "in_progress", "annotator": "{annotator}"},
    {"annotator": "{annotator}", "field": "label", "value": "pos"},
    {"status": "done", "field": "label", "value": "pos"},
]
# A page's statement (ordered by id, or by status key and id) or a status key probe.
PAGE_OR_PROBE = re.compile(
    r"ORDER BY (CASE WHEN .* END, )?(task|annotation)\.(task_)?id|dedup_key|min\(CASE WHEN"
)


def _page_statements(db, client, project_id: int, params: dict[str, Any]) -> list[tuple]:
    seen: list[tuple] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "FROM task" in statement and PAGE_OR_PROBE.search(statement):
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
    pid = make_project(db, owner, overlap=3)
    add_tasks(db, owner, pid, text_rows(30))
    with db.session() as s:  # every status, and done counts past the overlap (gold tasks)
        for n, (taken, done) in enumerate([(1, 0), (2, 1), (3, 2), (3, 3), (5, 5), (0, 0)]):
            s.execute(
                text("UPDATE task SET taken = :t, done = :d WHERE project_id = :p AND id % 6 = :n"),
                {"t": taken, "d": done, "p": pid, "n": n},
            )
    client = token_client(app, db, owner)
    params = {k: v.format(annotator=annotator.user_id) for k, v in params.items()}
    statements = _page_statements(db, client, pid, params)
    by_annotator = "annotator" in params  # read from that person's answers
    by_status_key = "status" in params and "external_id" not in params and not by_annotator
    if by_status_key:  # a skip scan for the key values (new has one), then a page per value
        assert any("min(CASE" in st for st, _ in statements) == (params["status"] != "new")
        assert any("min(CASE" not in st for st, _ in statements), statements
    for statement, parameters in statements:
        plan = _plan(db, statement, parameters)
        if db.read_engine.dialect.name == "sqlite":
            assert "TEMP B-TREE" not in plan, plan
            if by_status_key:
                assert "USING INDEX ix_task_status (project_id=? AND <expr>" in plan, plan
            elif by_annotator:
                assert re.match(
                    r"SEARCH annotation USING (COVERING )?INDEX ix_annotation_browse"
                    r" \(project_id=\? AND user_id=\? AND status=\? AND task_id>\?\)",
                    plan,
                ), plan
            elif "external_id" in params:  # one row at most, by the unique dedup key
                assert "sqlite_autoindex_task_1 (project_id=? AND dedup_key=?)" in plan, plan
            else:
                assert "ix_task_browse" in plan, plan
        else:
            # an ordered walk of an index on task: no Sort node above it
            assert "Sort" not in plan.split("Limit", 1)[-1].split("SubPlan", 1)[0], plan
            if by_status_key:
                assert "using ix_task_status on task" in plan, plan
            if by_annotator:
                assert "ix_annotation_browse on annotation" in plan, plan
