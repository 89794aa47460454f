"""``labelhouse annotations import``: results on stdout (a sentence, or JSON), progress and
errors on stderr, exit status 1 and nothing stored when a row is bad. Both databases."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from tests.factories import add_tasks, jsonl, make_org, make_project, text_rows


@pytest.fixture
def cli(db_url, tmp_path):
    def run(*args: str):
        return CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(tmp_path / "cli-data")],
            env={"LABELHOUSE_DATABASE_URL": db_url},
            catch_exceptions=False,
        )

    return run


@pytest.fixture
def project(db):
    owner = make_org(db)
    pid = make_project(db, owner, name="Reviews", overlap=2)
    add_tasks(db, owner, pid, text_rows(2))
    return pid


def test_import_prints_counts_and_json(cli, project, tmp_path: Path):
    rows = [{"external_id": "t0", "annotator": "w1", "value": {"label": "pos"}}]
    path = tmp_path / "old.jsonl"
    path.write_bytes(jsonl(rows))
    result = cli("annotations", "import", "Reviews", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Imported 1 answers from 1 rows (0 already stored, 0 updated, 1 new external annotators)."
    )
    again = cli("annotations", "import", str(project), str(path), "--json")
    assert again.exit_code == 0
    assert orjson.loads(again.stdout)["unchanged"] == 1


def test_long_format_with_a_field_and_a_refused_file(cli, project, tmp_path: Path):
    path = tmp_path / "crowd.csv"
    path.write_bytes(b"question,worker,answer\nt1,a,neg\nt1,b,maybe\n")
    result = cli("annotations", "import", "Reviews", str(path), "--format", "long", "--json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "line 3: value.label: unknown option 'maybe'" in result.stderr
    assert orjson.loads(result.stdout)["problems"][0]["field"] == "line 3"
    path.write_bytes(b"question,worker,answer\nt1,a,neg\nt1,b,pos\n")
    result = cli(
        "annotations", "import", "Reviews", str(path), "--format", "long", "--field", "label"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Imported 2 answers from 2 rows")
