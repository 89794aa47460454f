"""``labelhouse tasks prioritize``: priorities from a CSV or JSON-lines file (both databases)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.factories import add_tasks, make_project, text_rows


@pytest.fixture
def cli(db_url, tmp_path):
    def run(*args: str):
        return CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(tmp_path / "cli-data")],
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
            catch_exceptions=False,
        )

    return run


def priorities(db, pid: int) -> dict[str, tuple[int, float]]:
    with db.read_session() as s:
        rows = s.execute(
            select(Task.external_id, Task.priority, Task.queue_rank).where(Task.project_id == pid)
        )
        return {ext: (p, rank) for ext, p, rank in rows}


def test_prioritize_from_csv_and_jsonl(db, owner, cli, tmp_path):
    pid = make_project(db, owner, name="Triage")
    add_tasks(db, owner, pid, text_rows(4))
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("external_id,priority\nt1,5\nt3,-2\n")
    result = cli("tasks", "prioritize", "Triage", str(csv_file))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Set the priority of 2 tasks.\n"
    assert "queue order is 'default'" in result.stderr  # a hint, not a result
    assert priorities(db, pid) == {"t0": (0, 0), "t1": (5, 0), "t2": (0, 0), "t3": (-2, 0)}

    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"queue_order": "priority"})
    jsonl_file = tmp_path / "p.jsonl"
    jsonl_file.write_text('{"external_id": "t2", "priority": 7}\n')
    result = cli("tasks", "prioritize", str(pid), str(jsonl_file))
    assert result.exit_code == 0 and result.stderr == ""
    assert priorities(db, pid) == {"t0": (0, 0), "t1": (5, -5), "t2": (7, -7), "t3": (-2, 2)}


def test_prioritize_refuses_a_bad_file_with_a_sentence(db, owner, cli, tmp_path):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    for name, text, sentence in [
        ("a.csv", "external_id,priority\nt0,high\n", "a.csv line 2: priority must be an integer"),
        ("b.csv", "external_id\nt0\n", "needs a header naming priority"),
        ("c.jsonl", '{"external_id": "t9", "priority": 1}\n', "no task with external_id 't9'"),
        ("d.jsonl", "{not json\n", "d.jsonl line 1 is not JSON"),
    ]:
        (tmp_path / name).write_text(text)
        result = cli("tasks", "prioritize", str(pid), str(tmp_path / name))
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert sentence in " ".join(result.stderr.split()), result.stderr
        assert "Traceback" not in result.output
    assert {p for p, _ in priorities(db, pid).values()} == {0}


def test_prioritize_json_on_stdout_and_the_note_on_stderr(db, owner, cli, tmp_path):
    pid = make_project(db, owner, name="Triage json")
    add_tasks(db, owner, pid, text_rows(3))
    jsonl_file = tmp_path / "p.jsonl"
    jsonl_file.write_text('{"external_id": "t0", "priority": 3}\n{"task_id": 0, "priority": 1}\n')
    bad = cli("tasks", "prioritize", str(pid), str(jsonl_file), "--json")
    assert bad.exit_code == 1 and bad.stdout == ""  # errors stay on stderr with --json too
    assert "no task with task_id 0" in " ".join(bad.stderr.split())

    jsonl_file.write_text(
        '{"external_id": "t0", "priority": 3}\n{"external_id": "t2", "priority": 1}\n'
    )
    result = cli("tasks", "prioritize", "Triage json", str(jsonl_file), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "project_id": pid,
        "project": "Triage json",
        "updated": 2,
        "queue_order": "default",
        "in_effect": False,
    }
    assert "queue order is 'default'" in result.stderr
    assert priorities(db, pid)["t0"] == (3, 0)
