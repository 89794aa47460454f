"""The tracebacks issue 14 reported, each now a sentence saying what to do, and the
last-resort handler for what no command translated (test_cli_bad_arguments.py sweeps every
command with bad arguments; these name the reported cases and what is said)."""

from __future__ import annotations

import sys

import orjson
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Membership, Organization
from labelhouse.cli.app import BUG_SENTENCE, App, RootGroup
from labelhouse.cli.main import app as cli_app
from labelhouse.db.engine import open_database
from labelhouse.errors import InvalidInput
from labelhouse.projects.models import Project
from tests.factories import CHOICE_SCHEMA, make_project, text_rows
from tests.helpers_data import count_rows, detached, flat, jsonl_bytes

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


@pytest.fixture
def cli(db_url, tmp_path):
    data_dir = tmp_path / "cli-data"

    def run(*args: str, url: str | None = None, env: dict[str, str] | None = None):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(data_dir)],
            env={"LABELHOUSE_DATABASE_URL": url or db_url, "COLUMNS": "200", **(env or {})},
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        return result

    return run


def failed(result, code: int = 1) -> str:
    """The one sentence of a failed command (nothing on stdout)."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    said = flat(result.stderr)
    assert said.startswith("Error:") and BUG_SENTENCE not in said
    return said


def test_a_binary_schema_file_is_not_text(db, cli, owner, tmp_path):
    """Was: UnicodeDecodeError."""
    schema = tmp_path / "schema.png"
    schema.write_bytes(PNG)
    said = failed(cli("projects", "create", "Pictures", "--schema", str(schema)))
    assert f"The schema file {schema} is not UTF-8 text (byte 0 is 0x89)" in said
    assert count_rows(db, Project) == 0


def test_a_schema_with_a_byte_order_mark_is_read(db, cli, owner, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_bytes(b"\xef\xbb\xbf" + orjson.dumps(CHOICE_SCHEMA))
    assert cli("projects", "create", "Marked", "--schema", str(schema)).exit_code == 0


def test_users_create_in_an_organization_nobody_has(db, cli, owner):
    """Was: an IntegrityError of about 150 lines."""
    said = failed(cli("users", "create", "ann@lab.org", "--organization", "4242"))
    assert "No such organization: 4242. Leave out --organization to use the first." in said
    assert len(detached(db, select(Membership))) == 1  # the owner only


def test_projects_create_in_an_organization_nobody_has(db, cli, owner, tmp_path):
    """Was: 'The organization has no owner'."""
    schema = tmp_path / "schema.json"
    schema.write_bytes(orjson.dumps(CHOICE_SCHEMA))
    said = failed(cli("projects", "create", "X", "--schema", str(schema), "--organization", "4242"))
    assert "No such organization: 4242" in said and "owner" not in said


def test_an_organization_without_an_owner_is_still_named_so(db, cli, tmp_path):
    with db.session() as s:
        s.add(Organization(name="Ownerless"))
    schema = tmp_path / "schema.json"
    schema.write_bytes(orjson.dumps(CHOICE_SCHEMA))
    org_id = detached(db, select(Organization))[0].id
    said = failed(
        cli("projects", "create", "X", "--schema", str(schema), "--organization", str(org_id))
    )
    assert "The organization has no owner" in said


@pytest.mark.parametrize("target", ["missing-folder/labels.jsonl", "a-folder"])
def test_export_to_a_place_that_cannot_take_a_file(db, cli, owner, tmp_path, target):
    """Was: FileNotFoundError (or IsADirectoryError) after the export had been planned."""
    make_project(db, owner, name="Reviews")
    (tmp_path / "a-folder").mkdir()
    said = failed(cli("export", "Reviews", "-o", str(tmp_path / target)))
    if target == "a-folder":
        assert f"--output {tmp_path / target} is a folder: name a file" in said
    else:
        assert f"the folder {tmp_path / 'missing-folder'} does not exist; create it first" in said
    assert not (tmp_path / "missing-folder").exists()


def test_import_checks_the_rejected_rows_file_before_importing(db, cli, owner, tmp_path):
    project = make_project(db, owner, name="Reviews")
    f = tmp_path / "tasks.jsonl"
    f.write_bytes(jsonl_bytes(text_rows(2)))
    said = failed(cli("import", "Reviews", str(f), "--rejected", str(tmp_path / "no" / "r.jsonl")))
    assert "--rejected" in said and "does not exist" in said
    with db.read_session() as s:
        assert s.scalar(select(Project.id).where(Project.id == project)) == project
    from tests.helpers_data import count_tasks

    assert count_tasks(db, project) == 0


# -- the database URL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("labelhouse.db", "LABELHOUSE_DATABASE_URL is not a database URL ('labelhouse.db')"),
        ("mysql://me@db/labels", "names a mysql database (mysql://me@db/labels)"),
        (
            "postgresql+nosuchdriver://me@db/labels",
            "asks for the driver 'nosuchdriver' (postgresql+nosuchdriver://me@db/labels)",
        ),
        (
            "postgresql+pg8000://me:secret@db/labels",
            "asks for the driver 'pg8000' (postgresql+pg8000://me:***@db/labels)",
        ),
        ("sqlite:////no-such-folder/labelhouse.db", "/no-such-folder) does not exist"),
    ],
)
def test_a_database_url_that_cannot_work_is_a_sentence(db, cli, url, expected):
    """Was: SQLAlchemy's ArgumentError, NoSuchModuleError or ModuleNotFoundError."""
    said = failed(cli("projects", "list", url=url))
    assert expected in said
    assert "secret" not in said


