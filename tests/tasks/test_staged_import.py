"""An import while people work (issue 12, item 2). On SQLite an import is staged: its batches
are committed one by one, out of sight, and one short transaction publishes them, so the
write lock is free between batches. Nobody sees part of an import; a failed or killed one
leaves nothing visible and its leftovers are cleared. PostgreSQL imports in one transaction,
which its readers and its work queue do not wait for: the same tests hold there too."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text

from labelhouse.accounts.models import Role
from labelhouse.errors import Busy, Conflict, InvalidInput, NotFound
from labelhouse.exports.records import iter_records
from labelhouse.projects.models import Project
from labelhouse.tasks import queue, routing, staged_import
from labelhouse.tasks.importer import BATCH_SIZE, run_import
from labelhouse.tasks.models import Prediction, Task, TaskImport, TaskRoute
from labelhouse.tasks.queries import recent_imports, transfer_view
from labelhouse.tasks.service import get_task, list_tasks, progress_by_project
from labelhouse.tasks.staged_import import BATCH_ROWS
from labelhouse.tasks.undo import undo_import
from tests.factories import add_member, add_tasks, make_project, text_rows, token_client
from tests.helpers_data import count_rows, count_tasks, jsonl_bytes

PROMPT = 10.0  # seconds: an annotator blocked by the import would wait 30 s, then get a 503


@contextmanager
def paused_import(db, owner, project_id: int, rows: list) -> Iterator[dict]:
    """An import running on a thread, paused after its first batch was stored (the
    ``on_progress`` callback waits); resumed and finished when the block ends."""
    paused, resume = threading.Event(), threading.Event()
    outcome: dict = {}

    def on_progress(_rows: int) -> None:
        if not paused.is_set():
            paused.set()
            resume.wait(60)

    def run() -> None:
        try:
            outcome["result"] = run_import(
                db,
                owner.actor,
                project_id,
                io.BytesIO(jsonl_bytes(rows)),
                filename="big.jsonl",
                on_progress=on_progress,
            )
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert paused.wait(60), "the import never reached its first batch"
        yield outcome
    finally:
        resume.set()
        thread.join(60)
    assert not thread.is_alive()


def within(seconds: float, work) -> object:
    """``work()`` on a thread; fails the test if it has not finished in time."""
    done: dict = {}

    def run() -> None:
        try:
            done["value"] = work()
        except BaseException as exc:
            done["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s (the import holds the lock)"
    if "error" in done:
        raise done["error"]
    print(f"done in {time.monotonic() - started:.3f} s")
    return done["value"]


def staged_task_ids(db, project_id: int) -> list[int]:
    """Rows of the project the import has stored but not published (SQLite only: on
    PostgreSQL they are in its open transaction, which nobody else sees)."""
    with db.read_session() as s:
        return list(
            s.scalars(
                select(Task.id)
                .join(Project, Project.id == Task.project_id)
                .where(Task.project_id == project_id, Task.import_id == Project.staging_import_id)
            )
        )


@pytest.fixture
def project(db, owner):
    return make_project(db, owner, overlap=1)


def test_a_paused_import_is_out_of_sight_and_annotators_keep_working(app, db, owner, project):
    add_tasks(db, owner, project, text_rows(3))
    annotator = add_member(db, owner, Role.annotator)
    api, ann = token_client(app, db, owner), token_client(app, db, annotator)
    rows = text_rows(3 * BATCH_SIZE, start=100)

    def next_and_submit() -> int:
        task = ann.post(f"/api/projects/{project}/next").json()["task"]
        r = ann.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}})
        assert r.status_code == 200 and r.json()["created"], r.text
        return int(task["id"])

    with paused_import(db, owner, project, rows) as outcome:
        first = within(PROMPT, next_and_submit)
        assert within(PROMPT, next_and_submit) != first
        with db.read_session() as s:
            page = list_tasks(s, owner.actor, project, limit=500)
            assert [t.external_id for t in page.items] == ["t0", "t1", "t2"]
            assert transfer_view(s, owner.actor, project).tasks == 3
            assert progress_by_project(s, [s.get(Project, project)])[project].total == 3
            assert [i.filename for i in recent_imports(s, owner.actor, project)] == ["t.jsonl"]
            exported = list(iter_records(s, project, raw_json=False))
        assert len(exported) == 3
        listed = api.get(f"/api/projects/{project}/tasks", params={"limit": 500}).json()
        assert len(listed["items"]) == 3
        assert api.get(f"/api/projects/{project}/imports").json()["items"][0]["rows"] == 3
        staged = staged_task_ids(db, project)
        assert len(staged) == (BATCH_ROWS if db.is_sqlite else 0)
        if staged:
            assert api.get(f"/api/tasks/{staged[0]}").status_code == 404
            with db.read_session() as s, pytest.raises(NotFound):
                get_task(s, owner.actor, staged[0])
            with db.session() as s, pytest.raises(Conflict, match="has not finished"):
                undo_import(s, owner.actor, project, staging_id(db, project))
        third = within(PROMPT, next_and_submit)
        # nothing visible is left for the annotator; the staged tasks are never handed out
        assert (
            within(PROMPT, lambda: ann.post(f"/api/projects/{project}/next").json())["task"] is None
        )
        assert third not in staged
    assert "error" not in outcome, outcome
    assert outcome["result"].created == len(rows)
    assert count_tasks(db, project) == 3 + len(rows)
    with db.read_session() as s:
        assert transfer_view(s, owner.actor, project).tasks == 3 + len(rows)
        assert progress_by_project(s, [s.get(Project, project)])[project].total == 3 + len(rows)
    assert staging_id(db, project) is None
    assert ann.post(f"/api/projects/{project}/next").json()["task"]["external_id"] == "t100"


def staging_id(db, project_id: int) -> int | None:
    with db.read_session() as s:
        return s.scalar(select(Project.staging_import_id).where(Project.id == project_id))


def test_staged_gold_tasks_are_not_served(db, owner):
    """The gold rule prefers an unseen gold task for a person's first answers: none of the
    staged import's may be it."""
    pid = make_project(db, owner, overlap=1)  # gold_first_n 3 by default
    add_tasks(db, owner, pid, text_rows(4))
    annotator = add_member(db, owner, Role.annotator)
    gold = [
        {"data": {"text": f"gold {i}"}, "external_id": f"g{i}", "gold": {"label": "pos"}}
        for i in range(20)
    ]
    with paused_import(db, owner, pid, [*gold, *text_rows(2 * BATCH_SIZE, start=100)]):
        served = []
        for _ in range(4):
            with db.session() as s:
                lease = queue.claim_next(s, annotator.actor, pid)
                assert lease is not None
                served.append(lease.task.external_id)
                queue.skip(s, annotator.actor, lease.task.id)
        with db.session() as s:
            assert queue.claim_next(s, annotator.actor, pid) is None
    assert sorted(served) == ["t0", "t1", "t2", "t3"]


