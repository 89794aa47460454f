"""Gold tasks: import, API marking, the queue rule, disguise, accuracy and the pause."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.errors import InvalidInput
from labelhouse.projects.service import get_project
from labelhouse.review import gold as gold_scores
from labelhouse.tasks import gold, queue
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Assignment, Task
from labelhouse.tasks.service import progress_by_project
from tests.factories import add_member, add_tasks, jsonl, login, make_org, make_project, text_rows


def gold_rows(n: int, label: str = "pos", start: int = 0) -> list[dict]:
    return [
        {"data": {"text": f"gold {i}"}, "external_id": f"g{i}", "gold": {"label": label}}
        for i in range(start, start + n)
    ]


def claim(db, member, pid):
    with db.session() as s:
        lease = queue.claim_next(s, member.actor, pid, gate=gold_scores.pause_gate)
        return None if lease is None else lease.task.id


def submit(db, member, task_id, label="pos"):
    with db.session() as s:
        annotations.save(s, member.actor, task_id, value={"label": label})


def gold_ids(db, pid) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(Task.id).where(Task.project_id == pid, Task.gold.is_not(None))))


def work(db, member, pid, n, label=lambda tid, is_gold: "pos"):
    """Claim and submit up to n tasks; returns the task ids in order."""
    golds = gold_ids(db, pid)
    done = []
    for _ in range(n):
        tid = claim(db, member, pid)
        if tid is None:
            break
        submit(db, member, tid, label(tid, tid in golds))
        done.append(tid)
    return done


def test_import_stores_gold_validated_and_keeps_file_order(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    rows = [*text_rows(2), *gold_rows(1), *text_rows(2, start=2)]
    add_tasks(db, owner, pid, rows)
    with db.session() as s:
        tasks = list(s.scalars(select(Task).where(Task.project_id == pid).order_by(Task.id)))
    assert [t.external_id for t in tasks] == ["t0", "t1", "g0", "t2", "t3"]
    assert [t.gold for t in tasks] == [None, None, {"label": "pos"}, None, None]
    assert [t.is_open for t in tasks] == [True, True, False, True, True]

    bad = [{"data": {"text": "x"}, "gold": {"label": "maybe"}}]
    with db.session() as s, pytest.raises(InvalidInput) as err:
        import_tasks(s, owner.actor, pid, io.BytesIO(jsonl(bad)), filename="b.jsonl")
    assert "gold: label" in err.value.details[0].problem
    empty = [{"data": {"text": "y"}, "gold": {}}]
    with db.session() as s, pytest.raises(InvalidInput) as err:
        import_tasks(s, owner.actor, pid, io.BytesIO(jsonl(empty)), filename="b.jsonl")
    assert "at least one field of: label" in err.value.details[0].problem


def test_gold_api_marks_validates_and_unmarks(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    ann = add_member(db, owner)
    other_org = make_org(db, "Other")
    with db.session() as s:
        tid = s.scalar(select(Task.id).where(Task.project_id == pid))
    c = login(app, owner)
    r = c.put(f"/api/tasks/{tid}/gold", json={"value": {"label": "nope"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "label"
    r = c.put(f"/api/tasks/{tid}/gold", json={"value": {"label": "neg"}})
    assert r.status_code == 200, r.text
    assert r.json()["gold"] == {"label": "neg"}
    assert c.get(f"/api/tasks/{tid}").json()["gold"] == {"label": "neg"}
    with db.session() as s:
        assert s.get(Task, tid).is_open is False
    assert login(app, ann).put(
        f"/api/tasks/{tid}/gold", json={"value": {"label": "neg"}}
    ).status_code in (403, 404)
    assert (
        login(app, other_org)
        .put(f"/api/tasks/{tid}/gold", json={"value": {"label": "neg"}})
        .status_code
        == 404
    )
    assert c.delete(f"/api/tasks/{tid}/gold").status_code == 204
    with db.session() as s:
        task = s.get(Task, tid)
        assert (task.gold, task.is_open) == (None, True)


def test_first_n_then_rate_and_never_twice(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, gold_rows(6) + text_rows(40))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": 2, "gold_rate": 0.2})
    golds = gold_ids(db, pid)
    a, b = add_member(db, owner), add_member(db, owner)
    seq_a = work(db, a, pid, 20)
    assert set(seq_a[:2]) <= golds  # the first two are gold
    assert len(seq_a) == len(set(seq_a))  # never twice
    seq_b = work(db, b, pid, 20)
    assert set(seq_b[:2]) <= golds  # every annotator gets the gold tasks: no overlap limit
    assert len(set(seq_a) & golds) >= 2
    with db.session() as s:
        assert all(not t.is_open for t in s.scalars(select(Task).where(Task.id.in_(golds))))
        # one lease per user, one row per (task, user)
        rows = s.execute(select(Assignment.task_id, Assignment.user_id)).all()
        assert len(rows) == len(set(rows))


def test_gold_rate_is_deterministic_and_near_the_rate(db):
    hits = sum(gold.draw(1, 7, n) < 0.1 for n in range(5000))
    assert 400 < hits < 600
    assert gold.draw(1, 7, 3) == gold.draw(1, 7, 3)


def test_rate_zero_and_first_n_zero_hands_out_no_gold(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows(3) + text_rows(5))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": 0, "gold_rate": 0.0})
    a = add_member(db, owner)
    assert not set(work(db, a, pid, 10)) & gold_ids(db, pid)


def test_no_gold_once_ordinary_work_is_done_and_progress_skips_gold(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows(5) + text_rows(1))
    a = add_member(db, owner)
    seq = work(db, a, pid, 10)
    # first_n = 3 gold while ordinary work remains, then the one ordinary task, then nothing
    assert len(seq) == 4 and seq[-1] not in gold_ids(db, pid)
    with db.session() as s:
        progress = progress_by_project(s, [get_project(s, owner.actor, pid)])[pid]
    assert (progress.total, progress.done) == (1, 1)


def test_next_payload_does_not_reveal_gold(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, gold_rows(1) + text_rows(3))
    annotators = [add_member(db, owner) for _ in range(3)]
    for m in annotators[:2]:
        work(db, m, pid, 1)  # both answer the gold task first
    c = login(app, annotators[2])
    body = c.post(f"/api/projects/{pid}/next").json()
    task = body["task"]
    assert task["id"] in gold_ids(db, pid)
    assert "gold" not in task and "gold" not in str(body).lower().replace("gold 0", "")
    assert task["annotations_done"] == 1 and task["status"] == "in_progress"
    r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "neg"}})
    assert r.status_code == 200, r.text
    seen = c.get(f"/api/tasks/{task['id']}").json()
    assert "gold" not in seen and seen["annotations_done"] == 2 and seen["status"] == "done"


def test_gold_accuracy_per_field(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows(4) + text_rows(10))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": 4})
    good, bad = add_member(db, owner), add_member(db, owner)
    work(db, good, pid, 6)
    work(db, bad, pid, 6, label=lambda tid, g: "neg" if g and tid % 2 else "pos")
    with db.session() as s:
        scores = {g.user_id: g for g in gold_scores.gold_accuracy(s, owner.actor, pid)}
    assert scores[good.actor.user_id].fields["label"].accuracy == 1.0
    assert scores[good.actor.user_id].answers == 4
    assert scores[bad.actor.user_id].accuracy == 0.5
    r = login(app, owner).get(f"/api/projects/{pid}/gold/accuracy")
    assert r.status_code == 200
    by_user = {i["user_id"]: i for i in r.json()["items"]}
    assert by_user[bad.actor.user_id]["fields"]["label"] == {
        "correct": 2,
        "checked": 4,
        "accuracy": 0.5,
    }
    assert login(app, good).get(f"/api/projects/{pid}/gold/accuracy").status_code == 403


def test_pause_below_threshold_and_manager_lifts_it(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows(6) + text_rows(10))
    c_owner = login(app, owner)
    r = c_owner.patch(
        f"/api/projects/{pid}",
        json={"gold_first_n": 3, "gold_rate": 0.0, "gold_min_accuracy": 0.8, "gold_min_answers": 3},
    )
    assert r.status_code == 200, r.text
    assert r.json()["gold_min_accuracy"] == 0.8
    ann = add_member(db, owner)
    work(db, ann, pid, 3, label=lambda tid, g: "neg")  # three wrong gold answers
    c = login(app, ann)
    r = c.post(f"/api/projects/{pid}/next")
    assert r.status_code == 403
    assert "Paused: your gold accuracy is 0%" in r.json()["error"]["message"]
    assert (
        login(app, add_member(db, owner, Role.reviewer))
        .post(f"/api/projects/{pid}/annotators/{ann.actor.user_id}/unpause")
        .status_code
        == 403
    )
    assert c_owner.post(f"/api/projects/{pid}/annotators/999999/unpause").status_code == 404
    assert (
        c_owner.post(f"/api/projects/{pid}/annotators/{ann.actor.user_id}/unpause").status_code
        == 204
    )
    r = c.post(f"/api/projects/{pid}/next")
    assert r.status_code == 200 and r.json()["task"] is not None
    # null switches the pause off; other nulls leave settings alone
    r = c_owner.patch(f"/api/projects/{pid}", json={"gold_min_accuracy": None, "overlap": None})
    assert r.json()["gold_min_accuracy"] is None and r.json()["overlap"] == 1


def test_settings_validation(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    c = login(app, owner)
    r = c.patch(f"/api/projects/{pid}", json={"gold_rate": 0.9, "review_mode": "some"})
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert fields == {"gold_rate", "review_mode"}
    with db.session() as s, pytest.raises(InvalidInput):
        queue.update_project(s, owner.actor, pid, {"gold_min_accuracy": 2})


def test_overlap_change_keeps_gold_closed(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows(1) + text_rows(1))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"overlap": 3})
        opened = dict(
            s.execute(select(Task.external_id, Task.is_open).where(Task.project_id == pid)).all()
        )
    assert opened == {"g0": False, "t0": True}


def test_the_submit_that_triggers_a_pause_is_kept_and_next_is_null(app, db):
    """With ?next=1 the pause refuses the *next* task; the answer just given must not be lost."""
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows(6) + text_rows(10))
    login(app, owner).patch(
        f"/api/projects/{pid}",
        json={"gold_first_n": 3, "gold_rate": 0.0, "gold_min_accuracy": 0.8, "gold_min_answers": 3},
    )
    ann = add_member(db, owner)
    work(db, ann, pid, 2, label=lambda tid, g: "neg")  # two wrong gold answers: not paused yet
    c = login(app, ann)
    third = c.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    r = c.post(f"/api/tasks/{third}/annotations?next=1", json={"value": {"label": "neg"}})
    assert r.status_code == 200, r.text
    assert r.json()["next"] is None
    assert r.json()["annotation"]["status"] == "submitted"
    with db.session() as s:
        stored = s.scalar(
            select(Assignment.status).where(
                Assignment.task_id == third, Assignment.user_id == ann.actor.user_id
            )
        )
    assert stored == "submitted"
    assert c.post(f"/api/projects/{pid}/next").status_code == 403  # the pause itself holds


def test_without_a_gold_task_a_claim_takes_its_task_in_one_statement(db):
    """The gold rule is on by default (gold_rate 0.1, the first 3 gold) but has nothing to
    serve until a gold task exists: the claim's first statement says whether one does,
    and without one the task is chosen and counted in one statement (3 in all, not 5; on
    PostgreSQL the lease is made in that statement too: 2).
    Once a gold task is imported, the rule serves it first again."""
    from sqlalchemy import event

    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    member = add_member(db, owner)
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        first = claim(db, member, pid)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    # from the claim's first statement on (the actor's memberships are read before it)
    start = next(i for i, q in enumerate(seen) if "any_gold" in q)
    claims = seen[start:]
    if db.dialect == "postgresql":  # take the first open and lease it: one statement
        assert len(claims) == 2, claims
        assert claims[1].lstrip().upper().startswith("WITH PICK")
    else:  # project + lease + gold?, take the first open, lease
        assert len(claims) == 3, claims
        assert claims[1].lstrip().upper().startswith("UPDATE TASK")
    assert first is not None
    submit(db, member, first)
    add_tasks(db, owner, pid, gold_rows(1))
    assert claim(db, member, pid) in gold_ids(db, pid)  # within the first 3: gold


def test_the_any_gold_probe_is_an_index_search(db):
    """Every claim asks whether the project has a gold task: a probe of ix_task_gold (the
    partial index on gold tasks), never a walk of the project's tasks. (Checked on SQLite,
    whose plan does not depend on statistics; on PostgreSQL at 500,000 tasks it is an
    index-only scan of ix_task_gold, 0.04 ms.)"""
    from datetime import UTC, datetime

    from sqlalchemy import text

    if db.dialect != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL's depends on its statistics")
    statement = queue._FIRST_STATEMENT[False].statement.params(
        pid=1, org=1, uid=1, now=datetime.now(UTC)
    )
    with db.engine.connect() as conn:
        sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        plan = [row[3] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert any("ix_task_gold" in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan
