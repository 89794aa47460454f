"""``claim_next(durable=False)``: only a claim's own transaction stops waiting for the disk
at commit (PostgreSQL); submissions stay synchronous."""

from __future__ import annotations

from sqlalchemy import text

from labelhouse.tasks import queue
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows


def _synchronous_commit(s) -> str:
    return s.execute(text("SHOW synchronous_commit")).scalar()


def test_relaxed_claim_is_local_to_its_transaction(db):
    owner = make_org(db)
    annotator = add_member(db, owner)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    with db.session() as s:
        lease = queue.claim_next(s, annotator.actor, pid, durable=False)
        assert lease is not None and lease.created
        if db.dialect == "postgresql":
            assert _synchronous_commit(s) == "off"
        else:  # nothing to relax: WAL with synchronous=NORMAL (1) never waits at commit
            assert s.execute(text("PRAGMA synchronous")).scalar() == 1
    with db.session() as s:  # the next transaction on the (pooled) connection
        held = queue.claim_next(s, annotator.actor, pid)  # durable by default
        assert held is not None and held.task.id == lease.task.id and not held.created
        if db.dialect == "postgresql":
            assert _synchronous_commit(s) == "on"
