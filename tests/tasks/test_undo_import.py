"""Undoing an import (``tasks.undo``): untouched tasks go, worked-on tasks stay, keys are
freed; through the service, the API and the CLI, on both databases."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from labelhouse.errors import NotFound, PermissionDenied
from labelhouse.tasks import queue
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Prediction, Task, TaskImport
from labelhouse.tasks.undo import undo_import
from tests.factories import add_member, jsonl, make_org, make_project, token_client
from tests.helpers_data import count_rows


def do_import(db, member, pid, rows):
    with db.session() as s:
        return import_tasks(s, member.actor, pid, io.BytesIO(jsonl(rows)), filename="t.jsonl")


def rows_named(prefix: str, n: int) -> list[dict]:
    return [{"text": f"{prefix} {i}", "external_id": f"{prefix}{i}"} for i in range(n)]


def task_ids(db, pid) -> dict[str, int]:
    with db.read_session() as s:
        return dict(
            s.execute(select(Task.external_id, Task.id).where(Task.project_id == pid)).all()
        )


@pytest.fixture
def setup(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    return owner, pid


def work_on_three(db, owner, pid):
    """One task leased, one answered, one skipped: the three kinds of 'worked on'."""
    a, b, c = (add_member(db, owner) for _ in range(3))
    worked = []
    with db.session() as s:
        worked.append(queue.claim_next(s, a.actor, pid).task.id)  # leased, nothing more
    with db.session() as s:
        task = queue.claim_next(s, b.actor, pid).task.id
        annotations.save(s, b.actor, task, value={"label": "pos"})
        worked.append(task)
    with db.session() as s:
        task = queue.claim_next(s, c.actor, pid).task.id
        queue.skip(s, c.actor, task)
        worked.append(task)
    return sorted(worked)


def test_undo_removes_untouched_tasks_and_keeps_worked_on_ones(db, setup):
    owner, pid = setup
    first = do_import(db, owner, pid, rows_named("a", 10))
    worked = work_on_three(db, owner, pid)
    with db.session() as s:
        result = undo_import(s, owner.actor, pid, first.import_id)
    assert (result.removed, result.kept) == (7, 3)
    assert sorted(task_ids(db, pid).values()) == worked
    with db.read_session() as s:
        record = s.get(TaskImport, first.import_id)
        assert record.removed == 7 and record.removed_at is not None
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "tasks.import_undo")).one()
        assert event.details == {"import_id": first.import_id, "removed": 7, "kept": 3}


def test_undo_touches_only_its_own_import_and_frees_the_keys(db, setup):
    owner, pid = setup
    first = do_import(db, owner, pid, rows_named("a", 5))
    do_import(db, owner, pid, rows_named("b", 4))
    with db.session() as s:
        assert undo_import(s, owner.actor, pid, first.import_id).removed == 5
    assert sorted(task_ids(db, pid)) == [f"b{i}" for i in range(4)]
    again = do_import(db, owner, pid, rows_named("a", 5))  # the corrected file goes in
    assert (again.created, again.duplicates) == (5, 0)
    with db.session() as s:  # repeating the undo finds nothing more to remove
        assert undo_import(s, owner.actor, pid, first.import_id).removed == 0


def test_undo_removes_predictions_with_their_tasks(db, setup):
    owner, pid = setup
    rows = [
        {"data": {"text": f"p {i}"}, "predictions": [{"value": {"label": "pos"}, "score": 0.9}]}
        for i in range(3)
    ]
    result = do_import(db, owner, pid, rows)
    assert count_rows(db, Prediction) == 3
    with db.session() as s:
        assert undo_import(s, owner.actor, pid, result.import_id).removed == 3
    assert count_rows(db, Prediction) == 0


def test_undo_is_for_managers_of_the_project_only(db, setup):
    owner, pid = setup
    first = do_import(db, owner, pid, rows_named("a", 2))
    annotator = add_member(db, owner, Role.annotator)
    with db.session() as s, pytest.raises(PermissionDenied):
        undo_import(s, annotator.actor, pid, first.import_id)
    stranger = make_org(db, "Other lab")
    with db.session() as s, pytest.raises(NotFound):
        undo_import(s, stranger.actor, pid, first.import_id)
    other_pid = make_project(db, owner)
    with db.session() as s, pytest.raises(NotFound):  # the import belongs to another project
        undo_import(s, owner.actor, other_pid, first.import_id)
    assert len(task_ids(db, pid)) == 2


def test_api_lists_imports_newest_first_and_undoes_one(app, db, setup):
    owner, pid = setup
    ids = [do_import(db, owner, pid, rows_named(p, 3)).import_id for p in "abc"]
    c = token_client(app, db, owner)
    page = c.get(f"/api/projects/{pid}/imports", params={"limit": 2}).json()
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]]
    rest = c.get(f"/api/projects/{pid}/imports", params={"cursor": page["next_cursor"]}).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    r = c.delete(f"/api/projects/{pid}/imports/{ids[1]}/tasks")
    assert r.status_code == 200, r.text
    assert r.json() == {"import_id": ids[1], "removed": 3, "kept": 0}
    listed = {i["id"]: i for i in c.get(f"/api/projects/{pid}/imports").json()["items"]}
    assert listed[ids[1]]["removed"] == 3 and listed[ids[1]]["removed_at"]
    assert c.delete(f"/api/projects/{pid}/imports/999999/tasks").status_code == 404
    annotator = token_client(app, db, add_member(db, owner, Role.annotator))
    assert annotator.delete(f"/api/projects/{pid}/imports/{ids[0]}/tasks").status_code == 403
    assert annotator.get(f"/api/projects/{pid}/imports").status_code == 403
    stranger = token_client(app, db, make_org(db, "Other lab"))
    assert stranger.delete(f"/api/projects/{pid}/imports/{ids[0]}/tasks").status_code == 404
    assert len(task_ids(db, pid)) == 6


def test_cli_lists_and_undoes_imports(db, db_url, setup, tmp_path):
    owner, pid = setup
    first = do_import(db, owner, pid, rows_named("a", 4))

    def cli(*args, answer=None):
        return CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(tmp_path)],
            env={"LABELHOUSE_DATABASE_URL": db_url},
            input=answer,
            catch_exceptions=False,
        )

    listed = cli("imports", "list", str(pid))
    assert listed.exit_code == 0, listed.output
    assert "t.jsonl" in listed.output
    declined = cli("imports", "undo", str(pid), str(first.import_id), answer="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert len(task_ids(db, pid)) == 4  # nothing removed without a yes
    done = cli("imports", "undo", str(pid), str(first.import_id), answer="y\n")
    assert done.exit_code == 0, done.output
    assert "that nobody has been given or answered?" in " ".join(done.output.split())
    assert f"Removed 4 tasks of import {first.import_id}." in " ".join(done.output.split())
    missing = cli("imports", "undo", str(pid), "424242", "--yes")
    assert missing.exit_code == 1
    assert "Import 424242 does not exist in this project." in missing.output
    assert task_ids(db, pid) == {}


def test_a_task_leased_while_the_undo_waits_is_kept(db, setup):
    """The claim holds the task row when the undo arrives; once the claim commits, the undo
    must see the lease (PostgreSQL re-checks ``taken = 0`` on the updated row; SQLite's
    writers take turns) and keep that task."""
    import threading
    import time

    owner, pid = setup
    first = do_import(db, owner, pid, rows_named("a", 5))
    annotator = add_member(db, owner)
    results = []
    with db.session() as s:
        leased = queue.claim_next(s, annotator.actor, pid).task.id  # row locked, not committed

        def undo():
            with db.session() as s2:
                results.append(undo_import(s2, owner.actor, pid, first.import_id))

        worker = threading.Thread(target=undo)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive()  # waiting for the claim's transaction
    worker.join(timeout=30)
    assert (results[0].removed, results[0].kept) == (4, 1)
    assert list(task_ids(db, pid).values()) == [leased]
