"""Where the command line's output goes: results (tables, ids, one-time passwords, JSON, the
file an export wrote) on standard output, progress, notes and errors on standard error, so
``PW=$(labelhouse users create …)`` and ``labelhouse imports list P | …`` capture the result
and nothing else. Every command with ``--json`` prints one JSON document with ISO times."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import typer.main
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts import passwords
from labelhouse.accounts.models import User
from labelhouse.cli.main import app as cli_app
from labelhouse.config import Settings
from labelhouse.db.engine import open_database
from labelhouse.jobs.exports import request_snapshot
from labelhouse.models_loop import endpoints as model_endpoints
from labelhouse.people import teams, workforces
from labelhouse.rubrics import service as rubrics
from tests.factories import CHOICE_SCHEMA, make_org, make_project, text_rows
from tests.helpers_data import detached, jsonl_bytes

LABEL_STUDIO = Path(__file__).resolve().parent.parent / "fixtures" / "label_studio"

CLI = "import sys; from labelhouse.cli.main import app; sys.exit(app())"  # the console script


@pytest.fixture
def cli(db_url, tmp_path):
    data_dir = tmp_path / "cli-data"

    def run(*args: str, env: dict[str, str] | None = None):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(data_dir)],
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200", **(env or {})},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    return run


def console_script(*args: str, db_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The real entry point in its own process, as a shell runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELHOUSE_")}
    env.update(LABELHOUSE_DATABASE_URL=db_url, LABELHOUSE_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=env, timeout=120
    )


def iso_times(rows: list[dict], *keys: str) -> None:
    for row in rows:
        for key in keys:
            if row[key] is not None:
                assert datetime.fromisoformat(row[key]).isoformat(timespec="seconds") == row[key]


# -- one-time passwords and ids ------------------------------------------------------------------


def test_users_create_prints_only_the_one_time_password_on_stdout(db, db_url, tmp_path):
    """What `PW=$(labelhouse users create …)` captures, in a real process."""
    first = console_script("users", "create", "boss@lab.org", db_url=db_url, data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    second = console_script(
        "users", "create", "ann@lab.org", "--role", "annotator", db_url=db_url, data_dir=tmp_path
    )
    assert second.returncode == 0, second.stderr
    for run, email in ((first, "boss@lab.org"), (second, "ann@lab.org")):
        [password] = run.stdout.splitlines()
        assert f"Created {email}" in run.stderr and password not in run.stderr
        [user] = detached(db, select(User).where(User.email == email))
        assert passwords.verify_password(user.password_hash, password)
        assert user.must_change_password


def test_projects_create_prints_the_id_and_a_note(db, cli, owner, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_bytes(orjson.dumps(CHOICE_SCHEMA))
    result = cli("projects", "create", "Sentiment", "--schema", str(schema))
    assert result.exit_code == 0
    assert result.stdout.strip().isdigit()
    assert "Created project 'Sentiment'" in result.stderr


def test_serve_prints_the_first_owners_one_time_password_on_stdout(tmp_path, sqlite_template):
    """serve's only result: everything else it says (where it listens) is on stderr."""
    shutil.copy(sqlite_template, tmp_path / "labelhouse.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELHOUSE_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--port", "0"],
        env={**env, "LABELHOUSE_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stop = threading.Timer(120, os.killpg, (proc.pid, signal.SIGKILL))  # whatever happens
    stop.start()
    said = ""
    try:
        while "Labelhouse on" not in said:  # printed once the owner exists
            line = proc.stderr.readline()
            assert line, f"serve ended early: {said}"
            said += line
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        printed, _ = proc.communicate(timeout=60)
        stop.cancel()
    [password] = printed.splitlines()
    assert "Created the owner account owner@example.com" in said and password not in said
    db = open_database(f"sqlite:///{tmp_path / 'labelhouse.db'}")
    try:
        [owner] = detached(db, select(User))
    finally:
        db.dispose()
    assert passwords.verify_password(owner.password_hash, password)


# -- listings ----------------------------------------------------------------------------------


def test_projects_list_table_and_json(db, cli, owner):
    pid = make_project(db, owner, name="Reviews", overlap=2)
    other = make_org(db, "Other lab")
    oid = make_project(db, other, name="Reviews")  # another organization may use the name
    table = cli("projects", "list")
    assert table.exit_code == 0 and table.stderr == ""
    assert table.stdout.splitlines() == [
        f"{pid}\tReviews\toverlap=2\tschema v1",
        f"{oid}\tReviews\toverlap=1\tschema v1",
    ]
    found = json.loads(cli("projects", "list", "--json").stdout)
    assert [(p["id"], p["organization_id"]) for p in found] == [
        (pid, owner.organization_id),
        (oid, other.organization_id),
    ]
    assert set(found[0]) == {
        "id",
        "name",
        "organization_id",
        "overlap",
        "schema_version",
        "archived",
        "created_at",
    }
    iso_times(found, "created_at")
    only = json.loads(
        cli("projects", "list", "--json", "--organization", str(other.organization_id)).stdout
    )
    assert [p["id"] for p in only] == [oid]


def test_imports_list_goes_to_stdout_for_pipes(db, cli, owner, tmp_path):
    """`labelhouse imports list P | …` used to capture nothing: the table was on stderr."""
    pid = make_project(db, owner, name="Reviews")
    empty = cli("imports", "list", "Reviews")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "No imports into project 'Reviews' yet." in empty.stderr
    f = tmp_path / "tasks.jsonl"
    f.write_bytes(jsonl_bytes(text_rows(3)))
    imported = cli("import", "Reviews", str(f))
    assert imported.stdout.strip() == (
        "Imported 3 new tasks from 3 rows (0 already present, 0 rejected)."
    )
    assert "Importing tasks.jsonl" in imported.stderr  # the progress bar
    table = cli("imports", "list", str(pid))
    assert table.exit_code == 0 and table.stderr == ""
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "ID",
        "WHEN",
        "(UTC)",
        "FILE",
        "ROWS",
        "NEW",
        "DUP.",
        "REJ.",
        "REMOVED",
    ]
    assert row.split()[3:] == ["tasks.jsonl", "3", "3", "0", "0", "0"]
    [record] = json.loads(cli("imports", "list", "Reviews", "--json").stdout)
    assert {k: record[k] for k in ("project_id", "filename", "rows", "created", "removed")} == {
        "project_id": pid,
        "filename": "tasks.jsonl",
        "rows": 3,
        "created": 3,
        "removed": 0,
    }
    iso_times([record], "created_at", "removed_at")
    undone = cli("imports", "undo", "Reviews", str(record["id"]), "--yes")
    assert undone.stdout.strip() == f"Removed 3 tasks of import {record['id']}."


