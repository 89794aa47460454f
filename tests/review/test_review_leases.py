"""Reviewer leases: each reviewer is shown a task no other reviewer holds, gets it again on
asking again, gives it up by skipping or deciding, and takes over expired leases — with
concurrent reviewers on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict
from labelhouse.projects.models import DEFAULT_LEASE_SECONDS
from labelhouse.review import service as review
from labelhouse.review.models import Review, ReviewLease
from labelhouse.tasks.models import Task
from tests.factories import add_member, login
from tests.review.test_review import annotate_all, project, team  # noqa: F401

LEASE = DEFAULT_LEASE_SECONDS  # the projects' lease_seconds (make_project's default)


def next_id(db, reviewer, pid, *, after=0, now=None):
    with db.session() as s:
        item = review.next_for_review(s, reviewer.actor, pid, after_id=after, now=now)
        return None if item is None else item.task.id


def leases(db) -> dict[int, int]:
    """{task_id: reviewer_id} of every lease row."""
    with db.read_session() as s:
        return dict(s.execute(select(ReviewLease.task_id, ReviewLease.reviewer_id)).all())


def finished(db, owner, annotators, n=4, mode="all"):
    """A project whose ``n`` tasks two annotators finished; its task ids in order."""
    pid = project(db, owner, mode=mode, n=n)
    labels = [lambda t: "pos", (lambda t: "neg" if t % 2 else "pos")]
    annotate_all(db, annotators[:2], pid, labels)
    with db.read_session() as s:
        ids = s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)).all()
    return pid, list(ids)


@pytest.fixture
def reviewers(db, team):  # noqa: F811
    owner = team[0]
    return [team[2]] + [add_member(db, owner, Role.reviewer) for _ in range(3)]


def test_reviewers_are_shown_different_tasks_and_their_own_again(db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    r1, r2, r3, r4 = reviewers
    pid, (t1, t2, t3, t4) = finished(db, owner, annotators, n=4)
    assert next_id(db, r1, pid) == t1
    assert next_id(db, r2, pid) == t2
    assert next_id(db, r1, pid) == t1  # a reload: the same task, still theirs
    assert next_id(db, r3, pid) == t3
    assert leases(db) == {t1: r1.actor.user_id, t2: r2.actor.user_id, t3: r3.actor.user_id}
    with db.read_session() as s:
        lease = s.get(ReviewLease, t1)
        assert lease.project_id == pid
        assert (
            timedelta(seconds=LEASE - 60) < lease.expires_at - utcnow() <= timedelta(seconds=LEASE)
        )
    assert next_id(db, r4, pid) == t4
    assert next_id(db, owner, pid) is None  # the owner reviews too; all four are held


def test_deciding_releases_the_lease(db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    r1, r2 = reviewers[:2]
    pid, (t1, t2, *_) = finished(db, owner, annotators, n=3)
    assert next_id(db, r1, pid) == t1
    with db.session() as s:
        review.decide(s, r1.actor, t1, decision="accept")
    assert t1 not in leases(db)
    assert next_id(db, r1, pid) == t2  # the next one, leased in turn
    assert leases(db) == {t2: r1.actor.user_id}
    assert next_id(db, r2, pid) != t2


def test_skipping_moves_the_lease(db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    r1, r2 = reviewers[:2]
    pid, (t1, t2, t3) = finished(db, owner, annotators, n=3)
    assert next_id(db, r1, pid) == t1
    assert next_id(db, r1, pid, after=t1) == t2  # Skip: t1 is given up, t2 is held
    assert leases(db) == {t2: r1.actor.user_id}
    assert next_id(db, r2, pid) == t1  # free again for others
    assert next_id(db, r1, pid, after=t2) == t3
    assert next_id(db, r1, pid, after=t3) is None  # past the end: nothing held any more
    assert leases(db) == {t1: r2.actor.user_id}


def test_an_expired_lease_is_taken_over(db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    r1, r2 = reviewers[:2]
    pid, (t1, t2, *_) = finished(db, owner, annotators, n=2)
    start = utcnow()
    assert next_id(db, r1, pid, now=start) == t1
    assert next_id(db, r2, pid, now=start + timedelta(seconds=LEASE - 1)) == t2
    later = start + timedelta(seconds=LEASE + 1)
    # r2 asks again: still holds t2 (its lease is younger), nothing else to take over
    assert next_id(db, r2, pid, now=later) == t2
    r3 = reviewers[2]
    assert next_id(db, r3, pid, now=later) == t1  # r1's lease on t1 expired
    assert leases(db)[t1] == r3.actor.user_id
    assert next_id(db, r1, pid, now=later) is None  # r1 lost it; t2 is r2's
    with db.read_session() as s:
        assert s.get(ReviewLease, t1).expires_at == later + timedelta(seconds=LEASE)


def test_a_decision_without_the_lease_follows_first_decision_wins(db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    r1, r2 = reviewers[:2]
    pid, (t1, *_) = finished(db, owner, annotators, n=2)
    assert next_id(db, r1, pid) == t1
    with db.session() as s:  # r2 decides on the task r1 holds: allowed, and first
        review.decide(s, r2.actor, t1, decision="correct", value={"label": "neu"})
    assert t1 not in leases(db)
    with db.session() as s, pytest.raises(Conflict, match="already reviewed"):
        review.decide(s, r1.actor, t1, decision="accept")
    with db.read_session() as s:
        assert s.scalars(select(Review.reviewer_id).where(Review.task_id == t1)).all() == [
            r2.actor.user_id
        ]
    assert next_id(db, r1, pid) != t1


def run_threads(n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads released together; results in thread order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.parametrize("mode", ["all", "disagreement"])
def test_concurrent_reviewers_get_distinct_tasks(db, team, mode):  # noqa: F811
    owner, annotators, _ = team
    pid, ids = finished(db, owner, annotators, n=16, mode=mode)
    expected = ids if mode == "all" else [t for t in ids if t % 2]
    crowd = [add_member(db, owner, Role.reviewer) for _ in range(6)]
    got = run_threads(len(crowd), lambda i: next_id(db, crowd[i], pid))
    assert None not in got
    assert len(set(got)) == len(crowd)  # nobody was shown another reviewer's task
    assert set(got) <= set(expected)
    assert leases(db) == {t: m.actor.user_id for t, m in zip(got, crowd, strict=True)}


def test_concurrent_reviewers_review_everything_once_without_conflicts(db, team):  # noqa: F811
    owner, annotators, _ = team
    pid, ids = finished(db, owner, annotators, n=12)
    crowd = [add_member(db, owner, Role.reviewer) for _ in range(4)]

    def work(i: int) -> list[int]:
        mine = []
        while (tid := next_id(db, crowd[i], pid)) is not None:
            with db.session() as s:  # a Conflict here would fail the test
                review.decide(s, crowd[i].actor, tid, decision="accept")
            mine.append(tid)
        return mine

    done = run_threads(len(crowd), work)
    flat = sorted(t for mine in done for t in mine)
    assert flat == ids  # every task reviewed exactly once
    assert leases(db) == {}
    with db.read_session() as s:
        assert sorted(s.scalars(select(Review.task_id))) == ids


def test_review_next_api_leases_the_task(app, db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    pid, (t1, t2, *_) = finished(db, owner, annotators, n=2)
    c1, c2 = login(app, reviewers[0]), login(app, reviewers[1])
    first = c1.post(f"/api/projects/{pid}/review/next").json()
    assert first["task"]["id"] == t1 and first["lease_expires_at"]
    assert c2.post(f"/api/projects/{pid}/review/next").json()["task"]["id"] == t2
    assert c1.post(f"/api/projects/{pid}/review/next").json()["task"]["id"] == t1
    r = c2.post(f"/api/tasks/{t1}/review", json={"decision": "accept"})
    assert r.status_code == 201  # no lease needed; first decision wins
    r = c1.post(f"/api/tasks/{t1}/review", json={"decision": "accept"})
    assert r.status_code == 409
    assert c1.post(f"/api/projects/{pid}/review/next").json() == {"task": None}


def test_the_open_pages_heartbeat_keeps_the_task_past_its_lease(db, team, reviewers):  # noqa: F811
    """Reading a long task must not hand it to another reviewer: the page renews its lease.
    Before the heartbeat existed, a lease ran out after ``lease_seconds`` however long the
    reviewer was still reading, and the next reviewer was given the same task."""
    owner, annotators, _ = team
    r1, r2 = reviewers[:2]
    pid, (t1, t2, *_) = finished(db, owner, annotators, n=3)
    start = utcnow()
    assert next_id(db, r1, pid, now=start) == t1
    later = start + timedelta(seconds=LEASE - 5)
    with db.session() as s:
        renewal = review.renew_lease(s, r1.actor, t1, now=later)
    assert renewal.lease_seconds == LEASE
    assert renewal.expires_at == later + timedelta(seconds=LEASE)
    # Past the first term, the task is still r1's: r2 is shown the next one.
    assert next_id(db, r2, pid, now=start + timedelta(seconds=LEASE + 5)) == t2
    # A lease that ran out but that nobody took over is still renewed.
    with db.session() as s:
        assert review.renew_lease(s, r1.actor, t1, now=start + timedelta(seconds=3 * LEASE))


def test_a_lease_that_ended_is_a_conflict_saying_why(db, team, reviewers):  # noqa: F811
    owner, annotators, _ = team
    r1, r2 = reviewers[:2]
    pid, (t1, *_) = finished(db, owner, annotators, n=2)
    start = utcnow()
    assert next_id(db, r1, pid, now=start) == t1
    # r1's lease runs out and r2 is given the task: r1's heartbeat must not take it back.
    assert next_id(db, r2, pid, now=start + timedelta(seconds=LEASE + 1)) == t1
    with db.session() as s, pytest.raises(Conflict, match="another reviewer"):
        review.renew_lease(s, r1.actor, t1, now=start + timedelta(seconds=LEASE + 2))
    assert leases(db)[t1] == r2.actor.user_id
    with db.session() as s:
        review.decide(s, r2.actor, t1, decision="accept")
    with db.session() as s, pytest.raises(Conflict, match="decided"):
        review.renew_lease(s, r2.actor, t1)
