"""``labelhouse db check [--deep] [--repair] [--json]`` and ``audit-verify`` on healthy and
damaged databases: results on stdout, exit status 1 while a problem remains, and a sentence
(never a traceback) for a damaged file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.db.test_integrity import damage, populated
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows


def run(url: str, data_dir: Path, *args: str):
    return CliRunner().invoke(
        cli_app,
        [*args, "--data-dir", str(data_dir)],
        env={"LABELHOUSE_DATABASE_URL": url},
        catch_exceptions=False,  # a traceback fails the test
    )


@pytest.fixture
def cli(db_url, tmp_path):
    return lambda *args: run(db_url, tmp_path / "cli-data", *args)


@pytest.fixture
def worked(db):
    """A project with a few claims: counters that mean something."""
    owner = make_org(db)
    pid = make_project(db, owner, name="Reviews", overlap=2)
    add_tasks(db, owner, pid, text_rows(5))
    for _ in range(2):
        member = add_member(db, owner)
        with db.session() as s:
            queue.claim_next(s, member.actor, pid)
    return pid


def test_deep_check_of_a_healthy_database_passes(db, cli, worked):
    result = cli("db", "check", "--deep")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Storage: no damage found in ")
    assert "No differences between models and database." in result.stdout
    assert "Work queue: 14 rules over 5 tasks: all hold." in result.stdout
    assert "Checked the work queue in" in result.stderr


def test_wrong_counters_fail_the_check_and_repair_fixes_them(db, cli, worked):
    with db.read_session() as s:
        first = s.query(Task.id).filter(Task.project_id == worked).order_by(Task.id).first()[0]
    with db.engine.begin() as c:
        c.execute(update(Task).where(Task.id == first).values(taken=7, done=3))

    result = cli("db", "check", "--deep")
    assert result.exit_code == 1
    assert f"project {worked} (Reviews), task_taken: 1 row breaks" in result.stdout
    assert f"task {first}: taken 7, rows say 2" in result.stdout
    assert f"task {first}: done 3, rows say 0" in result.stdout
    assert "labelhouse db check --repair" in result.stdout

    as_json = orjson.loads(cli("db", "check", "--deep", "--json").stdout)
    assert as_json["ok"] is False
    assert {
        (v["check"], v["project_id"], tuple(v["task_ids"])) for v in as_json["queue"]["violations"]
    } == {
        ("task_taken", worked, (first,)),
        ("task_done", worked, (first,)),
    }

    repaired = cli("db", "check", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert f"Repaired project {worked} (Reviews): 1 × task.taken, 1 × task.done." in (
        repaired.stdout
    )
    assert "After the repair:\nWork queue: 14 rules over 5 tasks: all hold." in repaired.stdout
    assert cli("db", "check", "--deep").exit_code == 0
    with db.read_session() as s:
        assert s.get(Task, first).taken == 2 and s.get(Task, first).done == 0


def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("damages a SQLite file")


def test_a_damaged_page_fails_the_deep_check_with_what_to_do(db, backend, tmp_path):
    sqlite_only(backend)
    path = populated(db)
    damage(path, "task", 2000, b"\x00" * 2000)
    result = run(f"sqlite:///{path}", tmp_path, "db", "check", "--deep")
    assert result.exit_code == 1
    assert "Storage: DAMAGED (SQLite integrity_check" in result.stdout
    assert "(table task)" in result.stdout
    assert f"sqlite3 {path} .recover" in result.stdout
    repair = run(f"sqlite:///{path}", tmp_path, "db", "check", "--repair")
    assert repair.exit_code == 1
    assert "Repair: not attempted." in repair.stdout


def test_a_damaged_header_is_a_sentence_for_every_check(db, backend, tmp_path):
    sqlite_only(backend)
    path = populated(db)
    with path.open("r+b") as f:
        f.write(b"not a database!!")
    url = f"sqlite:///{path}"
    deep = run(url, tmp_path, "db", "check", "--deep")
    assert deep.exit_code == 1
    assert f"{path} is not a SQLite database" in deep.stdout
    for args in (("db", "check"), ("audit-verify",)):
        result = run(url, tmp_path, *args)
        assert result.exit_code == 1, args
        assert "is not a SQLite database" in result.stderr
        assert "restore the newest backup" in " ".join(result.stderr.split())


def test_a_check_never_migrates_it_says_to_upgrade(backend, tmp_path):
    sqlite_only(backend)
    path = tmp_path / "new.db"
    result = run(f"sqlite:///{path}", tmp_path, "db", "check", "--deep")
    assert result.exit_code == 1
    assert "Schema: the database is at revision none" in result.stdout
    assert "run `labelhouse db upgrade`" in result.stdout
    assert "Work queue: not checked" in result.stdout
    with sqlite3.connect(path) as conn:  # still empty: the check created no table
        assert conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone() == (0,)
