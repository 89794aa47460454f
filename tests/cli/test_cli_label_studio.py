"""``labelhouse label-studio import | config | schema`` against the test database."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.interop.label_studio.config import parse_config
from tests.interop.label_studio.fixtures import FIXTURES, conversion, export_path


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


def test_import_then_config_then_export(db, owner, cli, tmp_path) -> None:
    result = cli(
        "label-studio",
        "import",
        str(export_path("boxes")),
        "--config",
        str(FIXTURES / "boxes.config.xml"),
        "--project",
        "street scenes",
        "--files",
        str(FIXTURES / "media"),
    )
    assert result.exit_code == 0, result.output
    project_id = result.stdout.strip()
    assert project_id.isdigit()
    assert "Created project 'street scenes': 2 tasks (0 rejected), 1 predictions" in result.stderr
    config = cli("label-studio", "config", project_id)
    assert config.exit_code == 0, config.output
    assert parse_config(config.stdout).document == conversion("boxes").document
    exported = cli("export", project_id, "--format", "label_studio")
    assert exported.exit_code == 0, exported.output
    tasks = orjson.loads(exported.stdout)
    assert [t["meta"]["labelhouse"]["external_id"] for t in tasks] == [
        str(t["id"]) for t in orjson.loads(export_path("boxes").read_bytes())
    ]


def test_skipped_answers_are_reported_and_json_is_available(db, owner, cli) -> None:
    result = cli(
        "label-studio",
        "import",
        str(export_path("classification")),
        "--config",
        str(FIXTURES / "classification.config.xml"),
        "--project",
        "reviews",
        "--json",
    )
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert body["tasks"]["created"] == 3
    assert "1 skipped (cancelled) answers were not carried over" in body["warnings"]
    assert "skipped (cancelled)" in result.stderr


def schema(*args: str):
    return CliRunner().invoke(cli_app, ["label-studio", "schema", *args], catch_exceptions=False)


def test_schema_prints_the_generated_schema_and_hostile_xml_is_one_sentence(tmp_path) -> None:
    result = schema(str(FIXTURES / "ner.config.xml"))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == conversion("ner").document
    evil = tmp_path / "evil.xml"
    evil.write_text('<!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]><View>&x;</View>')
    refused = schema(str(evil))
    assert refused.exit_code == 1
    assert "declares a DTD or entities" in refused.stderr
    assert "Traceback" not in refused.output
