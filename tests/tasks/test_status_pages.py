"""The task browser's status filters read from ``ix_task_status`` (tasks/status_pages.py): one
id-ordered range per status key value, merged by id. These check what a page holds against
the browser's definition of a status (``task_status``) at every cursor, across key values,
past the overlap, and while tasks change status between pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from labelhouse.annotations import service as annotations
from labelhouse.annotations.queries import TaskFilters, browse_tasks
from labelhouse.tasks import queue, status_pages
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import TASK_STATUSES, list_tasks, task_status
from tests.factories import add_member, add_tasks, make_project, text_rows

# (taken, done) per task, cycled: new, leased only, partly done, done, done past the overlap
# (a gold task or a lowered overlap), for overlap 3.
COUNTERS = [(0, 0), (1, 0), (2, 1), (3, 2), (3, 3), (5, 5), (0, 0), (4, 4), (1, 1), (2, 0)]


def _project_with_counters(db, owner, n: int = 40) -> tuple[int, list[int]]:
    pid = make_project(db, owner, overlap=3)
    add_tasks(db, owner, pid, text_rows(n))
    with db.session() as s:
        ids = list(s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)))
        for i, task_id in enumerate(ids):
            taken, done = COUNTERS[i % len(COUNTERS)]
            s.execute(
                text("UPDATE task SET taken = :t, done = :d WHERE id = :id"),
                {"t": taken, "d": done, "id": task_id},
            )
    return pid, ids


def _expected(db, pid: int, status: str, after: int) -> list[int]:
    with db.read_session() as s:
        tasks = s.scalars(select(Task).where(Task.project_id == pid).order_by(Task.id)).all()
        return [t.id for t in tasks if t.id > after and task_status(t, 3) == status]


def _ids(db, actor, pid: int, status: str, after: int = 0, limit: int = 50):
    with db.read_session() as s:
        page = list_tasks(s, actor, pid, after_id=after, limit=limit, status=status)
        return [t.id for t in page.items], page.next_cursor


def _walk(db, actor, pid: int, status: str, limit: int) -> list[int]:
    seen: list[int] = []
    cursor: int | None = 0
    while cursor is not None:
        ids, cursor = _ids(db, actor, pid, status, after=cursor, limit=limit)
        assert len(ids) == limit or cursor is None
        seen += ids
    return seen


@pytest.mark.parametrize("status", TASK_STATUSES)
def test_a_page_holds_the_next_tasks_of_the_status_from_any_cursor(db, owner, status):
    pid, ids = _project_with_counters(db, owner)
    for after in [0, *ids]:
        got, cursor = _ids(db, owner.actor, pid, status, after=after, limit=3)
        want = _expected(db, pid, status, after)
        assert got == want[:3], (status, after)
        assert cursor == (want[2] if len(want) > 3 else None), (status, after)


@pytest.mark.parametrize("status", TASK_STATUSES)
@pytest.mark.parametrize("limit", [1, 2, 7, 50])
def test_paging_through_a_status_lists_each_task_once_in_id_order(db, owner, status, limit):
    pid, _ = _project_with_counters(db, owner)
    assert _walk(db, owner.actor, pid, status, limit) == _expected(db, pid, status, 0)


def test_done_past_the_overlap_and_a_lowered_overlap(db, owner):
    """Done is every key value from the overlap up: after lowering the overlap to 2, tasks
    with 2, 3, 4 and 5 answers are all done, and a task with 2 is no longer in progress."""
    pid, _ = _project_with_counters(db, owner)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"overlap": 2})
    with db.read_session() as s:
        tasks = s.scalars(select(Task).where(Task.project_id == pid).order_by(Task.id)).all()
        want = {st: [t.id for t in tasks if task_status(t, 2) == st] for st in TASK_STATUSES}
        assert {t.done for t in tasks if t.id in want["done"]} == {2, 3, 4, 5}
    for status in TASK_STATUSES:
        assert _walk(db, owner.actor, pid, status, 4) == want[status], status


def test_too_many_key_values_fall_back_to_the_walk_in_id_order(db, owner, monkeypatch):
    pid, _ = _project_with_counters(db, owner)
    monkeypatch.setattr(status_pages, "MAX_ARMS", 1)  # done has key values 3, 4 and 5
    with db.read_session() as s:
        assert status_pages.present_keys(s, pid, 3, None) is None
    assert _walk(db, owner.actor, pid, "done", 2) == _expected(db, pid, "done", 0)


def test_an_empty_status_is_an_empty_page(db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(5))
    for status in ("in_progress", "done"):
        assert _ids(db, owner.actor, pid, status) == ([], None)


def _claim(db, member, pid: int, *, submit: bool = True) -> int:
    with db.session() as s:
        lease = queue.claim_next(s, member.actor, pid)
        assert lease is not None
        if submit:
            annotations.save(s, member.actor, lease.task.id, value={"label": "pos"})
        return lease.task.id


def test_tasks_changing_status_between_pages(db, owner):
    """Keyset pages read the tasks' state when each page is read: a task that joins the
    status after the cursor shows up on a later page, one that leaves it before being
    reached does not, and nothing is listed twice or skipped while it keeps its status.
    Real claims and submissions (overlap 2, the queue in id order)."""
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(10))
    ada, bob, cy = (add_member(db, owner) for _ in range(3))
    t = [_claim(db, ada, pid) for _ in range(6)]  # t[0..5] in progress (one answer each)
    page1, cursor = _ids(db, owner.actor, pid, "in_progress", limit=2)
    assert page1 == t[:2] and cursor == t[1]
    # Between pages: bob answers t0-t2 (two listed already, one after the cursor: done),
    # cy answers t3 (done), and ada leases the next task, so far new (now in progress).
    assert [_claim(db, bob, pid) for _ in range(3)] == t[:3]
    assert _claim(db, cy, pid) == t[3]
    leased = _claim(db, ada, pid, submit=False)
    assert leased > t[5]
    seen = list(page1)
    while cursor is not None:
        ids, cursor = _ids(db, owner.actor, pid, "in_progress", after=cursor, limit=2)
        seen += ids
    assert seen == [t[0], t[1], t[4], t[5], leased]
    assert _ids(db, owner.actor, pid, "done")[0] == t[:4]
    new, _ = _ids(db, owner.actor, pid, "new")
    assert len(new) == 3 and min(new) > leased
    # and a page that starts at a task which has just changed status
    assert _ids(db, owner.actor, pid, "in_progress", after=t[3], limit=1) == ([t[4]], t[4])
    assert _ids(db, owner.actor, pid, "done", after=t[2]) == ([t[3]], None)


def test_the_annotator_filter_pages_through_that_persons_answers(db, owner):
    """Read from the person's answers (``annotated_by``): each task once, in id order, only
    submitted answers, combined with status, label value and external id."""
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(12))
    ada, bob = add_member(db, owner), add_member(db, owner)
    a = [_claim(db, ada, pid) for _ in range(8)]
    b = [_claim(db, bob, pid) for _ in range(3)]  # a[0..2] done
    _claim(db, bob, pid, submit=False)  # a lease is no answer

    def pages(member, limit=3, **filters) -> list[int]:
        seen, cursor = [], 0
        while cursor is not None:
            with db.read_session() as s:
                page = browse_tasks(
                    s,
                    owner.actor,
                    pid,
                    TaskFilters(annotator_id=member.user_id, **filters),
                    after_id=cursor,
                    limit=limit,
                )
                seen += [t.id for t in page.items]
                cursor = page.next_cursor
        return seen

    assert b == a[:3]
    assert pages(ada) == a and pages(ada, limit=1) == a and pages(ada, limit=50) == a
    assert pages(bob) == b
    assert pages(ada, status="done") == a[:3]
    assert pages(ada, status="in_progress", limit=2) == a[3:]
    assert pages(ada, status="new") == []
    assert pages(bob, field="label", value="pos") == b
    assert pages(bob, field="label", value="neg") == []
    assert pages(ada, external_id="t4") == [a[4]]
    assert pages(bob, external_id="t4") == []
