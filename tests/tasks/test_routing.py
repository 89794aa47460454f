"""Routing work to workforces: who gets which task, slots given back, moving work, and the
queue's guarantees under concurrency (both databases)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput
from labelhouse.people import project_members, teams, workforces
from labelhouse.review import service as review
from labelhouse.tasks import queue, routing
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from labelhouse.tasks.routing import Selection, Slot
from tests.factories import add_member, add_tasks, make_org, make_project, run_in_threads, text_rows


def claim(db, member, pid, **kw):
    with db.session() as s:
        lease = queue.claim_next(s, member.actor, pid, **kw)
        return None if lease is None else lease.task.id


def submit(db, member, task_id, label="pos"):
    with db.session() as s:
        annotations.save(s, member.actor, task_id, value={"label": label})


def workforce(db, owner, pid, name, kind="vendor", people=2):
    """A workforce of ``people`` new annotators, a member of the project as annotator."""
    members = [add_member(db, owner, Role.annotator, join_projects=False) for _ in range(people)]
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[m.email for m in members])
        workforces.update_workforce(s, owner.actor, team.id, kind=kind)
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
        return team.id, members


def route(db, owner, pid, mode, slots, **selection):
    with db.session() as s:
        return routing.route_tasks(
            s, owner.actor, pid, mode=mode, slots=slots, selection=Selection(**selection)
        )


def routes(db, pid):
    with db.read_session() as s:
        return s.execute(
            select(TaskRoute.task_id, TaskRoute.workforce_id, TaskRoute.quota, TaskRoute.taken)
            .where(TaskRoute.project_id == pid)
            .order_by(TaskRoute.task_id, TaskRoute.workforce_id)
        ).all()


@pytest.fixture
def lab(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, text_rows(100))
    return db, owner, pid


def test_shares_are_exact_and_interleaved(lab):
    db, owner, pid = lab
    a, _ = workforce(db, owner, pid, "A")
    b, _ = workforce(db, owner, pid, "B")
    c, _ = workforce(db, owner, pid, "C", kind="staff")
    result = route(db, owner, pid, "share", [Slot(a, share=50), Slot(b, share=30), Slot(c, 20)])
    assert result.tasks == 100
    assert result.per_workforce == {a: 50, b: 30, c: 20}
    order = [wf for _, wf, _, _ in routes(db, pid)]
    assert Counter(order[:10]) == {a: 5, b: 3, c: 2}  # mixed from the start, not in blocks
    again = route(db, owner, pid, "share", [Slot(a, share=1)])
    assert again.tasks == 0  # by default only tasks routed to nobody yet


def test_each_workforce_gets_only_its_tasks_and_vendors_nothing_else(lab):
    db, owner, pid = lab
    a, (a1, a2) = workforce(db, owner, pid, "A")
    b, (b1, _) = workforce(db, owner, pid, "B")
    route(db, owner, pid, "share", [Slot(a, share=1)], task_ids=tuple(range(1, 11)))
    route(db, owner, pid, "share", [Slot(b, share=1)], task_ids=tuple(range(11, 21)))
    mine = {wf: {t for t, w, _, _ in routes(db, pid) if w == wf} for wf in (a, b)}
    got_a = claim(db, a1, pid)
    got_b = claim(db, b1, pid)
    assert got_a in mine[a] and got_b in mine[b]
    # a lab annotator outside any workforce gets the tasks routed to nobody
    staff = add_member(db, owner, Role.annotator)
    assert claim(db, staff, pid) not in mine[a] | mine[b]
    # A's people drain A's tasks and then get nothing, though 80 tasks are open
    submit(db, a1, got_a)
    seen = {got_a}
    for m in (a1, a2) * 10:
        task = claim(db, m, pid)
        if task is not None:
            seen.add(task)
            submit(db, m, task)
    assert seen == mine[a]
    assert claim(db, a1, pid) is None and claim(db, a2, pid) is None


def test_a_vendor_gets_nothing_from_a_project_without_routes(lab):
    db, owner, pid = lab
    _, (v,) = workforce(db, owner, pid, "V", people=1)
    assert claim(db, v, pid) is None
    _, (s,) = workforce(db, owner, pid, "Staff", kind="staff", people=1)
    assert claim(db, s, pid) is not None  # staff work as before until routing is used


def test_overlap_across_vendors_each_task_once_by_each(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(6))
    a, a_people = workforce(db, owner, pid, "A", people=3)
    b, b_people = workforce(db, owner, pid, "B", people=3)
    with pytest.raises(InvalidInput, match="add up to 1, but the project asks for 2"):
        route(db, owner, pid, "each", [Slot(a, quota=1)])
    result = route(db, owner, pid, "each", [Slot(a, quota=1), Slot(b, quota=1)])
    assert result.per_workforce == {a: 6, b: 6}
    for people in (a_people, b_people):
        for _ in range(3):
            for m in people:
                task = claim(db, m, pid)
                if task is not None:
                    submit(db, m, task)
    with db.read_session() as s:
        rows = s.execute(
            select(Annotation.task_id, Assignment.workforce_id)
            .join(
                Assignment,
                (Assignment.task_id == Annotation.task_id)
                & (Assignment.user_id == Annotation.user_id),
            )
            .where(Annotation.project_id == pid)
        ).all()
        done = s.scalars(select(Task.done).where(Task.project_id == pid)).all()
    assert Counter(rows) == {(t, wf): 1 for t in range(1, 7) for wf in (a, b)}
    assert done == [2] * 6


def test_released_skipped_and_expired_slots_go_back_to_the_workforce(lab):
    db, owner, pid = lab
    a, (a1, a2) = workforce(db, owner, pid, "A")
    route(db, owner, pid, "share", [Slot(a, share=1)], task_ids=(1, 2))
    t = claim(db, a1, pid)
    with db.session() as s:
        queue.release(s, a1.actor, t)
    assert routes(db, pid)[0][3] == 0
    t = claim(db, a1, pid)
    with db.session() as s:
        queue.skip(s, a1.actor, t)
    assert claim(db, a2, pid) == t  # the skipped slot is A's again, for someone else
    later = utcnow() + timedelta(hours=2)
    assert claim(db, a1, pid, now=later) is not None  # a2's lease expired and was swept
    with db.read_session() as s:
        taken = dict(s.execute(select(TaskRoute.task_id, TaskRoute.taken)).all())
        task_taken = dict(s.execute(select(Task.id, Task.taken).where(Task.id.in_([1, 2]))).all())
    assert taken == task_taken  # route counters move with the task's


def test_moving_work_keeps_what_was_started(lab):
    db, owner, pid = lab
    a, (a1, _) = workforce(db, owner, pid, "A")
    b, (b1, _) = workforce(db, owner, pid, "B")
    route(db, owner, pid, "share", [Slot(a, share=1)], task_ids=tuple(range(1, 11)))
    done = claim(db, a1, pid)
    submit(db, a1, done)
    leased = claim(db, a1, pid)
    with db.session() as s:
        moved = routing.move_work(s, owner.actor, pid, from_id=a, to_id=b)
    assert moved == 8
    by_wf = Counter(wf for _, wf, _, _ in routes(db, pid))
    assert by_wf == {a: 2, b: 8}
    with db.session() as s:
        submit_ok = annotations.save(s, a1.actor, leased, value={"label": "pos"})
    assert submit_ok is not None
    got = {claim(db, b1, pid)}
    assert got <= set(range(1, 11)) - {done, leased}
    with db.session() as s:
        summary = routing.routing_summary(s, owner.actor, pid)
    rows = {w.name: (w.tasks, w.slots, w.taken) for w in summary.workforces}
    assert rows == {"A": (2, 2, 2), "B": (8, 8, 1)}
    assert summary.unrouted_tasks == 90


def test_a_rejected_annotation_reopens_its_workforce_slot(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    add_tasks(db, owner, pid, text_rows(2))
    a, (a1, a2) = workforce(db, owner, pid, "A")
    route(db, owner, pid, "share", [Slot(a, share=1)])
    t = claim(db, a1, pid)
    submit(db, a1, t)
    with db.session() as s:
        review.decide(s, owner.actor, t, decision="reject", reason="wrong")
    assert next(r for r in routes(db, pid) if r[0] == t)[3] == 0
    assert claim(db, a2, pid) == t


def test_remembered_rule_routes_new_imports(lab):
    db, owner, pid = lab
    a, _ = workforce(db, owner, pid, "A")
    with db.session() as s:
        routing.route_tasks(
            s, owner.actor, pid, mode="share", slots=[Slot(a, share=1)], remember=True
        )
    add_tasks(db, owner, pid, text_rows(5, start=1000))
    with db.read_session() as s:
        newest = s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id.desc()))
        ids = list(newest)[:5]
        routed = s.scalar(select(func.count()).where(TaskRoute.task_id.in_(ids)))
    assert routed == 5


def test_routing_needs_a_workforce_in_the_project(lab):
    db, owner, pid = lab
    with db.session() as s:
        plain = teams.create_team(s, owner.actor, name="Plain")
        project_members.add_team(s, owner.actor, pid, team_id=plain.id, role="annotator")
        outside = teams.create_team(s, owner.actor, name="Outside")
        workforces.update_workforce(s, owner.actor, outside.id, kind="vendor")
        plain_id, outside_id = plain.id, outside.id
    with pytest.raises(InvalidInput, match="is a team, not a workforce"):
        route(db, owner, pid, "share", [Slot(plain_id, share=1)])
    with pytest.raises(InvalidInput, match="not a member of this project"):
        route(db, owner, pid, "share", [Slot(outside_id, share=1)])
    annotator = add_member(db, owner, Role.annotator)
    with db.session() as s, pytest.raises(Exception, match="manager"):
        routing.route_tasks(s, annotator.actor, pid, mode="share", slots=[Slot(plain_id, 1)])


def test_data_key_selection_on_both_databases(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    rows = [{"text": f"t{i}", "lang": "de" if i % 3 == 0 else "en"} for i in range(30)]
    add_tasks(db, owner, pid, rows)
    a, _ = workforce(db, owner, pid, "German vendor")
    result = route(db, owner, pid, "share", [Slot(a, share=1)], data_key="lang", data_value="de")
    assert result.tasks == 10


# -- workforce rules -------------------------------------------------------------------------


def test_one_workforce_per_person_and_vendors_are_never_project_managers(lab):
    db, owner, pid = lab
    a, (a1, _) = workforce(db, owner, pid, "A")
    b, _ = workforce(db, owner, pid, "B")
    with db.session() as s, pytest.raises(Conflict, match="at most one workforce"):
        teams.add_members(s, owner.actor, b, emails=[a1.email])
    with db.session() as s, pytest.raises(Conflict, match="annotator or a reviewer in a proj"):
        project_members.add_team(s, owner.actor, pid, team_id=a, role="manager")
    with db.session() as s, pytest.raises(Conflict, match="annotators or reviewers, not a man"):
        project_members.add_people(s, owner.actor, pid, emails=[a1.email], role="manager")
    with db.session() as s:  # reviewing their own workforce's work is allowed
        project_members.add_people(s, owner.actor, pid, emails=[a1.email], role="reviewer")
    manager = add_member(db, owner, Role.manager)
    with db.session() as s, pytest.raises(Conflict, match="cannot work for a vendor"):
        teams.add_members(s, owner.actor, a, emails=[manager.email])
    from labelhouse.people import organization

    with db.session() as s, pytest.raises(Conflict, match="works for the vendor"):
        organization.set_role(s, owner.actor, user_id=a1.user_id, role=Role.manager)
    assert a1.actor.workforce_id == a and a1.actor.vendor
    with db.session() as s:
        teams.remove_member(s, owner.actor, a, user_id=a1.user_id)
    assert a1.actor.workforce_id is None and not a1.actor.vendor


def test_ending_a_contract_deactivates_the_vendors_people(lab):
    db, owner, pid = lab
    a, (a1, a2) = workforce(db, owner, pid, "A")
    route(db, owner, pid, "share", [Slot(a, share=1)], task_ids=tuple(range(1, 6)))
    leased = claim(db, a1, pid)
    with db.session() as s:
        ended = workforces.end_contract(s, owner.actor, a)
    assert sorted(ended.deactivated) == sorted([a1.email, a2.email])
    assert ended.leases_ended == 1 and ended.open_slots == 5
    with db.read_session() as s:
        assert s.scalar(select(Task.taken).where(Task.id == leased)) == 0
    with pytest.raises(Exception, match="no access"):
        _ = a1.actor
    with pytest.raises(InvalidInput, match="contract of 'A' has ended"):
        route(db, owner, pid, "share", [Slot(a, share=1)], every_unstarted=True)


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_vendors_never_over_assign_or_cross(db):
    """Three workforces (two vendors, one staff) and lab people race on a project where
    each task is done once by vendor A and once by vendor B, and unrouted tasks exist."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(60))
    a, a_people = workforce(db, owner, pid, "A", people=4)
    b, b_people = workforce(db, owner, pid, "B", people=4)
    lab_people = [add_member(db, owner, Role.annotator) for _ in range(3)]
    route(
        db, owner, pid, "each", [Slot(a, quota=1), Slot(b, quota=1)], task_ids=tuple(range(1, 41))
    )
    everyone = a_people + b_people + lab_people
    barrier = threading.Barrier(len(everyone))

    def work(m):
        actor = m.actor
        barrier.wait()
        while True:
            with db.session() as s:
                lease = queue.claim_next(s, actor, pid)
                if lease is None:
                    return
                task_id = lease.task.id
            with db.session() as s:
                annotations.save(s, actor, task_id, value={"label": "pos"})

    errors = run_in_threads(work, everyone)
    assert not errors, errors
    who = {
        m.user_id: wf for wf, ms in ((a, a_people), (b, b_people), (None, lab_people)) for m in ms
    }
    with db.read_session() as s:
        rows = s.execute(
            select(Annotation.task_id, Annotation.user_id).where(Annotation.project_id == pid)
        ).all()
        tasks = s.execute(select(Task.id, Task.taken, Task.done).where(Task.project_id == pid))
        tasks = tasks.all()
        route_rows = s.execute(select(TaskRoute.taken, TaskRoute.quota)).all()
    assert max(Counter(rows).values()) == 1
    per_task = Counter(t for t, _ in rows)
    assert all(taken == done == 2 for _, taken, done in tasks)
    assert set(per_task.values()) == {2}
    for task_id, user_id in rows:
        if task_id <= 40:
            assert who[user_id] in (a, b)
        else:
            assert who[user_id] is None
    routed_pairs = Counter((t, who[u]) for t, u in rows if t <= 40)
    assert set(routed_pairs.values()) == {1}  # each routed task once by A and once by B
    assert all(taken == quota for taken, quota in route_rows)
