"""The work queue's invariants (tasks/invariants.py): real queue traffic keeps them, damage
done by raw SQL is found (project, count, example tasks), and the repair recomputes the
derived counters without touching assignments or annotations. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.review import service as review
from labelhouse.tasks import gold, invariant_repair, invariants, queue, routing
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows
from tests.tasks.test_routing import route, workforce


def claim(db, member, pid, **kw):
    with db.session() as s:
        lease = queue.claim_next(s, member.actor, pid, **kw)
        return None if lease is None else lease.task.id


def submit(db, member, task_id, label="pos"):
    with db.session() as s:
        annotations.save(s, member.actor, task_id, value={"label": label})


def check(db):
    with db.read_session() as s:
        return invariants.find_violations(s)


def found(report):
    return {(v.check, v.project_id): v for v in report.violations}


def source_rows(db):
    """Everything the repair must leave alone: assignments and annotations, whole rows."""
    with db.read_session() as s:
        return (
            s.execute(select(Assignment.__table__).order_by(Assignment.id)).all(),
            s.execute(select(Annotation.__table__).order_by(Annotation.id)).all(),
        )


def repair(db, project_id):
    with db.session() as s:
        return invariant_repair.repair_counters(s, project_id).changed


@pytest.fixture
def busy(db):
    """A project that has seen most of what the queue does: submissions from two people
    (overlap 2), a live lease, a skip, a release, an expired lease reclaimed, a late submit
    after expiry, a rejection in review, a gold task served, and routes to two workforces
    with work moved between them."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(12))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_rate": 0.0, "gold_first_n": 1})
    a, b, c = (add_member(db, owner) for _ in range(3))
    reviewer = add_member(db, owner, Role.reviewer)
    with db.read_session() as s:
        ids = list(s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)))
    with db.session() as s:
        gold.set_gold(s, owner.actor, ids[-1], {"label": "pos"})
    first = claim(db, a, pid)
    assert first == ids[-1]  # gold first (gold_first_n=1)
    submit(db, a, first)
    for _ in range(3):
        submit(db, a, claim(db, a, pid))
        submit(db, b, claim(db, b, pid))
    skipped = claim(db, c, pid)
    with db.session() as s:
        queue.skip(s, c.actor, skipped, reason="unclear")
    released = claim(db, c, pid)
    with db.session() as s:
        queue.release(s, c.actor, released)
    late = claim(db, c, pid)  # expires, is reclaimed by a's claim an hour later, then submitted
    assert claim(db, a, pid, now=utcnow() + timedelta(hours=1)) != late
    submit(db, c, late)
    claim(db, b, pid)
    claim(db, c, pid, now=utcnow() + timedelta(hours=2))  # a's and b's leases expire; c's stays
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    with db.session() as s:
        item = review.next_for_review(s, reviewer.actor, pid, after_id=0)
        review.decide(s, reviewer.actor, item.task.id, decision="reject", reason="wrong")
    # routing: a second project, routed to two vendors, one person's work moved
    routed = make_project(db, owner, overlap=1)
    add_tasks(db, owner, routed, text_rows(8, start=100))
    wf_a, (va, _) = workforce(db, owner, routed, "A")
    wf_b, (vb, _) = workforce(db, owner, routed, "B")
    route(db, owner, routed, "share", [routing.Slot(wf_a, share=1), routing.Slot(wf_b, share=1)])
    submit(db, va, claim(db, va, routed))
    submit(db, vb, claim(db, vb, routed))
    with db.session() as s:
        routing.move_work(s, owner.actor, routed, from_id=wf_b, to_id=wf_a)
    skipped_routed = claim(db, va, routed)
    with db.session() as s:
        queue.skip(s, va.actor, skipped_routed)
    claim(db, va, routed)
    return db, owner, pid, routed


def test_real_queue_traffic_keeps_every_invariant(busy):
    db = busy[0]
    report = check(db)
    assert report.violations == []
    assert report.tasks == 20
    with db.read_session() as s:  # the fixture did reach the states the rules are about
        statuses = set(s.scalars(select(Assignment.status)))
        assert statuses == {"leased", "submitted", "skipped", "expired"}
        assert s.scalar(select(func.count()).where(Annotation.review_status == "rejected")) == 2
        assert s.scalar(select(func.count()).select_from(TaskRoute).where(TaskRoute.taken > 0))


def one(db, query):
    with db.read_session() as s:
        return s.scalar(query.limit(1))


