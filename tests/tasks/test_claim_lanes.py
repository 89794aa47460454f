"""Claim lanes (tasks/claim_lanes.py, issue 18): concurrent claims on PostgreSQL walk one
lane (``id % CLAIM_LANES``) of the open tasks from a floor instead of all starting at the
head. The lane changes only where a walk starts: every queue rule holds, on both databases,
with real threads claiming and submitting at once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.tasks import queue
from labelhouse.tasks.claim_lanes import LANES
from labelhouse.tasks.models import CLAIM_LANES, Assignment, Task
from tests.factories import add_member, add_tasks, make_org, make_project, retry_busy, text_rows


def _task_ids(db, pid: int) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)))


def _project(db, owner, gold: bool = False, **settings) -> int:
    """A project with the gold rules on (the defaults) or off (the one-statement claim)."""
    pid = make_project(db, owner, **settings)
    if not gold:
        with db.session() as s:
            queue.update_project(s, owner.actor, pid, {"gold_rate": 0, "gold_first_n": 0})
    return pid


def _claim_in_lane(db, member, pid: int, lane: int, floor: int | None = None) -> int | None:
    """A claim made while another is in flight (held here), dealt ``lane``, from ``floor``
    (default: the floor read afresh)."""
    with LANES._lock:
        LANES._turn = lane - 2  # the held claim takes lane - 1 (alone: none), ours lane
        LANES._floors.clear()
        if floor is not None:  # as if just read (the clock never makes it stale)
            LANES._floors[pid] = (floor, float("inf"))
    with LANES.claiming(pid), db.session() as s:
        lease = queue.claim_next(s, member.actor, pid)
        return None if lease is None else lease.task.id


@pytest.mark.parametrize("gold", [True, False], ids=["gold-rules", "no-gold"])
def test_a_lane_claim_takes_its_lane_oldest_first_and_falls_back_to_the_head(db, gold):
    owner = make_org(db)
    pid = _project(db, owner, gold)
    add_tasks(db, owner, pid, text_rows(40))
    ids = _task_ids(db, pid)
    a, b = add_member(db, owner), add_member(db, owner)
    lane = (ids[5]) % CLAIM_LANES
    in_lane = [t for t in ids if t % CLAIM_LANES == lane]
    got = _claim_in_lane(db, a, pid, lane)
    # PostgreSQL walks the lane; SQLite serialises claims and always takes the head
    assert got == (in_lane[0] if db.dialect == "postgresql" else ids[0])
    # a lane with nothing open for the caller: the head walk, as a lone claim would
    small = _project(db, owner, gold)
    add_tasks(db, owner, small, text_rows(2, start=100))
    head, second = _task_ids(db, small)
    empty = (second + 1) % CLAIM_LANES
    assert _claim_in_lane(db, b, small, empty) == head


def test_a_task_reopened_below_the_floor_is_found_again(db):
    """A lane walk starts at the floor (the lowest open id as last read); a task given
    back below it is not lost: an empty lane falls back to the head walk."""
    owner = make_org(db)
    pid = _project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    first, _, third = _task_ids(db, pid)
    a, b = add_member(db, owner), add_member(db, owner)
    assert _claim_in_lane(db, a, pid, first % CLAIM_LANES) == first
    with db.session() as s:
        queue.release(s, a.actor, first)  # open again, below any floor read since
    # a claim in first's lane from a floor read while `first` was taken
    assert _claim_in_lane(db, b, pid, first % CLAIM_LANES, floor=third) == first


def test_a_lone_claim_walks_the_head(db):
    owner = make_org(db)
    pid = _project(db, owner)
    add_tasks(db, owner, pid, text_rows(20))
    ids = _task_ids(db, pid)
    members = [add_member(db, owner) for _ in range(3)]
    got = []
    for m in members:  # one after another: exact "oldest open first"
        with db.session() as s:
            got.append(queue.claim_next(s, m.actor, pid).task.id)
    assert got == ids[:3]


@pytest.mark.parametrize("gold", [True, False], ids=["gold-rules", "no-gold"])
def test_32_threads_claiming_and_submitting_keep_every_rule(db, gold):
    """No task over its overlap and no one twice on a task at any moment, at most one lease
    per person, every task finished exactly ``overlap`` times, and "nothing left" only when
    nothing is left (a claim after the end finds nothing for anyone). With the gold rules
    on, two gold tasks make the claim choose, consult the gold rule, then count (without a
    gold task it takes its task in one statement, as with the rules off).

    A "busy, try again" (a lock wait past the lock timeout, on a loaded machine) is retried
    as a client retries it: the rules are what is checked here, not the waits."""
    owner = make_org(db)
    overlap, n_tasks, n_people = 2, 90, 32
    pid = _project(db, owner, gold, overlap=overlap)
    add_tasks(db, owner, pid, text_rows(n_tasks))
    if gold:
        add_tasks(
            db,
            owner,
            pid,
            [{"data": {"text": f"gold {i}"}, "gold": {"label": "pos"}} for i in range(2)],
        )
    people = [add_member(db, owner) for _ in range(n_people)]
    dealt = LANES.dealt
    start = threading.Barrier(n_people)
    done = threading.Event()
    errors: list[BaseException] = []
    seen: list[tuple[str, int]] = []

    def claim(member) -> int | None:
        with db.session() as s:
            lease = queue.claim_next(s, member.actor, pid)
            return None if lease is None else lease.task.id

    def submit(member, task_id: int) -> None:
        with db.session() as s:
            annotations.save(s, member.actor, task_id, value={"label": "pos"})

    def work(member) -> None:
        try:
            start.wait()
            while (task_id := retry_busy(lambda: claim(member))) is not None:
                retry_busy(lambda: submit(member, task_id))  # called at once
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def watch() -> None:  # the rules at every moment, not only at the end
        while not done.is_set():
            with db.read_session() as s:
                over = s.scalar(
                    select(func.count())
                    .select_from(Task)
                    .where(Task.project_id == pid, Task.taken > overlap, Task.gold.is_(None))
                )
                leases = s.scalar(
                    select(func.count()).select_from(
                        select(Assignment.user_id)
                        .where(Assignment.project_id == pid, Assignment.status == "leased")
                        .group_by(Assignment.user_id)
                        .having(func.count() > 1)
                        .subquery()
                    )
                )
            if over or leases:
                seen.append(
                    ("over-assigned tasks" if over else "people with 2 leases", over or leases)
                )
            done.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=work, args=(m,)) for m in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    done.set()
    watcher.join()
    assert not errors, errors
    assert not seen, seen
    with db.read_session() as s:
        golds = set(
            s.scalars(select(Task.id).where(Task.project_id == pid, Task.gold.is_not(None)))
        )
        every = s.execute(
            select(Annotation.task_id, Annotation.user_id).where(Annotation.project_id == pid)
        ).all()
        tasks = s.execute(
            select(Task.taken, Task.done, Task.is_open).where(
                Task.project_id == pid, Task.gold.is_(None)
            )
        ).all()
        leased = s.scalar(
            select(func.count()).where(Assignment.project_id == pid, Assignment.status == "leased")
        )
    assert max(Counter(every).values()) == 1, "someone annotated a task twice"
    rows = [(t, u) for t, u in every if t not in golds]
    if gold:  # served by the gold rule to people's first tasks, no overlap limit
        assert len(golds) == 2 and any(t in golds for t, _ in every)
    assert Counter(Counter(t for t, _ in rows).values()) == {overlap: n_tasks}
    assert set(tasks) == {(overlap, overlap, False)}
    assert leased == 0
    for member in people[:4]:  # nothing left means nothing left
        with db.session() as s:
            assert queue.claim_next(s, member.actor, pid) is None
    if db.dialect == "postgresql":
        assert LANES.dealt > dealt  # the claims did overlap and walk lanes


def test_the_lane_walk_is_an_index_walk_of_ix_task_lane(db):
    """The lane expression in the statements must be the index's (``id % CLAIM_LANES``,
    a literal): otherwise PostgreSQL filters ix_task_queue instead, silently."""
    if db.dialect != "postgresql":
        pytest.skip("the lane index is PostgreSQL's")
    owner = make_org(db)
    pid = _project(db, owner)
    add_tasks(db, owner, pid, text_rows(30))
    with db.session() as s:
        conn = s.connection()
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table: no shortcut
        given = {"pid": pid, "uid": owner.actor.user_id, "lane": 3, "floor": 0, "overlap": 1}
        given |= {f"v_{k}": None for k in queue._LEASE_KEYS}  # EXPLAIN runs no INSERT
        for statement in (
            queue._LEASE_FIRST_IN_LANE[False].statement,
            queue._CANDIDATE_IN_LANE.statement,
        ):
            compiled = statement.compile(dialect=conn.dialect)
            params = compiled.construct_params(given)
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql("EXPLAIN " + compiled.string, params)
            )
            assert "Index Scan using ix_task_lane" in plan, plan
        s.rollback()