def test_export_data_on_stdout_unless_written_to_a_file(db, cli, owner, tmp_path):
    make_project(db, owner, name="Reviews")
    f = tmp_path / "tasks.jsonl"
    f.write_bytes(jsonl_bytes(text_rows(2)))
    assert cli("import", "Reviews", str(f)).exit_code == 0
    piped = cli("export", "Reviews")
    assert [orjson.loads(line)["data"]["text"] for line in piped.stdout.splitlines()] == [
        "item 0",
        "item 1",
    ]
    assert "Exporting Reviews" in piped.stderr
    out = tmp_path / "labels.jsonl"
    written = cli("export", "Reviews", "-o", str(out))
    assert written.stdout == ""  # the file is the result; a note says where it went
    assert f"Wrote {out.stat().st_size:,} bytes to {out}" in " ".join(written.stderr.split())
    assert out.read_bytes() == piped.stdout_bytes


def leaf_commands() -> dict[tuple[str, ...], object]:
    found = {}

    def walk(command, words):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, (*words, name))
        else:
            found[words] = command

    walk(typer.main.get_command(cli_app), ())
    return found


def json_commands() -> list[tuple[str, ...]]:
    return [
        words
        for words, command in leaf_commands().items()
        if any("--json" in p.opts for p in command.params)
    ]


LISTINGS = {
    ("projects", "list"),
    ("imports", "list"),
    ("users", "list"),
    ("members", "list"),
    ("workforces", "list"),
    ("route", "show"),
    ("rubrics", "list"),
}


def test_every_listing_has_json():
    assert set(json_commands()) >= LISTINGS


@pytest.mark.parametrize("words", json_commands(), ids=" ".join)
def test_json_is_one_document_on_stdout(words, db, cli, owner, tmp_path):
    """Every command with --json (found in the app): one document that parses, with
    something in it, and nothing else on stdout."""
    pid = make_project(db, owner, name="Reviews")
    f = tmp_path / "tasks.jsonl"
    f.write_bytes(jsonl_bytes(text_rows(2)))
    assert cli("import", "Reviews", str(f)).exit_code == 0
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name="Crew")
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor", currency="EUR")
        _, job = request_snapshot(s, owner.actor, pid, formats=["jsonl"])  # a job, a snapshot
        job_id = job.id
        model_endpoints.create_endpoint(  # a model endpoint (without an API key)
            s, owner.actor, Settings(), name="m", kind="openai", url="https://x.org/v1", model="m"
        )
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(
        jsonl_bytes([{"external_id": "t0", "annotator": "worker-1", "value": {"label": "pos"}}])
    )
    with db.session() as s:
        rubrics.create_rubric(s, owner.actor, name="Guide", criteria=[{"name": "clarity"}])
    rubric_file = tmp_path / "rubric.yaml"
    rubric_file.write_text("name: From a file\ncriteria:\n- {name: tone, min: 1, max: 3}\n")
    priorities = tmp_path / "priorities.jsonl"
    priorities.write_bytes(jsonl_bytes([{"external_id": "t1", "priority": 4}]))
    # What each required parameter is given: something that exists in this world.
    given = {
        "rubric": "Guide",
        ("rubrics", "create", "file"): str(rubric_file),
        ("rubrics", "add-version", "file"): str(rubric_file),
        ("tasks", "prioritize", "file"): str(priorities),
        "project": "Reviews",
        ("label-studio", "import", "project"): "From Label Studio",  # a project to create
        "file": str(answers),
        "export": str(LABEL_STUDIO / "classification.export.json"),
        "config": str(LABEL_STUDIO / "classification.config.xml"),
        "job_id": str(job_id),
    }
    command = leaf_commands()[words]
    args: list[str] = []
    for p in command.params:
        if p.required:
            value = given.get((*words, p.name), given.get(p.name, "x"))
            args += [p.opts[0], value] if p.param_type_name == "option" else [value]
    result = cli(*words, *args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout), f"{' '.join(words)} --json printed an empty document"