def test_wrong_counters_are_found_then_repaired_without_touching_source_rows(busy):
    db, _, pid, routed = busy
    ordinary = select(Task.id).where(Task.project_id == pid, Task.gold.is_(None))
    full = one(db, ordinary.where(Task.done == 2).order_by(Task.id))
    fresh = one(db, ordinary.where(Task.taken == 0).order_by(Task.id))
    other = one(db, ordinary.where(Task.done == 2, Task.id != full).order_by(Task.id))
    used = one(db, select(TaskRoute.task_id).where(TaskRoute.taken == 1).order_by(TaskRoute.id))
    unused = one(db, select(TaskRoute.task_id).where(TaskRoute.taken == 0).order_by(TaskRoute.id))
    with db.engine.begin() as c:  # what a careless hand at the SQL prompt leaves behind
        c.execute(update(Task).where(Task.id == full).values(taken=Task.taken + 3))
        c.execute(update(Task).where(Task.id == fresh).values(is_open=False))
        c.execute(update(Task).where(Task.id == other).values(done=9))
        c.execute(update(TaskRoute).where(TaskRoute.task_id == used).values(taken=0))
        c.execute(update(TaskRoute).where(TaskRoute.task_id == unused).values(is_open=False))
    before = source_rows(db)

    report = check(db)
    got = found(report)
    assert set(got) == {
        ("task_taken", pid),
        ("task_done", pid),
        ("task_is_open", pid),
        ("route_taken", routed),
        ("route_is_open", routed),
    }
    assert (got["task_taken", pid].count, got["task_taken", pid].task_ids) == (1, [full])
    assert got["task_taken", pid].examples == [f"task {full}: taken 5, rows say 2"]
    assert got["task_done", pid].examples == [f"task {other}: done 9, rows say 2"]
    assert got["task_is_open", pid].task_ids == [fresh]
    assert got["route_taken", routed].task_ids == [used]
    assert got["route_is_open", routed].task_ids == [unused]
    assert report.projects[pid] and report.repairable_projects() == [pid, routed]

    assert repair(db, pid) == {
        "task.taken": 1,
        "task.done": 1,
        "task.is_open": 1,
        "task_route.taken": 0,
        "task_route.is_open": 0,
    }
    assert repair(db, routed) == {
        "task.taken": 0,
        "task.done": 0,
        "task.is_open": 0,
        "task_route.taken": 1,
        "task_route.is_open": 1,
    }
    assert check(db).violations == []
    assert source_rows(db) == before
    assert repair(db, pid) == dict.fromkeys(
        ("task.taken", "task.done", "task.is_open", "task_route.taken", "task_route.is_open"), 0
    )


def test_missing_annotation_is_reported_and_only_the_counters_are_repaired(busy):
    db, _, pid, _ = busy
    victim = one(db, select(Annotation.id).where(Annotation.review_status.is_(None)))
    task_id = one(db, select(Annotation.task_id).where(Annotation.id == victim))
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM annotation_revision WHERE annotation_id = :a"), {"a": victim})
        c.execute(text("DELETE FROM annotation WHERE id = :a"), {"a": victim})
    got = found(check(db))
    assert {k for k, _ in got} == {"task_taken", "task_done", "submitted_without_annotation"}
    assert got["submitted_without_annotation", pid].task_ids == [task_id]
    before = source_rows(db)
    changed = repair(db, pid)
    assert (changed["task.taken"], changed["task.done"]) == (1, 1)
    assert source_rows(db) == before  # the assignment stays: only a backup can bring it back
    assert {k for k, _ in found(check(db))} == {"submitted_without_annotation"}


def test_lease_fields_and_projects_of_rows_are_checked(busy):
    db, _, pid, routed = busy
    lease = one(db, select(Assignment.id).where(Assignment.status == "leased"))
    ended = one(db, select(Assignment.id).where(Assignment.status == "skipped"))
    moved = one(db, select(Annotation.id).where(Annotation.project_id == pid))
    with db.engine.begin() as c:
        c.execute(update(Assignment).where(Assignment.id == lease).values(finished_at=utcnow()))
        c.execute(update(Assignment).where(Assignment.id == ended).values(finished_at=None))
        c.execute(update(Annotation).where(Annotation.id == moved).values(project_id=routed))
    got = found(check(db))
    assert set(got) == {("lease_fields", pid), ("wrong_project", pid)}
    assert sorted(got["lease_fields", pid].examples, key=len) == sorted(
        [
            f"task {one(db, select(Assignment.task_id).where(Assignment.id == lease))}, "
            f"person {one(db, select(Assignment.user_id).where(Assignment.id == lease))}: "
            "a live lease with a finish time",
            f"task {one(db, select(Assignment.task_id).where(Assignment.id == ended))}, "
            f"person {one(db, select(Assignment.user_id).where(Assignment.id == ended))}: "
            "an ended assignment without a finish time",
        ],
        key=len,
    )
    assert f"says project {routed}" in got["wrong_project", pid].examples[0]


def test_a_lowered_overlap_is_a_note_but_over_assignment_is_a_problem(busy):
    db, owner, pid, _ = busy
    with db.session() as s:  # through the app: audited, the queue closes what is full
        queue.update_project(s, owner.actor, pid, {"overlap": 1})
    report = check(db)
    (v,) = report.violations
    assert (v.check, v.severity, v.count) == ("task_over_overlap", invariants.NOTE, 2)
    assert "overlap was changed" in v.note and report.problems == []

    other = make_project(db, owner, overlap=2)
    add_tasks(db, owner, other, text_rows(2, start=500))
    people = [add_member(db, owner) for _ in range(2)]
    for m in people:
        submit(db, m, claim(db, m, other))
    with db.engine.begin() as c:  # behind the app's back: nothing explains it
        c.execute(text("UPDATE project SET overlap = 1 WHERE id = :p"), {"p": other})
    problem = found(check(db))["task_over_overlap", other]
    assert problem.severity == invariants.PROBLEM and problem.examples[0].endswith(
        "2 for an overlap of 1"
    )


def test_duplicate_live_leases_are_found_when_the_index_no_longer_stops_them(db, backend):
    if backend != "sqlite":
        pytest.skip("drops a unique index: the PostgreSQL test database is shared by the session")
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    m = add_member(db, owner)
    first = claim(db, m, pid)
    with db.engine.begin() as c:
        c.execute(text("DROP INDEX uq_assignment_one_lease"))
        c.execute(
            text(
                "INSERT INTO assignment (project_id, task_id, user_id, status, leased_at, "
                "expires_at) SELECT project_id, task_id + 1, user_id, status, leased_at, "
                "expires_at FROM assignment WHERE task_id = :t"
            ),
            {"t": first},
        )
    got = found(check(db))
    assert got["leases_per_person", pid].examples == [
        f"person {m.user_id} holds 2 live leases (one on task {first})"
    ]
    assert got["task_taken", pid].task_ids == [first + 1]
