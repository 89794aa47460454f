"""A project's name is unique within its organization, ignoring case (issue 14): two projects
named alike made every name-based command fail. Enforced by the service, so the API, the
pages and the CLI all refuse a duplicate (409, naming the project that has the name);
databases that already hold duplicates keep working, and the CLI lists the candidates'
ids when a name is ambiguous."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from labelhouse.accounts.models import ProjectMember, Role
from labelhouse.cli.main import app as cli_app
from labelhouse.errors import Conflict
from labelhouse.projects import service as projects
from labelhouse.projects.models import Project
from tests.factories import (
    CHOICE_SCHEMA,
    add_member,
    login,
    make_org,
    make_project,
    text_rows,
)
from tests.helpers_data import count_tasks, detached, flat, jsonl_bytes


def conflict(r: Any) -> str:
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "conflict"
    return error["message"]


def legacy_duplicate(db, project_id: int) -> int:
    """A second project with the same name, as databases made before the rule may hold
    (written past the service, the way the old code allowed)."""
    with db.session() as s:
        original = s.get(Project, project_id)
        copy = Project(
            organization_id=original.organization_id,
            name=original.name,
            schema_version=1,
            created_by_id=original.created_by_id,
        )
        s.add(copy)
        s.flush()
        from labelhouse.projects.models import SchemaVersion

        s.add(SchemaVersion(project_id=copy.id, version=1, document=CHOICE_SCHEMA))
        return copy.id


# -- creation and renaming over the API ----------------------------------------------------------


def test_creating_a_second_project_with_the_same_name_is_refused(db, app, owner):
    c = login(app, owner)
    first = c.post("/api/projects", json={"name": "Sentiment", "schema": CHOICE_SCHEMA}).json()
    for name in ("Sentiment", "  sentiment ", "SENTIMENT"):
        message = conflict(c.post("/api/projects", json={"name": name, "schema": CHOICE_SCHEMA}))
        assert message == (
            f"Project {first['id']} is already named 'Sentiment' (names are compared ignoring "
            f"case): choose another name, or rename project {first['id']} first."
        )
    assert [p.name for p in detached(db, select(Project))] == ["Sentiment"]


def test_an_archived_projects_name_is_taken_too(db, app, owner):
    c = login(app, owner)
    pid = make_project(db, owner, name="Old one")
    assert c.patch(f"/api/projects/{pid}", json={"archived": True}).status_code == 200
    message = conflict(c.post("/api/projects", json={"name": "old ONE", "schema": CHOICE_SCHEMA}))
    assert f"Project {pid} (archived) is already named 'Old one'" in message


def test_another_organization_may_use_the_name(db, owner):
    make_project(db, owner, name="Sentiment")
    other = make_org(db, "Other lab")
    assert make_project(db, other, name="Sentiment")


def test_renaming_onto_a_taken_name_is_refused(db, app, owner):
    c = login(app, owner)
    taken = make_project(db, owner, name="Taken")
    pid = make_project(db, owner, name="Mine")
    message = conflict(c.patch(f"/api/projects/{pid}", json={"name": " TAKEN"}))
    assert f"Project {taken} is already named 'Taken'" in message
    assert detached(db, select(Project.name).where(Project.id == pid)) == ["Mine"]
    # a project may change the case of its own name, and keep its name
    assert c.patch(f"/api/projects/{pid}", json={"name": "MINE"}).json()["name"] == "MINE"
    assert c.patch(f"/api/projects/{pid}", json={"name": "MINE", "overlap": 2}).status_code == 200


def test_settings_of_a_legacy_duplicate_can_still_be_saved(db, app, owner):
    """The settings form sends the name with every save: an unchanged name is no rename."""
    c = login(app, owner)
    pid = make_project(db, owner, name="Twin")
    twin = legacy_duplicate(db, pid)
    r = c.patch(f"/api/projects/{twin}", json={"name": "Twin", "lease_seconds": 300})
    assert r.status_code == 200, r.text
    conflict(c.patch(f"/api/projects/{twin}", json={"name": "twin"}))  # a real rename: no


def test_a_project_manager_is_not_told_about_projects_they_cannot_see(db, app, owner):
    hidden = make_project(db, owner, name="Secret", open_to_all=False)
    mine = make_project(db, owner, name="Mine", open_to_all=False)
    manager = add_member(db, owner, Role.annotator, join_projects=False)
    with db.session() as s:
        s.add(ProjectMember(project_id=mine, user_id=manager.user_id, role=Role.manager.value))
    c = login(app, manager)
    message = conflict(c.patch(f"/api/projects/{mine}", json={"name": "secret"}))
    assert message == (
        "Another project of the organization is already named 'Secret' (names are compared "
        "ignoring case): choose another name."
    )
    assert str(hidden) not in message


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(db_url, tmp_path):
    def run(*args: str):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(tmp_path / "cli-data")],
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    return run


def test_cli_projects_create_refuses_a_duplicate(db, cli, owner, tmp_path):
    pid = make_project(db, owner, name="Reviews")
    schema = tmp_path / "schema.json"
    schema.write_bytes(orjson.dumps(CHOICE_SCHEMA))
    result = cli("projects", "create", "reviews", "--schema", str(schema))
    assert result.exit_code == 1 and result.stdout == ""
    assert f"Error: Project {pid} is already named 'Reviews'" in flat(result.stderr)


def test_an_ambiguous_name_lists_the_candidates_and_the_id_works(db, cli, owner, tmp_path):
    pid = make_project(db, owner, name="Reviews")
    twin = legacy_duplicate(db, pid)
    f = tmp_path / "tasks.jsonl"
    f.write_bytes(jsonl_bytes(text_rows(2)))
    result = cli("import", "Reviews", str(f))
    assert result.exit_code == 1
    assert (
        f"Error: Several projects are named 'Reviews' (ids {pid}, {twin}): name the one you "
        f"mean by its id, e.g. {pid}."
    ) in flat(result.stderr)
    assert cli("import", str(twin), str(f)).exit_code == 0
    assert (count_tasks(db, pid), count_tasks(db, twin)) == (0, 2)


# -- two creations at once -----------------------------------------------------------------------


def test_two_creations_of_one_name_at_once_make_one_project(db, db_url, owner, backend):
    """PostgreSQL: the second creation waits at the organization's advisory lock until the
    first commits, then sees its project and is refused. (On SQLite, writers take turns at
    BEGIN IMMEDIATE: the same outcome, nothing to observe in between.)"""
    if backend != "postgresql":
        pytest.skip("SQLite's writers are serialised by BEGIN IMMEDIATE")
    first_created = threading.Event()
    release_first = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with db.session() as s:
            projects.create_project(s, owner.actor, name="Race", schema=CHOICE_SCHEMA)
            first_created.set()
            release_first.wait(30)  # holds the lock, uncommitted, until the second waits

    def second() -> None:
        try:
            with db.session() as s:
                projects.create_project(s, owner.actor, name="race", schema=CHOICE_SCHEMA)
            outcome["second"] = "created"
        except Conflict as exc:
            outcome["second"] = exc.message

    t1 = threading.Thread(target=first)
    t1.start()
    assert first_created.wait(30)
    t2 = threading.Thread(target=second)
    t2.start()
    watcher = create_engine(db_url)
    key = projects.NAME_LOCK_BASE + owner.organization_id
    try:
        waiting = 0
        for _ in range(300):  # until the second creation waits for the advisory lock
            with watcher.connect() as conn:
                waiting = conn.scalar(
                    text(  # a bigint key shows as classid (high half), objid (low), 1
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT "
                        "granted AND classid::bigint = :high AND objid::bigint = :low "
                        "AND objsubid = 1"
                    ),
                    {"high": key >> 32, "low": key & 0xFFFFFFFF},
                )
            if waiting or not t2.is_alive():
                break
            t2.join(0.02)
    finally:
        release_first.set()
        t1.join(30)
        t2.join(30)
        watcher.dispose()
    assert waiting == 1, "the second creation did not wait for the first"
    assert outcome["second"].startswith("Project ") and "already named 'Race'" in outcome["second"]
    assert detached(db, select(Project.name)) == ["Race"]


def test_the_demo_skips_a_project_whose_name_differs_only_in_case(db, owner, tmp_path):
    """serve --demo would otherwise stop at the refused duplicate."""
    from labelhouse.demo import BOXES_PROJECT, DEMO_PROJECTS, load_demo
    from labelhouse.storage import LocalStorage

    taken = DEMO_PROJECTS[0]["name"].upper()
    make_project(db, owner, name=taken)
    with db.session() as s:
        made = [p.name for p in load_demo(s, owner.actor, LocalStorage(tmp_path / "files"))]
    assert made == [spec["name"] for spec in [*DEMO_PROJECTS[1:], BOXES_PROJECT]]