def test_staged_routes_are_not_served_or_counted(db, owner):
    from tests.tasks.test_routing import workforce

    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, text_rows(2))
    team, (person, _) = workforce(db, owner, pid, "Vendor A")
    with db.session() as s:
        routing.route_tasks(
            s, owner.actor, pid, mode="share", slots=[routing.Slot(team, share=1)], remember=True
        )
    with paused_import(db, owner, pid, text_rows(2 * BATCH_SIZE, start=100)) as outcome:
        with db.read_session() as s:
            summary = routing.routing_summary(s, owner.actor, pid)
        assert [(w.tasks, w.slots) for w in summary.workforces] == [(2, 2)]
        got = []
        for _ in range(2):
            with db.session() as s:
                lease = queue.claim_next(s, person.actor, pid)
                got.append(lease.task.external_id)
                queue.skip(s, person.actor, lease.task.id)
        with db.session() as s:
            assert queue.claim_next(s, person.actor, pid) is None
    assert sorted(got) == ["t0", "t1"]
    assert outcome["result"].routed == 2 * BATCH_SIZE
    with db.read_session() as s:
        assert (
            routing.routing_summary(s, owner.actor, pid).workforces[0].tasks == 2 + 2 * BATCH_SIZE
        )


def test_a_bad_row_after_committed_batches_leaves_nothing(db, owner, monkeypatch):
    """Strict mode: the batches before the bad row were committed (on SQLite), and are
    deleted again with their predictions and routes; the user hears what they always did."""
    from tests.tasks.test_routing import workforce

    # Every batch quick enough to double (1,000, 2,000, 4,000, 8,000 rows): which batches
    # were committed before the bad row then does not depend on the machine's speed.
    monkeypatch.setattr(staged_import, "BATCH_SECONDS", 3600.0)

    pid = make_project(db, owner, overlap=1)
    team, _ = workforce(db, owner, pid, "Vendor A")
    with db.session() as s:
        routing.route_tasks(
            s, owner.actor, pid, mode="share", slots=[routing.Slot(team, share=1)], remember=True
        )
    predicted = [
        {"data": {"text": f"p{i}"}, "predictions": [{"value": {"label": "pos"}}]} for i in range(5)
    ]
    rows = [*predicted, *text_rows(3 * BATCH_SIZE), {"no": "text"}]
    seen_stored = []

    def on_progress(_rows: int) -> None:
        seen_stored.append(count_tasks(db, pid))

    with pytest.raises(InvalidInput, match=r"Nothing was imported: big\.jsonl, line") as exc:
        run_import(
            db,
            owner.actor,
            pid,
            io.BytesIO(jsonl_bytes(rows)),
            filename="big.jsonl",
            on_progress=on_progress,
        )
    assert exc.value.details[0].field == f"line {len(rows)}"
    if db.is_sqlite:
        assert seen_stored[-1] == (len(rows) - 1) // BATCH_ROWS * BATCH_ROWS  # committed
    assert count_tasks(db, pid) == 0
    assert count_rows(db, TaskImport) == 0
    assert count_rows(db, Prediction) == 0
    assert count_rows(db, TaskRoute) == 0
    assert staging_id(db, pid) is None
    again = run_import(
        db, owner.actor, pid, io.BytesIO(jsonl_bytes(rows[:-1])), filename="fixed.jsonl"
    )
    assert (again.created, again.routed) == (len(rows) - 1, len(rows) - 1)


