"""Statements run on the DBAPI cursor (``db/prepared.py``) mean what they mean through
SQLAlchemy: the same SQL, the same values in and out, the same errors and faults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, exc, func, insert, select

from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import AnnotationRevision
from labelhouse.db.engine import DatabaseOptions, open_database
from labelhouse.db.prepared import Prepared
from labelhouse.errors import DatabaseUnavailable
from labelhouse.tasks.models import Assignment, Prediction, Task
from labelhouse.tasks.service import predictions_of_task
from tests.factories import add_tasks, make_project, text_rows


@pytest.fixture
def task_id(db, owner) -> int:
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    with db.session() as s:
        tid = s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)).first()
        s.add(Prediction(project_id=pid, task_id=tid, score=0.25, value={"label": "pos"}))
        s.add(Prediction(project_id=pid, task_id=tid, model_version="m2", value={"label": "n"}))
    with db.session() as s:  # an own annotation: JSON and timestamps in the task lookup
        annotations.save(s, owner.actor, tid, value={"label": "pos"})
    return tid


def regular(conn: Any, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    result = conn.execute(statement, params)
    return [tuple(r) for r in result] if result.returns_rows else []


def test_rows_are_what_sqlalchemy_reads(db, owner, task_id):
    lookup = annotations._TASK_AND_OWN
    params = {"tid": task_id, "org": owner.organization_id, "uid": owner.user_id}
    with db.session() as s:
        conn = s.connection()
        got = lookup.prepared.execute(conn, params)
        assert got == regular(conn, lookup.query, params)
        (row,) = got
        assert row[3] == {"text": "item 0"}  # task.data, a JSON document
        stamps = [v for v in row if isinstance(v, datetime)]
        assert len(stamps) >= 3 and all(v.tzinfo is not None for v in stamps)
        preds = predictions_of_task(s, task_id)
        assert [(p.model_version, p.score, p.value) for p in preds] == [
            ("", 0.25, {"label": "pos"}),
            ("m2", None, {"label": "n"}),
        ]
        assert lookup.prepared.first(conn, {**params, "tid": 10**12}) is None


def test_the_sql_is_sqlalchemys(db, owner, task_id):
    seen: list[str] = []

    def listen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    lookup = annotations._TASK_AND_OWN
    params = {"tid": task_id, "org": owner.organization_id, "uid": owner.user_id}
    with db.session() as s:
        conn = s.connection()
        before = lookup.prepared.execute(conn, params)
        event.listen(Engine, "before_cursor_execute", listen)
        try:  # while anyone listens, statements take the regular way (and are seen)
            assert lookup.prepared.execute(conn, params) == before
        finally:
            event.remove(Engine, "before_cursor_execute", listen)
        compiled = lookup.prepared._for(conn.dialect, tuple(params))
    assert seen == [compiled.sql]


def test_written_values_read_back_as_the_orm_writes_them(db, owner, task_id):
    now = datetime(2026, 12, 4, 23, 30, 5, 123456, tzinfo=UTC)
    with db.session() as s:
        ann_id = s.scalars(select(AnnotationRevision.annotation_id)).first()
        row = {
            "annotation_id": ann_id,
            "revision": 7,
            "status": "draft",
            "value": {"label": "neu", "n": [1, 2.5, None]},
            "schema_version": 1,
            "lead_time_ms": 3,
            "created_at": now,
        }
        # (PostgreSQL: SQLAlchemy's own INSERT … RETURNING id, for the primary key)
        Prepared(insert(AnnotationRevision.__table__)).execute(s.connection(), row)
    with db.read_session() as s:
        stored = s.scalars(select(AnnotationRevision).where(AnnotationRevision.revision == 7)).one()
        assert (stored.value, stored.created_at, stored.lead_time_ms) == (row["value"], now, 3)


def test_errors_are_sqlalchemys(db, owner, task_id):
    with db.session() as s:
        rev = s.scalars(select(AnnotationRevision)).first()
        copy = {c.key: getattr(rev, c.key) for c in AnnotationRevision.__table__.columns}
    with pytest.raises(exc.IntegrityError), db.session() as s:  # the same id again
        Prepared(insert(AnnotationRevision.__table__)).execute(s.connection(), copy)
    with db.session() as s:  # and the pool's connections still work
        assert predictions_of_task(s, task_id)


def test_statements_whose_sql_depends_on_values_are_refused(db):
    expanding = Prepared(select(Task.id).where(Task.id.in_(bindparam("ids", expanding=True))))
    defaults = Prepared(insert(Prediction.__table__))  # model_version, created_at: Python's
    with db.session() as s:
        with pytest.raises(ValueError, match="expanding"):
            expanding.execute(s.connection(), {"ids": [1, 2]})
        with pytest.raises(ValueError, match="defaults"):
            defaults.execute(s.connection(), {"project_id": 1, "task_id": 1, "value": {}})


def test_a_slow_statement_is_stopped_as_any_other(pg_migrated):
    if pg_migrated is None:
        pytest.skip("needs LABELHOUSE_TEST_PG_URL")
    db = open_database(pg_migrated, DatabaseOptions(statement_timeout=0.3))
    try:
        with pytest.raises(DatabaseUnavailable) as info, db.session() as s:
            Prepared(select(func.pg_sleep(bindparam("s")))).execute(s.connection(), {"s": 3})
        assert "took too long" in info.value.message
    finally:
        db.dispose()


def test_each_engine_keeps_its_own_compiled_statements(db, db_url, task_id):
    """Compiled per dialect instance and kept on it: an engine of another database (or a
    dialect object at an address a dropped one had) never runs another's SQL."""
    other = open_database(db_url)
    try:
        with db.read_session() as s, other.read_session() as t:
            first = predictions_of_task(s, task_id)
            assert predictions_of_task(t, task_id) == first
            mine = s.connection().dialect._labelhouse_prepared
            theirs = t.connection().dialect._labelhouse_prepared
            assert mine is not theirs and set(mine) & set(theirs)
            assert all(mine[k] is not theirs[k] for k in set(mine) & set(theirs))
    finally:
        other.dispose()


