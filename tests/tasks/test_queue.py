"""Work-queue rules, including under real concurrency (threads and processes, both databases)."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.db.engine import open_database
from labelhouse.errors import NotFound
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment, Task
from tests.factories import (
    add_member,
    add_tasks,
    make_org,
    make_project,
    retry_busy,
    run_in_threads,
    text_rows,
)


def claim(db, member, pid, *, hot=False, **kw):
    """``hot``: in the web app's unit of work for /next (``Database.hot_session``)."""
    with db.hot_session() if hot else db.session() as s:
        lease = queue.claim_next(s, member.actor, pid, **kw)
        return None if lease is None else lease.task.id


def submit(db, member, task_id, label="pos"):
    with db.session() as s:
        annotations.save(s, member.actor, task_id, value={"label": label})


@pytest.fixture
def setup(db):
    owner = make_org(db)
    return db, owner


def test_same_task_until_submitted_then_next(setup):
    db, owner = setup
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    ann = add_member(db, owner)
    first = claim(db, ann, pid)
    assert claim(db, ann, pid) == first  # re-asking returns the same lease
    submit(db, ann, first)
    second = claim(db, ann, pid)
    assert second is not None and second != first


def test_overlap_distinct_annotators_never_twice(setup):
    db, owner = setup
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(2))
    a, b, c = (add_member(db, owner) for _ in range(3))
    t1 = claim(db, a, pid)
    submit(db, a, t1)
    assert claim(db, a, pid) != t1  # a never gets t1 again
    tb = claim(db, b, pid)
    assert tb == t1  # the second slot of t1 goes to b
    submit(db, b, tb)
    tc = claim(db, c, pid)
    assert tc != t1  # t1 has its two annotators
    with db.session() as s:
        task = s.get(Task, t1)
        assert (task.done, task.taken, task.is_open) == (2, 2, False)


def test_expired_lease_returns_to_queue(setup):
    db, owner = setup
    pid = make_project(db, owner, lease_seconds=60)
    add_tasks(db, owner, pid, text_rows(1))
    a, b = add_member(db, owner), add_member(db, owner)
    t = claim(db, a, pid)
    assert claim(db, b, pid) is None  # overlap 1: taken
    later = utcnow() + timedelta(seconds=61)
    assert claim(db, b, pid, now=later) == t  # expired lease went back to the queue
    with db.session() as s:
        statuses = dict(s.execute(select(Assignment.user_id, Assignment.status)).all())
    assert statuses == {a.actor.user_id: "expired", b.actor.user_id: "leased"}


def test_skip_releases_and_is_recorded(setup):
    db, owner = setup
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    a, b = add_member(db, owner), add_member(db, owner)
    t = claim(db, a, pid)
    with db.session() as s:
        queue.skip(s, a.actor, t, reason="unreadable")
    assert claim(db, b, pid) == t  # others can get it
    assert claim(db, a, pid) not in (t, None)  # the skipper does not
    with db.session() as s:
        row = s.scalar(
            select(Assignment).where(Assignment.task_id == t, Assignment.user_id == a.actor.user_id)
        )
        assert (row.status, row.skip_reason) == ("skipped", "unreadable")
        with pytest.raises(NotFound):
            queue.skip(s, a.actor, t)  # no lease any more


def test_release_and_one_lease_per_project(setup):
    db, owner = setup
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    a = add_member(db, owner)
    t = claim(db, a, pid)
    with db.session() as s:
        queue.release(s, a.actor, t)
    assert claim(db, a, pid) == t  # released without trace: may get it again
    with db.session() as s:
        leased = s.scalar(
            select(func.count()).where(
                Assignment.user_id == a.actor.user_id, Assignment.status == "leased"
            )
        )
    assert leased == 1


def test_nothing_left_returns_none(setup):
    db, owner = setup
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    a = add_member(db, owner)
    submit(db, a, claim(db, a, pid))
    assert claim(db, a, pid) is None


# -- concurrency ----------------------------------------------------------------------------