def test_imports_into_one_project_take_turns(db, owner, project, monkeypatch):
    if not db.is_sqlite:
        pytest.skip("SQLite: PostgreSQL's imports queue on an advisory lock")
    from labelhouse.tasks import staged_import

    with staged_import.import_turn(db, project) as mine:
        assert mine
        with staged_import.import_turn(db, project, wait=0) as again:
            assert not again
        with staged_import.import_turn(db, project + 1, wait=0) as other:
            assert other  # another project's imports do not wait
        monkeypatch.setattr(staged_import, "TURN_WAIT", 0.3)  # the setting, shortened
        started = time.monotonic()
        with pytest.raises(Busy, match="Another import into project"):
            run_import(db, owner.actor, project, io.BytesIO(b'{"text": "a"}\n'), filename="a.jsonl")
        assert time.monotonic() - started < 5
    assert count_rows(db, TaskImport) == 0


def stage_by_hand(db, project_id: int, n: int) -> int:
    """What a killed import leaves: a staging record named by the project and its tasks."""
    with db.session() as s:
        record = TaskImport(
            project_id=project_id, filename="dead.jsonl", file_format="jsonl", state="staging"
        )
        s.add(record)
        s.flush()
        first = (s.scalar(select(func.max(Task.id))) or 0) + 1
        record.first_task_id = first
        s.get(Project, project_id).staging_import_id = record.id
        for i in range(n):
            s.execute(
                text(
                    "INSERT INTO task (project_id, external_id, dedup_key, data, taken, done, "
                    "is_open, import_id, created_at) VALUES (:p, :e, :k, :d, 0, 0, 1, :i, "
                    "'2026-01-01 00:00:00.000000')"
                ),
                {
                    "p": project_id,
                    "e": f"d{i}",
                    "k": f"x:d{i}",
                    "d": '{"text": "x"}',
                    "i": record.id,
                },
            )
        return record.id


def test_clear_stale_imports_clears_dead_ones_and_leaves_running_ones(db, owner):
    if not db.is_sqlite:
        pytest.skip("SQLite only: nothing is staged on PostgreSQL")
    from labelhouse.tasks.staged_import import clear_stale_imports

    dead, running = make_project(db, owner), make_project(db, owner)
    add_tasks(db, owner, dead, text_rows(2))
    stage_by_hand(db, dead, 7)
    with paused_import(db, owner, running, text_rows(2 * BATCH_SIZE)) as outcome:
        assert count_tasks(db, dead) == 9
        assert clear_stale_imports(db) == 1  # the running import holds its turn
        assert count_tasks(db, dead) == 2
        assert len(staged_task_ids(db, running)) == BATCH_ROWS
        assert clear_stale_imports(db) == 0
    assert outcome["result"].created == 2 * BATCH_SIZE
    assert count_rows(db, TaskImport) == 2  # add_tasks' and the finished one