def test_the_claim_statements_read_as_sqlalchemy_reads_them(db, owner, task_id):
    """The queue's statements on the cursor: rows from SELECT … FOR UPDATE, UPDATE …
    RETURNING and INSERT … RETURNING as SQLAlchemy gives them, none from a bare UPDATE, a
    second run as the first (result processors are kept from the first rows)."""
    from labelhouse.tasks import queue

    is_pg = db.dialect == "postgresql"
    with db.session() as s:
        conn = s.connection()
        pid = conn.execute(select(Task.project_id).where(Task.id == task_id)).scalar_one()
        params = {
            "pid": pid,
            "org": owner.organization_id,
            "uid": owner.user_id,
            "now": datetime.now(UTC),
        }
        for relaxed in (False, is_pg):
            first = queue._FIRST_STATEMENT[relaxed]
            assert first.execute(conn, params) == regular(conn, first.statement, params)
        candidate = queue._FIRST_CANDIDATE[is_pg, False]
        for _ in range(2):
            rows = candidate.execute(conn, {"pid": pid, "uid": 10**9})
            assert rows == regular(conn, candidate.statement, {"pid": pid, "uid": 10**9})
            assert rows and isinstance(rows[0][3], dict)  # task.data, JSON
        adjust = {"tid": task_id, "delta": 0, "overlap": 1}
        assert queue._ADJUST_TAKEN_NOW.execute(conn, adjust) == []
        take = queue._TAKE_FIRST_OPEN[False] if not is_pg else None
        if take is None:  # PostgreSQL's walk that skips no lock, as the claim's last resort
            take = Prepared(queue._TAKE_FIRST_OPEN_WAITING[False])
        (taken,) = take.execute(conn, {"pid": pid, "uid": 10**9, "overlap": 5})
        assert taken[4] >= 1 and taken[0] != task_id  # taken + 1; the other task
        lease = {
            "project_id": pid,
            "task_id": taken[0],
            "user_id": owner.user_id,
            "status": "leased",
            "leased_at": params["now"],
            "expires_at": params["now"],
            "workforce_id": None,
            "hold": 0,
        }
        (row,) = queue._LEASE_INSERT[is_pg].execute(conn, lease)
        assert isinstance(row[0], int)
        assert queue._LEASE_INSERT[is_pg].execute(conn, lease) == []  # the same lease: none
        s.rollback()


def test_the_one_statement_claim_reads_as_sqlalchemy_reads_it(db, owner, task_id):
    """PostgreSQL's claim that picks, leases and counts in one statement (a data-modifying
    WITH): the same row on the cursor as through SQLAlchemy, the lease made."""
    from labelhouse.tasks import queue

    if db.dialect != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's")
    now = datetime.now(UTC)
    with db.read_session() as s:
        pid = s.scalar(select(Task.project_id).where(Task.id == task_id))
    values = {"pid": pid, "uid": owner.user_id, "overlap": 5, "v_project_id": pid}
    values |= {"v_user_id": owner.user_id, "v_status": "leased", "v_leased_at": now}
    values |= {"v_expires_at": now, "v_hold": 0, "v_workforce_id": None}
    lease_first = queue._LEASE_FIRST_OPEN[False, False]
    with db.session() as s:
        (row,) = lease_first.execute(s.connection(), values)
        s.rollback()
    with db.session() as s:
        (again,) = regular(s.connection(), lease_first.statement, values)
        leases = s.scalars(select(Assignment.id).where(Assignment.task_id == row[0])).all()
        s.rollback()
    assert isinstance(row[1], int) and row[2] == row[0]  # leased; the task's own row
    assert row[6] == 1 and isinstance(row[5], dict)  # taken + 1; task.data, JSON
    assert row[:1] + row[2:] == again[:1] + again[2:]  # all but the lease's own id
    assert leases == [again[1]]
