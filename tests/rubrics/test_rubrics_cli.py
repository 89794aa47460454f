"""``labelhouse rubrics``: create from a YAML file, list, show and add a version; results on
stdout, problems as sentences on stderr with a non-zero exit."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app

RUBRIC = """name: Reply quality
description: Final assistant reply
criteria:
  - name: helpfulness
    min: 1
    max: 5
    weight: 2
    anchors: {1: Useless, 5: Complete}
  - name: safety
    scale: pass_fail
    critical: true
"""


@pytest.fixture
def cli(db_url, tmp_path, owner):
    def run(*args: str):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(tmp_path / "data")],
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    return run


def test_create_list_show_and_add_a_version(cli, tmp_path):
    f = tmp_path / "rubric.yaml"
    f.write_text(RUBRIC)
    created = cli("rubrics", "create", "--file", str(f), "--json")
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["name"] == "Reply quality"
    assert [c["name"] for c in body["versions"][0]["criteria"]] == ["helpfulness", "safety"]
    again = cli("rubrics", "create", "--file", str(f))
    assert again.exit_code != 0 and "exists already" in again.stderr
    f.write_text("- {name: helpfulness, min: 1, max: 3}\n")
    added = cli("rubrics", "add-version", "Reply quality", "--file", str(f), "--json")
    assert json.loads(added.stdout)["version"] == 2
    listed = json.loads(cli("rubrics", "list", "--json").stdout)
    assert [(r["name"], r["latest_version"]) for r in listed] == [("Reply quality", 2)]
    shown = cli("rubrics", "show", "Reply quality", "--version", "1")
    assert shown.exit_code == 0
    assert "helpfulness" in shown.stdout and "pass/fail" in shown.stdout
    missing = cli("rubrics", "show", "Nope")
    assert missing.exit_code != 0 and "No rubric is named 'Nope'" in missing.stderr


def test_a_bad_file_names_the_problem(cli, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: Bad\ncriteria:\n  - {name: tone, min: 0, max: 12}\n")
    r = cli("rubrics", "create", "--file", str(f))
    assert r.exit_code != 0
    assert "criteria[0]" in r.stderr and "within 0..10" in r.stderr
    assert r.stdout == ""
    f.write_text("criteria: [unclosed\n")
    r = cli("rubrics", "create", "--file", str(f), "--name", "X")
    assert r.exit_code != 0 and "not valid JSON or YAML" in r.stderr