def _work_loop(db, actor, pid, max_tasks=10_000, hot=False):
    """Claim and submit until nothing is left; a Busy is retried as clients retry it.
    ``hot``: in the units of work of the web app's /next and submit (on PostgreSQL their
    common statements run as their own transactions: db/deferred_begin.py)."""
    unit = db.hot_session if hot else db.session

    def claim() -> int | None:
        with unit() as s:
            lease = queue.claim_next(s, actor, pid, durable=not hot)
            return None if lease is None else lease.task.id

    def submit(task_id: int) -> None:
        with unit() as s:
            annotations.save(s, actor, task_id, value={"label": "pos"})

    done = 0
    while done < max_tasks:
        task_id = retry_busy(claim)
        if task_id is None:
            return done
        retry_busy(lambda: submit(task_id))
        done += 1
    return done


def _assert_queue_invariants(db, pid, n_tasks, overlap, n_workers):
    with db.session() as s:
        rows = s.execute(
            select(Annotation.task_id, Annotation.user_id).where(Annotation.project_id == pid)
        ).all()
        per_task = Counter(t for t, _ in rows)
        pairs = Counter(rows)
        tasks = s.execute(select(Task.taken, Task.done).where(Task.project_id == pid)).all()
    assert max(pairs.values()) == 1, "an annotator annotated a task twice"
    assert max(per_task.values()) <= overlap, "a task got more annotators than overlap allows"
    expected = n_tasks * min(overlap, n_workers)
    assert len(rows) == expected
    assert all(taken == done == min(overlap, n_workers) for taken, done in tasks)


def _threads_work_the_queue(db, owner, *, n_tasks, n_workers, overlap, hot=False):
    """``n_workers`` annotators, each on a thread, work the queue dry; then its rules hold."""
    pid = make_project(db, owner, overlap=overlap)
    add_tasks(db, owner, pid, text_rows(n_tasks))
    members = [add_member(db, owner) for _ in range(n_workers)]
    barrier = threading.Barrier(n_workers)

    def run(m):
        barrier.wait()
        _work_loop(db, m.actor, pid, hot=hot)

    errors = run_in_threads(run, members)
    assert not errors, errors
    _assert_queue_invariants(db, pid, n_tasks, overlap=overlap, n_workers=n_workers)


def test_concurrent_threads_never_over_assign(setup):
    db, owner = setup
    _threads_work_the_queue(db, owner, n_tasks=120, n_workers=16, overlap=3)


def test_concurrent_threads_in_hot_units_never_over_assign(setup):
    """The same rules when every claim and submit is the web app's hot unit of work."""
    db, owner = setup
    _threads_work_the_queue(db, owner, n_tasks=60, n_workers=12, overlap=2, hot=True)


@pytest.mark.parametrize("hot", [False, True], ids=["session", "hot"])
def test_same_annotator_racing_gets_one_lease(setup, hot):
    db, owner = setup
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(20))
    a = add_member(db, owner)
    barrier = threading.Barrier(8)
    got: list[int | None] = []

    def run():
        barrier.wait()
        got.append(retry_busy(lambda: claim(db, a, pid, hot=hot)))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(set(got)) == 1 and got[0] is not None
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Assignment)) == 1
        assert s.scalar(select(func.sum(Task.taken))) == 1


def _process_worker(url, actor, pid, start, results):
    db = open_database(url)
    try:
        start.wait()
        results.put(_work_loop(db, actor, pid))
    except BaseException as exc:
        results.put(repr(exc))
    finally:
        db.dispose()


@pytest.mark.slow
def test_concurrent_processes_never_over_assign(setup, db_url):
    db, owner = setup
    pid = make_project(db, owner, overlap=2)
    n_tasks, n_workers = 100, 16
    add_tasks(db, owner, pid, text_rows(n_tasks))
    members = [add_member(db, owner, Role.annotator) for _ in range(n_workers)]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    results = ctx.Queue()
    db.dispose()  # never share pooled connections across fork
    procs = [
        ctx.Process(target=_process_worker, args=(db_url, m.actor, pid, start, results))
        for m in members
    ]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sum(outcomes) == n_tasks * 2
    _assert_queue_invariants(db, pid, n_tasks, overlap=2, n_workers=n_workers)
