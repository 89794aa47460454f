"""Queue ordering (issue 16): by priority or by the uncertainty of predictions (entropy or
margin), served in index order and keeping every rule of the queue (tests/tasks/test_queue.py
holds the rules; here they are checked again on ordered projects, under concurrency too)."""

from __future__ import annotations

import math
import random
import threading
from typing import Any

import pytest
from sqlalchemy import event, select

from labelhouse.annotations import service as annotations
from labelhouse.audit.models import AuditEvent
from labelhouse.tasks import queue
from labelhouse.tasks.models import Prediction, Task
from labelhouse.tasks.queue_order import distribution_uncertainty, store_uncertainty
from tests.factories import add_member, add_tasks, make_org, make_project, run_in_threads
from tests.tasks.test_queue import _assert_queue_invariants, _work_loop

NO_GOLD = {"gold_rate": 0, "gold_first_n": 0}  # the queue's one-statement claim
GOLD_RULE = {}  # the defaults: the claim that looks before it takes (tasks/gold.py)


def set_order(db, owner, pid: int, order: str, **settings: Any) -> None:
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"queue_order": order, **settings})


def served(db, member, pid: int) -> list[str]:
    """External ids in the order the queue hands them to ``member`` (each one submitted)."""
    out = []
    while True:
        with db.session() as s:
            lease = queue.claim_next(s, member.actor, pid)
            if lease is None:
                return out
            task_id = lease.task.id
            out.append(s.get(Task, task_id).external_id)
        with db.session() as s:
            annotations.save(s, member.actor, task_id, value={"label": "pos"})


def test_uncertainty_of_a_distribution():
    assert distribution_uncertainty([0.5, 0.5]) == pytest.approx((1.0, 1.0))
    assert distribution_uncertainty([1.0, 0.0, 0.0]) == pytest.approx((0.0, 0.0))
    entropy, margin = distribution_uncertainty([0.4, 0.3, 0.3])
    assert entropy == pytest.approx(-(0.4 * math.log(0.4) + 0.6 * math.log(0.3)) / math.log(3))
    assert margin == pytest.approx(0.9)
    assert distribution_uncertainty([2, 2]) == pytest.approx((1.0, 1.0))  # normalised
    # a lone named class leaves the rest to another: the same as (.6, .4)
    assert distribution_uncertainty([0.6]) == pytest.approx(distribution_uncertainty([0.6, 0.4]))
    assert distribution_uncertainty([0, 0]) is None


@pytest.mark.parametrize("claim_path", [NO_GOLD, GOLD_RULE], ids=["one-statement", "gold-rule"])
def test_priority_order_highest_first_each_annotator_once(db, claim_path):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    set_order(
        db, owner, pid, "priority", **claim_path
    )  # before the import: imported rows are ranked
    priorities = [3, -1, 7, 0, 7, 2, 0, -5, 10, 1]
    rows: list[dict[str, Any]] = [
        {"data": {"text": f"item {i}"}, "external_id": f"t{i}", "priority": p}
        for i, p in enumerate(priorities)
    ]
    rows.append({"text": "flat row", "external_id": "flat", "priority": "kept as data"})
    add_tasks(db, owner, pid, rows)
    a, b = add_member(db, owner), add_member(db, owner)
    by_priority = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    expected = [f"t{i}" for i in by_priority if priorities[i] > 0]
    expected += [f"t{i}" for i in by_priority if priorities[i] == 0] + ["flat"]
    expected += [f"t{i}" for i in by_priority if priorities[i] < 0]
    first = served(db, a, pid)
    assert first == expected
    assert served(db, b, pid) == expected  # overlap 2: the second annotator gets them all too
    assert served(db, add_member(db, owner), pid) == []  # and nobody a third time
    with db.session() as s:
        flat = s.scalar(select(Task).where(Task.project_id == pid, Task.external_id == "flat"))
        assert flat.data["priority"] == "kept as data" and flat.priority == 0
        assert {t.taken for t in s.scalars(select(Task).where(Task.project_id == pid))} == {2}


