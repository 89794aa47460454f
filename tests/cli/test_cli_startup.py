"""What a CLI command costs before it does anything: which modules it imports, and whether it
asks Alembic about migrations when the database is already up to date."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from labelhouse.cli import common
from labelhouse.cli.main import app as cli_app
from labelhouse.config import Settings
from labelhouse.db import heads, migrate
from tests.factories import make_project, text_rows
from tests.helpers_data import count_tasks, csv_bytes, flat, jsonl_bytes, parquet_bytes

# Never needed to import tasks: the web stack, Parquet, password hashing, Alembic (when the
# database is up to date), the JSON-array reader, exports.
NOT_FOR_IMPORT = [
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "pyarrow",
    "argon2",
    "ijson",
    "labelhouse.web",
    "labelhouse.exports",
    "labelhouse.tasks.service",
]


def modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_building_the_command_line_imports_no_services():
    loaded = modules_after("import labelhouse.cli.main")
    assert not {m for m in loaded if m.split(".")[0] in {"alembic", "fastapi", "numpy", "psycopg"}}
    assert not {m for m in loaded if m.startswith(("labelhouse.kinds", "labelhouse.exports"))}


def test_the_import_command_loads_only_what_importing_needs(db, db_url, owner, tmp_path):
    project = make_project(db, owner)
    f = tmp_path / "t.jsonl"
    f.write_bytes(jsonl_bytes(text_rows(3)))
    loaded = modules_after(
        "from labelhouse.cli.main import app\n"
        f"app(['import', '{project}', '{f}'], standalone_mode=False)",
        {"LABELHOUSE_DATABASE_URL": db_url, "LABELHOUSE_DATA_DIR": str(tmp_path)},
    )
    assert count_tasks(db, project) == 3
    assert [m for m in NOT_FOR_IMPORT if m in loaded] == []


# -- migrations --------------------------------------------------------------------------------


def test_script_heads_agree_with_alembic():
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    assert heads.script_heads() == set(ScriptDirectory.from_config(cfg).get_heads())


def test_unusual_scripts_leave_the_decision_to_alembic(tmp_path, monkeypatch):
    (tmp_path / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    monkeypatch.setattr(heads, "MIGRATION_SCRIPTS", tmp_path)
    assert heads.script_heads() == {"0001"}
    (tmp_path / "0002_b.py").write_text('revision = "0002"\ndown_revision = ("0001", "x")\n')
    assert heads.script_heads() is None
    (tmp_path / "0002_b.py").write_text(
        'revision = "0002"\ndown_revision = "0001"\nbranch_labels = ("b",)\n'
    )
    assert heads.script_heads() is None


@pytest.fixture
def upgrades(monkeypatch):
    calls = []
    real = migrate.upgrade
    monkeypatch.setattr(migrate, "upgrade", lambda engine: calls.append(engine) or real(engine))
    return calls


def test_an_up_to_date_database_is_not_upgraded(db, db_url, tmp_path, upgrades):
    db2 = common.open_db(Settings(data_dir=tmp_path, database_url=db_url))
    db2.dispose()
    assert upgrades == []


def test_a_new_database_is_upgraded(db, tmp_path, upgrades):
    (tmp_path / "new").mkdir()
    fresh = common.open_db(Settings(data_dir=tmp_path / "new"))  # a new SQLite file
    fresh.dispose()
    assert len(upgrades) == 1


def test_an_older_database_is_not_taken_for_up_to_date(db, db_url, tmp_path):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        [head] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    opened = common.open_db(settings, upgrade=False)
    try:
        assert heads.is_at_head(opened)
        with engine.begin() as conn:  # as if the last migration had not run yet
            conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        assert not heads.is_at_head(opened)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        opened.dispose()
        engine.dispose()


# -- progress on things that are not files -------------------------------------------------------


def test_import_from_a_pipe(db, db_url, owner, tmp_path):
    project = make_project(db, owner)
    fifo = tmp_path / "tasks.jsonl"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(jsonl_bytes(text_rows(7))))
    feeder.start()
    result = CliRunner().invoke(
        cli_app,
        ["import", str(project), str(fifo), "--data-dir", str(tmp_path)],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )
    feeder.join()
    assert result.exit_code == 0, result.output
    assert "Imported 7 new tasks from 7 rows" in flat(result.output)
    assert count_tasks(db, project) == 7


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.jsonl"])
def test_progress_reaches_the_end_of_the_file(db, db_url, owner, tmp_path, name):
    project = make_project(db, owner)
    rows = text_rows(12_000)
    f = tmp_path / name
    f.write_bytes(
        {"csv": csv_bytes, "parquet": parquet_bytes, "jsonl": jsonl_bytes}[name[2:]](rows)
    )
    result = CliRunner().invoke(
        cli_app,
        ["import", str(project), str(f), "--data-dir", str(tmp_path)],
        env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "12000 rows" in out
    done, total = re.search(r"([0-9.]+)/([0-9.]+) (?:bytes|kB|MB)", out).groups()
    assert done == total
