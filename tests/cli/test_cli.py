"""The ``labelhouse`` command line against the test database (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Membership, Organization, Role, User
from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from labelhouse.projects.models import Project, SchemaVersion
from labelhouse.tasks.models import StoredFile, TaskImport
from tests.factories import (
    CHOICE_SCHEMA,
    PASSWORD,
    add_member,
    login,
    make_org,
    make_project,
    text_rows,
)
from tests.helpers_data import (
    BOXES_SCHEMA,
    count_rows,
    count_tasks,
    csv_bytes,
    detached,
    flat,
    json_bytes,
    jsonl_bytes,
    parquet_bytes,
    png_bytes,
    tasks_of,
)


@pytest.fixture
def cli(db_url, tmp_path):
    data_dir = tmp_path / "cli-data"

    def run(*args: str):
        return CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(data_dir)],
            env={"LABELHOUSE_DATABASE_URL": db_url},
            catch_exceptions=False,
        )

    run.data_dir = data_dir
    return run


def squash(text: str) -> str:
    """Drop all whitespace (rich folds long paths across lines)."""
    return "".join(text.split())


@pytest.fixture
def project(db, owner):
    return make_project(db, owner, name="Reviews")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- import ------------------------------------------------------------------------------------


def test_import_by_id_shows_progress_and_a_summary(db, cli, tmp_path, project):
    f = write(tmp_path / "tasks.jsonl", jsonl_bytes(text_rows(5)))
    result = cli("import", str(project), str(f))
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Importing tasks.jsonl" in out and "5 rows" in out
    assert "Imported 5 new tasks from 5 rows (0 already present, 0 rejected)." in out
    assert [t.data["text"] for t in tasks_of(db, project)] == [f"item {i}" for i in range(5)]
    [record] = detached(db, select(TaskImport))
    assert (record.filename, record.created) == ("tasks.jsonl", 5)


def test_import_by_name_and_again_adds_nothing(db, cli, tmp_path, project):
    f = write(tmp_path / "tasks.jsonl", jsonl_bytes(text_rows(3)))
    assert cli("import", "Reviews", str(f)).exit_code == 0
    result = cli("import", "Reviews", str(f))
    assert result.exit_code == 0, result.output
    assert "Imported 0 new tasks from 3 rows (3 already present, 0 rejected)." in flat(
        result.output
    )
    assert count_tasks(db, project) == 3


@pytest.mark.parametrize("ref", ["99999999999999999999999", "²", "0"])
def test_a_project_reference_that_cannot_be_an_id_is_looked_up_as_a_name(
    db, cli, tmp_path, project, ref
):
    """A number past a 64-bit id (a driver overflow before) or a digit that int() refuses
    is simply a name nobody gave a project."""
    f = write(tmp_path / "tasks.jsonl", jsonl_bytes(text_rows(1)))
    result = cli("import", ref, str(f))
    assert result.exit_code == 1, result.output
    assert f"No project with id or name '{ref}'" in flat(result.output)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("t.json", json_bytes(text_rows(4))),
        ("t.csv", csv_bytes(text_rows(4))),
        ("t.parquet", parquet_bytes(text_rows(4))),
    ],
)
def test_import_every_format(db, cli, tmp_path, project, name, data):
    result = cli("import", str(project), str(write(tmp_path / name, data)))
    assert result.exit_code == 0, result.output
    assert sorted(t.external_id for t in tasks_of(db, project)) == ["t0", "t1", "t2", "t3"]


def test_import_with_an_explicit_format(db, cli, tmp_path, project):
    f = write(tmp_path / "tasks.txt", jsonl_bytes(text_rows(2)))
    assert cli("import", str(project), str(f)).exit_code == 1  # cannot guess from .txt
    result = cli("import", str(project), str(f), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert count_tasks(db, project) == 2


def test_a_bad_file_exits_1_naming_the_line_and_stores_nothing(db, cli, tmp_path, project):
    rows = jsonl_bytes(text_rows(3)) + b'{"body": "no text"}\n' + jsonl_bytes(text_rows(2, start=9))
    f = write(tmp_path / "bad.jsonl", rows)
    result = cli("import", str(project), str(f))
    assert result.exit_code == 1
    out = flat(result.output)
    assert "Error: Nothing was imported: bad.jsonl, line 4: missing key 'text'" in out
    assert "line 4: missing key 'text' (read by field 'label')" in out
    assert count_tasks(db) == 0
    assert count_rows(db, TaskImport) == 0
    assert not (tmp_path / "bad.jsonl.rejected.jsonl").exists()


def test_a_malformed_json_file_exits_1(db, cli, tmp_path, project):
    f = write(tmp_path / "bad.json", b'[{"text": "a"}, {"text": ')
    result = cli("import", str(project), str(f))
    assert result.exit_code == 1
    assert "item 2" in flat(result.output) and "not valid JSON" in flat(result.output)
    assert count_tasks(db) == 0


def test_skip_invalid_writes_rejected_rows_with_reasons(db, cli, tmp_path, project):
    data = (
        b'{"text": "good 1"}\n{"body": "no text"}\n{not json\n{"text": "good 2"}\n["a", "list"]\n'
    )
    f = write(tmp_path / "mixed.jsonl", data)
    rejected = tmp_path / "out" / "rejected.jsonl"
    rejected.parent.mkdir()
    result = cli("import", str(project), str(f), "--skip-invalid", "--rejected", str(rejected))
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Imported 2 new tasks from 5 rows (0 already present, 3 rejected)." in out
    assert squash(str(rejected)) in squash(result.output)
    lines = [orjson.loads(line) for line in rejected.read_bytes().splitlines()]
    assert [line["where"] for line in lines] == ["line 2", "line 3", "line 5"]
    assert all(set(line) == {"where", "problems", "row"} for line in lines)
    assert lines[0]["row"] == {"body": "no text"}
    assert "missing key 'text'" in lines[0]["problems"][0]
    assert lines[1]["row"] is None and "not valid JSON" in lines[1]["problems"][0]
    assert lines[2]["row"] == ["a", "list"]
    assert [t.data["text"] for t in tasks_of(db, project)] == ["good 1", "good 2"]


def test_skip_invalid_defaults_the_rejected_file_next_to_the_input(db, cli, tmp_path, project):
    f = write(tmp_path / "in.csv", b"text,lang\nok,en\nshort\n")
    result = cli("import", str(project), str(f), "--skip-invalid")
    assert result.exit_code == 0, result.output
    [line] = (tmp_path / "in.csv.rejected.jsonl").read_bytes().splitlines()
    assert orjson.loads(line) == {
        "where": "line 3",
        "problems": ["has 1 cells but the header has 2"],
        "row": None,
    }
    assert count_tasks(db, project) == 1


def test_skip_invalid_without_rejections_writes_no_file(db, cli, tmp_path, project):
    f = write(tmp_path / "fine.jsonl", jsonl_bytes(text_rows(2)))
    assert cli("import", str(project), str(f), "--skip-invalid").exit_code == 0
    assert not (tmp_path / "fine.jsonl.rejected.jsonl").exists()


def test_a_repeated_external_id_fails_or_goes_to_the_rejected_file(db, cli, tmp_path, project):
    rows = [
        {"external_id": "a1", "text": "first"},
        {"external_id": "b", "text": "b"},
        {"external_id": "a1", "text": "again"},
    ]
    f = write(tmp_path / "dups.jsonl", jsonl_bytes(rows))
    result = cli("import", str(project), str(f))
    assert result.exit_code == 1
    assert "line 3: external_id 'a1' already appears on line 1 of this file" in flat(result.output)
    assert count_tasks(db, project) == 0
    result = cli("import", str(project), str(f), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "Imported 2 new tasks from 3 rows (0 already present, 1 rejected)." in flat(
        result.output
    )
    [line] = (tmp_path / "dups.jsonl.rejected.jsonl").read_bytes().splitlines()
    assert orjson.loads(line) == {
        "where": "line 3",
        "problems": ["external_id 'a1' already appears on line 1 of this file"],
        "row": rows[2],
    }
    again = cli("import", str(project), str(f), "--skip-invalid")  # idempotent
    assert "Imported 0 new tasks from 3 rows (2 already present, 1 rejected)." in flat(again.output)


def test_import_into_an_unknown_project_fails(db, cli, tmp_path, owner):
    f = write(tmp_path / "t.jsonl", jsonl_bytes(text_rows(1)))
    result = cli("import", "Nope", str(f))
    assert result.exit_code == 1
    assert "No project with id or name 'Nope'" in flat(result.output)


def test_import_of_a_missing_file_is_a_usage_error(db, cli, tmp_path, project):
    result = cli("import", str(project), str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 2
    assert count_tasks(db) == 0


def test_import_files_uploads_images_for_a_boxes_project(db, cli, tmp_path, owner):
    pid = make_project(db, owner, schema=BOXES_SCHEMA, name="Pets")
    images = tmp_path / "images"
    images.mkdir()
    write(images / "cat.png", png_bytes(40, 30))
    write(images / "dog.png", png_bytes(16, 12))
    write(images / ".DS_Store", b"junk the CLI must skip")
    f = write(
        tmp_path / "pets.jsonl",
        jsonl_bytes([{"image": "cat.png", "external_id": "c"}, {"image": "dog.png"}]),
    )
    result = cli("import", "Pets", str(f), "--files", str(images))
    assert result.exit_code == 0, result.output
    assert "Uploading images" in flat(result.output)
    stored = detached(db, select(StoredFile).order_by(StoredFile.name))
    assert [(s.name, s.width, s.height) for s in stored] == [
        ("cat.png", 40, 30),
        ("dog.png", 16, 12),
    ]
    storage = (cli.data_dir / "files").resolve()
    for s in stored:
        assert (storage / s.storage_key).read_bytes() == (images / s.name).read_bytes()
    assert [t.data for t in tasks_of(db, pid)] == [
        {"image": "cat.png", "image_width": 40, "image_height": 30},
        {"image": "dog.png", "image_width": 16, "image_height": 12},
    ]
    again = cli("import", "Pets", str(f), "--files", str(images))  # idempotent, files included
    assert again.exit_code == 0, again.output
    assert count_rows(db, StoredFile) == 2 and count_tasks(db, pid) == 2


def test_import_files_uploads_only_the_files_rows_refer_to(db, cli, tmp_path, owner):
    """An unreferenced file in the folder (an image or not) is named on stderr, not uploaded:
    it used to abort the whole import when it was not an image."""
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    images = tmp_path / "images"
    images.mkdir()
    write(images / "a.png", png_bytes())
    write(images / "b.png", png_bytes())
    write(images / "notes.txt", b"not an image")
    rows = [{"image": "a.png"}, {"data": {"image": "a.png"}, "external_id": "again"}]
    f = write(tmp_path / "t.jsonl", jsonl_bytes(rows))
    result = cli("import", str(pid), str(f), "--files", str(images))
    assert result.exit_code == 0, result.output
    assert squash(
        f"2 files in {images} are not uploaded: no row refers to them: b.png, notes.txt"
    ) in squash(result.stderr)
    assert [s.name for s in detached(db, select(StoredFile))] == ["a.png"]
    assert count_tasks(db, pid) == 2


def test_import_files_with_a_referenced_non_image_fails(db, cli, tmp_path, owner):
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    images = tmp_path / "images"
    images.mkdir()
    write(images / "a.png", png_bytes())
    write(images / "notes.txt", b"not an image")
    f = write(tmp_path / "t.jsonl", jsonl_bytes([{"image": "a.png"}, {"image": "notes.txt"}]))
    result = cli("import", str(pid), str(f), "--files", str(images))
    assert result.exit_code == 1
    assert "'notes.txt' is not a readable image" in flat(result.output)
    assert count_rows(db, StoredFile) == 0
    assert count_tasks(db, pid) == 0


def test_import_files_into_a_project_without_media_names_every_file(db, cli, tmp_path, project):
    images = tmp_path / "images"
    images.mkdir()
    write(images / "a.png", png_bytes())
    f = write(tmp_path / "t.jsonl", jsonl_bytes(text_rows(2)))
    result = cli("import", str(project), str(f), "--files", str(images))
    assert result.exit_code == 0, result.output
    assert squash(f"1 file in {images} is not uploaded: no row refers to it: a.png") in squash(
        result.stderr
    )
    assert "Uploading images" not in result.stderr
    assert count_rows(db, StoredFile) == 0
    assert count_tasks(db, project) == 2


def test_import_files_needs_a_task_file_it_can_read_twice(db, cli, tmp_path, owner):
    import os

    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    images = tmp_path / "images"
    images.mkdir()
    pipe = tmp_path / "tasks.jsonl"
    os.mkfifo(pipe)
    result = cli("import", str(pid), str(pipe), "--files", str(images))
    assert result.exit_code == 1
    assert "must be a regular file: it is read twice" in flat(result.output)


def test_a_boxes_import_without_the_files_fails_clearly(db, cli, tmp_path, owner):
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    f = write(tmp_path / "t.jsonl", jsonl_bytes([{"image": "cat.png"}]))
    result = cli("import", str(pid), str(f))
    assert result.exit_code == 1
    assert "'cat.png', which is not uploaded to this project" in flat(result.output)
    assert "labelhouse import --files DIR" in flat(result.output)


# -- users -------------------------------------------------------------------------------------


def test_users_create_adds_a_member_who_can_log_in(app, db, cli, owner):
    result = cli(
        "users", "create", "New.Person@Example.com", "--role", "manager", "--password", PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert "Created new.person@example.com" in flat(result.output)
    assert "one-time password" not in result.output
    with db.read_session() as s:
        user = s.scalar(select(User).where(User.email == "new.person@example.com"))
        role = s.scalar(select(Membership.role).where(Membership.user_id == user.id))
        org = s.scalar(select(Membership.organization_id).where(Membership.user_id == user.id))
    assert (role, org) == ("manager", owner.actor.organization_id)
    client = login(app, replace(owner, email="new.person@example.com"))
    assert client.get("/api/me").json()["role"] == "manager"


def test_users_create_generates_a_one_time_password(db, cli, owner):
    result = cli("users", "create", "gen@example.com")
    assert result.exit_code == 0, result.output
    assert "one-time password" in flat(result.output)
    with db.read_session() as s:
        user = s.scalar(select(User).where(User.email == "gen@example.com"))
        assert user.must_change_password
        assert s.scalar(select(Membership.role).where(Membership.user_id == user.id)) == "annotator"


def test_the_first_user_becomes_the_owner_of_a_new_organization(db, cli):
    result = cli("users", "create", "first@example.com", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    with db.read_session() as s:
        assert s.scalar(select(Organization.name)) == "My lab"
        assert s.scalar(select(Membership.role)) == Role.owner.value


def test_users_create_twice_fails(db, cli, owner):
    assert cli("users", "create", "dup@example.com", "--password", PASSWORD).exit_code == 0
    result = cli("users", "create", "dup@example.com", "--password", PASSWORD)
    assert result.exit_code == 1
    assert "already a member" in flat(result.output)


def test_users_create_rejects_an_unknown_role(db, cli, owner):
    result = cli("users", "create", "x@example.com", "--role", "emperor")
    assert result.exit_code == 2
    assert count_rows(db, User) == 1


# -- projects ---------------------------------------------------------------------------------


def test_projects_create_from_a_json_schema(db, cli, tmp_path, owner):
    schema = write(tmp_path / "schema.json", orjson.dumps(CHOICE_SCHEMA))
    result = cli("projects", "create", "Sentiment", "--schema", str(schema), "--overlap", "3")
    assert result.exit_code == 0, result.output
    pid = int(result.stdout.strip())
    [project] = detached(db, select(Project).where(Project.id == pid))
    assert (project.name, project.overlap, project.organization_id) == (
        "Sentiment",
        3,
        owner.actor.organization_id,
    )
    [version] = detached(db, select(SchemaVersion).where(SchemaVersion.project_id == pid))
    assert version.version == 1
    assert version.document["fields"][0]["name"] == "label"


def test_projects_create_from_a_yaml_schema_then_import(db, cli, tmp_path, owner):
    schema = write(tmp_path / "schema.yaml", yaml.safe_dump(CHOICE_SCHEMA).encode())
    result = cli("projects", "create", "From YAML", "--schema", str(schema))
    assert result.exit_code == 0, result.output
    pid = int(result.stdout.strip())
    f = write(tmp_path / "t.jsonl", jsonl_bytes(text_rows(2)))
    assert cli("import", "From YAML", str(f)).exit_code == 0
    assert count_tasks(db, pid) == 2
    listing = cli("projects", "list")
    assert listing.exit_code == 0
    assert f"{pid}\tFrom YAML\toverlap=1\tschema v1" in listing.stdout


def test_projects_create_with_an_invalid_schema_lists_every_problem(db, cli, tmp_path, owner):
    bad = {
        "fields": [
            {"name": "label", "kind": "checkbox"},
            {"name": "rating", "kind": "rating", "min": 5, "max": 1},
            {"name": "spans", "kind": "spans"},
        ]
    }
    schema = write(tmp_path / "bad.json", orjson.dumps(bad))
    result = cli("projects", "create", "Broken", "--schema", str(schema))
    assert result.exit_code == 1
    out = flat(result.output)
    assert "Error: The schema is invalid." in out
    assert "fields[0]: unknown kind; use one of: choice" in out
    assert "fields[1]: min (5) must be less than max (1)" in out
    assert "fields[2].labels: Field required" in out
    assert count_rows(db, Project) == 0


def test_projects_create_with_unparseable_schema_text(db, cli, tmp_path, owner):
    schema = write(tmp_path / "bad.yaml", b"fields: [\n  {name: a,\n")
    result = cli("projects", "create", "Broken", "--schema", str(schema))
    assert result.exit_code == 1
    assert "not valid JSON or YAML" in flat(result.output)
    assert count_rows(db, Project) == 0


def test_projects_create_without_an_organization_is_a_usage_error(db, cli, tmp_path):
    schema = write(tmp_path / "schema.json", orjson.dumps(CHOICE_SCHEMA))
    result = cli("projects", "create", "Orphan", "--schema", str(schema))
    assert result.exit_code == 2
    assert "users create" in flat(result.output)
    assert count_rows(db, Project) == 0


# -- database and audit -------------------------------------------------------------------------


def test_db_check_finds_no_differences(db, cli):
    result = cli("db", "check")
    assert result.exit_code == 0, result.output
    assert "No differences between models and database." in flat(result.output)


def test_db_upgrade_on_a_migrated_database_is_harmless(db, cli, owner):
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "latest revision" in result.output
    assert count_rows(db, User) == 1


def test_audit_verify_reports_intact_chains(db, cli, tmp_path, owner, project):
    f = write(tmp_path / "t.jsonl", jsonl_bytes(text_rows(2)))
    assert cli("import", str(project), str(f)).exit_code == 0
    other = make_org(db, "Second")
    add_member(db, other)
    make_project(db, other)
    result = cli("audit-verify")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert f"organization {owner.actor.organization_id}:" in out
    assert f"organization {other.actor.organization_id}:" in out
    assert out.count("intact") == 2
    n = len(
        detached(
            db, select(AuditEvent).where(AuditEvent.organization_id == owner.actor.organization_id)
        )
    )
    assert f"organization {owner.actor.organization_id}: {n} events, intact" in out


def test_audit_verify_fails_on_a_forged_event(db, cli, owner, project):
    from labelhouse.db.base import utcnow

    with db.session() as s:
        s.add(
            AuditEvent(
                organization_id=owner.actor.organization_id,
                actor_id=owner.actor.user_id,
                action="project.delete",
                object_type="project",
                object_id=str(project),
                details={},
                created_at=utcnow(),
                prev_hash="f" * 64,
                hash="0" * 64,
            )
        )
    result = cli("audit-verify")
    assert result.exit_code == 1
    assert "broken at event" in flat(result.output)