def test_priorities_set_later_reorder_the_queue_and_the_order_can_go_back(app, db):
    from tests.factories import text_rows, token_client

    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    set_order(db, owner, pid, "default", **NO_GOLD)
    add_tasks(db, owner, pid, text_rows(5))
    client = token_client(app, db, owner)
    r = client.patch(f"/api/projects/{pid}", json={"queue_order": "urgent"})
    assert r.status_code == 422 and "queue_order" in r.text
    r = client.patch(f"/api/projects/{pid}", json={"queue_order": "priority"})
    assert r.status_code == 200 and r.json()["queue_order"] == "priority"
    with db.read_session() as s:
        tid = s.scalar(select(Task.id).where(Task.project_id == pid, Task.external_id == "t2"))
    r = client.post(
        f"/api/projects/{pid}/tasks/priorities",
        json={
            "priorities": [{"external_id": "t3", "priority": 5}, {"task_id": tid, "priority": 9}]
        },
    )
    assert r.status_code == 200 and r.json() == {"updated": 2}
    for bad, named in [
        ([{"external_id": "nope", "priority": 1}], "no task with external_id 'nope'"),
        ([{"external_id": "t1", "priority": 1.5}], "priorities[0].priority"),
        ([{"external_id": "t1", "task_id": tid, "priority": 1}], "not both"),
    ]:
        r = client.post(f"/api/projects/{pid}/tasks/priorities", json={"priorities": bad})
        assert r.status_code == 422 and named in r.text, r.text
    ann = add_member(db, owner)
    lease_order = served(db, ann, pid)
    assert lease_order == ["t2", "t3", "t0", "t1", "t4"]
    set_order(db, owner, pid, "default")
    assert served(db, add_member(db, owner), pid) == [f"t{i}" for i in range(5)]
    with db.read_session() as s:
        actions = [
            (e.action, e.details)
            for e in s.scalars(select(AuditEvent).where(AuditEvent.object_id == str(pid)))
        ]
    assert ("project.update", {"queue_order": "priority"}) in actions
    assert ("task.prioritize", {"tasks": 2}) in actions


# Class probabilities (or a single score) per task, and the orders they give (worked out by
# hand from the definitions in tasks/queue_order.py):
#   a: (.5, .5, 0)          entropy ln2/ln3 = .631   margin 1 - 0   = 1.0
#   b: (.4, .3, .3)         entropy .991             margin 1 - .1  = .9
#   c: score .9 only        entropy .469 (of .9/.1)  margin 1 - .8  = .2
#   d: (1, 0, 0)            0                        0
#   e: no prediction        (ranks with the certain ones, by id)
#   f: score .99 and (.7, .2, .1): the larger of the two: entropy .730, margin .5
UNCERTAIN_ROWS = [
    {"text": "a", "predictions": [{"value": {"label": "pos"}, "scores": {"label": {"pos": 0.5, "neg": 0.5, "neu": 0}}}]},
    {"text": "b", "predictions": [{"value": {"label": "pos"}, "scores": {"label": {"pos": 0.4, "neg": 0.3, "neu": 0.3}}}]},
    {"text": "c", "predictions": [{"value": {"label": "pos"}, "score": 0.9}]},
    {"text": "d", "predictions": [{"value": {"label": "pos"}, "scores": {"label": {"pos": 1, "neg": 0, "neu": 0}}}]},
    {"text": "e"},
    {"text": "f", "predictions": [
        {"value": {"label": "pos"}, "score": 0.99, "model_version": "m1"},
        {"value": {"label": "pos"}, "scores": {"label": {"pos": 0.7, "neg": 0.2, "neu": 0.1}}, "model_version": "m2"},
    ]},
]  # fmt: skip