def test_postgresql_without_psycopg_says_to_install_the_extra(db, cli, monkeypatch):
    """As on a machine where `pip install labelhouse` left out [postgres]: the import of
    psycopg fails (None in sys.modules makes `import psycopg` raise ModuleNotFoundError)
    inside SQLAlchemy's own dialect loading, which the check runs."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    said = failed(cli("users", "list", url="postgresql+psycopg://me@127.0.0.1:5432/labels"))
    assert "PostgreSQL needs the psycopg driver, which is not installed here" in said
    assert "install labelhouse[postgres]" in said
    with pytest.raises(InvalidInput, match=r"labelhouse\[postgres\]"):
        open_database("postgresql://me@127.0.0.1:5432/labels")  # serve and the web app too


def test_a_bad_setting_names_its_variable(db, cli):
    said = failed(cli("projects", "list", env={"LABELHOUSE_DB_CONNECT_TIMEOUT": "soon"}))
    assert "LABELHOUSE_DB_CONNECT_TIMEOUT" in said


def test_a_data_folder_that_is_a_file_is_a_usage_error(db, cli, tmp_path):
    file = tmp_path / "data"
    file.write_text("x")
    result = CliRunner().invoke(
        cli_app, ["projects", "list", "--data-dir", str(file)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "Invalid value for '--data-dir'" in result.output
    assert f"'{file}' is a file." in result.output


# -- the last resort ---------------------------------------------------------------------------


def broken_app() -> App:
    """An app built like `labelhouse`, with commands that fail the way a bug would."""
    app = App(cls=RootGroup)

    @app.command()
    def divide() -> None:
        print(1 / 0)

    @app.command()
    def write() -> None:
        raise PermissionError(13, "Permission denied", "/srv/labels.jsonl")

    @app.command()
    def stop() -> None:
        raise typer.Exit(3)

    return app


def test_an_error_no_command_caught_is_one_sentence(monkeypatch):
    monkeypatch.delenv("LABELHOUSE_DEBUG", raising=False)
    result = CliRunner().invoke(broken_app(), ["divide"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stdout == "" and "Traceback" not in result.output
    said = flat(result.stderr)
    assert said == (
        "Error: unexpected ZeroDivisionError (division by zero). This is a bug in "
        "Labelhouse: run the command again with LABELHOUSE_DEBUG=1 to see where it happened, "
        "and report it."
    )
    refused = CliRunner().invoke(broken_app(), ["write"])
    assert refused.exit_code == 1
    assert flat(refused.stderr) == "Error: Permission denied: /srv/labels.jsonl."
    assert CliRunner().invoke(broken_app(), ["stop"]).exit_code == 3  # click's own pass


def test_labelhouse_debug_shows_the_traceback():
    result = CliRunner().invoke(broken_app(), ["divide"], env={"LABELHOUSE_DEBUG": "1"})
    assert isinstance(result.exception, ZeroDivisionError)
