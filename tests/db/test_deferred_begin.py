"""PostgreSQL's hot unit of work begins its transaction only when a statement needs one
(db/deferred_begin.py): standalone statements run as their own transactions, the first
other one opens a transaction that the unit commits or rolls back as any other, and the
connection goes back to the pool as it came."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select, update

from labelhouse.annotations import service as annotations
from labelhouse.db import deferred_begin
from labelhouse.db.prepared import Prepared
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment, Task
from tests.factories import add_member, add_tasks, make_project, text_rows

_PRIORITY = update(Task).where(Task.id == bindparam("tid")).values(priority=bindparam("p"))


@pytest.fixture
def pg(db):
    if db.dialect != "postgresql":
        pytest.skip("SQLite's unit of work is one transaction, behind the write gate")
    return db


def priority(db, task_id: int) -> int:
    with db.read_session() as s:
        return s.scalars(select(Task.priority).where(Task.id == task_id)).one()


def in_transaction(conn) -> bool:
    import psycopg

    status = conn.connection.dbapi_connection.info.transaction_status
    return status != psycopg.pq.TransactionStatus.IDLE


def test_standalone_statements_commit_alone_and_the_rest_is_one_transaction(pg, task_id):
    standalone = Prepared(_PRIORITY, standalone=True)
    with pytest.raises(RuntimeError), pg.hot_session() as s:
        conn = s.connection()
        standalone.execute(conn, {"tid": task_id, "p": 7})
        assert not in_transaction(conn)
        assert priority(pg, task_id) == 7  # committed on its own, seen from elsewhere
        Prepared(_PRIORITY).execute(conn, {"tid": task_id, "p": 8})  # not standalone
        assert in_transaction(conn)
        standalone.execute(conn, {"tid": task_id, "p": 9})  # now inside the transaction
        assert priority(pg, task_id) == 7
        raise RuntimeError("the unit fails")
    assert priority(pg, task_id) == 7  # the transaction rolled back; the standalone write stands
    with pg.hot_session() as s:
        Prepared(_PRIORITY).execute(s.connection(), {"tid": task_id, "p": 10})
    assert priority(pg, task_id) == 10  # and a transaction that ends well commits
    with pg.engine.connect() as conn:  # the pool's connection, as it was before
        dbapi = conn.connection.dbapi_connection
        assert dbapi.autocommit is False
        assert dbapi.cursor_factory not in deferred_begin.cursor_classes()


def test_sqlalchemy_statements_open_the_transaction_too(pg, task_id):
    with pg.hot_session() as s:
        conn = s.connection()
        conn.execute(_PRIORITY, {"tid": task_id, "p": 3})
        assert in_transaction(conn)
        s.get(Task, task_id)  # the ORM joins it
    assert priority(pg, task_id) == 3


@pytest.fixture
def begins(monkeypatch) -> list[str]:
    """The statements before which a hot unit opened its transaction."""
    seen: list[str] = []
    cursor = deferred_begin.cursor_classes()[0]
    original = cursor.execute

    def recorded(self, *args, **kwargs):
        if self.connection.autocommit and not self.standalone:
            seen.append("BEGIN")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cursor, "execute", recorded)
    return seen


def test_the_common_claim_and_submit_open_no_transaction(pg, owner, begins):
    pid = make_project(pg, owner)
    add_tasks(pg, owner, pid, text_rows(3))
    member = add_member(pg, owner)
    for _ in range(2):
        with pg.hot_session() as s:
            lease = queue.claim_next(s, member.actor, pid, durable=False)
            assert lease is not None and lease.created
        with pg.hot_session() as s:
            annotations.save(s, member.actor, lease.task.id, value={"label": "pos"})
    assert begins == []
    with pg.read_session() as s:
        rows = s.execute(select(Task.taken, Task.done).where(Task.project_id == pid)).all()
        assert sorted(rows) == [(0, 0), (1, 1), (1, 1)]
        statuses = s.scalars(select(Assignment.status).where(Assignment.project_id == pid))
        assert sorted(statuses) == ["submitted", "submitted"]


def test_a_claim_off_the_common_road_is_one_transaction(pg, owner, begins):
    """A gold task to serve (the default rule: the first three answers meet gold): the claim
    looks before it takes, in a transaction."""
    pid = make_project(pg, owner)
    gold = {"data": {"text": "gold"}, "external_id": "g0", "gold": {"label": "pos"}}
    add_tasks(pg, owner, pid, [*text_rows(2), gold])
    member = add_member(pg, owner)
    with pg.hot_session() as s:
        lease = queue.claim_next(s, member.actor, pid)
        assert lease is not None and lease.task.gold is not None
    assert begins == ["BEGIN"]


def test_a_claim_that_loses_to_the_callers_own_request_takes_nothing(pg, owner):
    """One live lease per annotator: when the caller's other request leased a task between
    this claim's first statement and its one-statement take, the take inserts no lease and
    counts nobody on the task it picked, and the claim serves the lease that won."""
    pid = make_project(pg, owner)
    add_tasks(pg, owner, pid, text_rows(3))
    member = add_member(pg, owner)
    won: list[queue.Lease] = []

    def other_request_first(_session, actor, _project) -> None:  # runs before the take
        with pg.session() as other:
            lease = queue.claim_next(other, actor, pid)
            assert lease is not None
            won.append(lease)

    with pg.hot_session() as s:
        lease = queue.claim_next(s, member.actor, pid, gate=other_request_first)
    assert lease is not None and not lease.created
    assert lease.task.id == won[0].task.id and lease.assignment_id == won[0].assignment_id
    with pg.read_session() as s:
        taken = dict(s.execute(select(Task.id, Task.taken).where(Task.project_id == pid)).all())
        leases = s.scalars(select(Assignment.task_id).where(Assignment.project_id == pid)).all()
    assert leases == [won[0].task.id]
    assert taken == {t: int(t == won[0].task.id) for t in taken}