def test_uncertainty_orders_entropy_and_margin(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    add_tasks(db, owner, pid, [{**r, "external_id": r["text"]} for r in UNCERTAIN_ROWS])
    set_order(db, owner, pid, "entropy")
    assert served(db, add_member(db, owner), pid) == ["b", "f", "a", "c", "d", "e"]
    set_order(db, owner, pid, "margin")
    assert served(db, add_member(db, owner), pid) == ["a", "b", "f", "c", "d", "e"]
    # A prediction written later by another path (e.g. a live model) counts once it calls
    # store_uncertainty: task e (margin .99) moves up behind a's tie (margin 1).
    with db.session() as s:
        task = s.scalar(select(Task).where(Task.project_id == pid, Task.external_id == "e"))
        probs = {"pos": 0.34, "neg": 0.33, "neu": 0.33}
        s.add(Prediction(project_id=pid, task_id=task.id, value={}, scores={"label": probs}))
        s.flush()
        store_uncertainty(s, [task.id])
    with db.read_session() as s:
        e = s.scalar(select(Task).where(Task.project_id == pid, Task.external_id == "e"))
        assert e.uncertainty_margin == pytest.approx(0.99)
        assert e.queue_rank == pytest.approx(-0.99)
    assert served(db, add_member(db, owner), pid) == ["a", "e", "b", "f", "c", "d"]
    assert served(db, add_member(db, owner), pid) == []  # overlap 3 reached everywhere


def test_import_refuses_a_bad_priority_or_scores(db):
    from labelhouse.errors import InvalidInput

    owner = make_org(db)
    pid = make_project(db, owner)
    bad = [
        ({"data": {"text": "x"}, "priority": "high"}, "priority must be an integer"),
        (
            {"text": "x", "predictions": [{"value": {}, "scores": {"label": {"pos": 2}}}]},
            "scores.label.pos must be a probability from 0 to 1",
        ),
        (
            {"text": "x", "predictions": [{"value": {}, "scores": {"colour": {"red": 1}}}]},
            "'colour' is not a field of the schema",
        ),
    ]
    for row, sentence in bad:
        with pytest.raises(InvalidInput) as caught:
            add_tasks(db, owner, pid, [row])
        assert sentence in str([d.problem for d in caught.value.details]), caught.value.details


@pytest.mark.parametrize("claim_path", [NO_GOLD, GOLD_RULE], ids=["one-statement", "gold-rule"])
def test_concurrent_claims_on_a_priority_ordered_project_never_over_assign(db, claim_path):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    set_order(db, owner, pid, "priority", **claim_path)
    n_tasks, n_workers = 80, 16
    rnd = random.Random(16)
    rows = [
        {"data": {"text": f"item {i}"}, "external_id": f"t{i}", "priority": rnd.randint(-3, 3)}
        for i in range(n_tasks)
    ]
    add_tasks(db, owner, pid, rows)
    members = [add_member(db, owner) for _ in range(n_workers)]
    barrier = threading.Barrier(n_workers)

    def run(m):
        barrier.wait()
        _work_loop(db, m.actor, pid)

    errors = run_in_threads(run, members)
    assert not errors, errors
    _assert_queue_invariants(db, pid, n_tasks, overlap=3, n_workers=n_workers)


# -- the claim reads the queue in index order ---------------------------------------------------


def _claim_plans(db, owner, pid: int) -> list[str]:
    """The plans of the statements a claim runs that choose a task by queue_rank."""
    seen: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "queue_rank" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert served(db, add_member(db, owner), pid)[:1]
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert seen, "no ranked claim ran"
    plans = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in seen[:2]:
            if engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                plans.append("\n".join(str(row[-1]) for row in cur.fetchall()))
            else:  # a small table is cheaper to scan and sort: ask for the ordered path
                cur.execute("SET enable_seqscan = off")
                cur.execute("SET enable_sort = off")
                cur.execute("EXPLAIN " + statement, parameters)
                plans.append("\n".join(row[0] for row in cur.fetchall()))
                raw.rollback()
    finally:
        raw.close()
    return plans


@pytest.mark.parametrize("claim_path", [NO_GOLD, GOLD_RULE], ids=["one-statement", "gold-rule"])
def test_an_ordered_claim_walks_the_rank_index(db, claim_path):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{**r, "external_id": r["text"]} for r in UNCERTAIN_ROWS])
    set_order(db, owner, pid, "entropy", **claim_path)
    for plan in _claim_plans(db, owner, pid):
        assert "ix_task_queue_rank" in plan, plan
        if db.engine.dialect.name == "sqlite":
            assert "TEMP B-TREE" not in plan, plan
        else:
            assert "Sort" not in plan, plan
