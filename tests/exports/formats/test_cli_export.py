"""``labelhouse export --format X --option name=value`` writes the training formats; a bad
option is one sentence naming it, no traceback."""

from __future__ import annotations

import pyarrow.parquet as pq
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from tests.exports.formats.world import build, jsonl
from tests.helpers_data import flat


def run(db_url, tmp_path, *args):
    return CliRunner().invoke(
        cli_app,
        [*args, "--data-dir", str(tmp_path / "cli-data")],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )


def test_cli_exports_parquet_and_trl_with_options(db, db_url, owner, tmp_path):
    pid = build(db, owner)["pid"]
    out = tmp_path / "labels.parquet"
    result = run(
        db_url,
        tmp_path,
        "export",
        str(pid),
        "--format",
        "parquet",
        "--option",
        "values=consensus",
        "--option",
        "provenance=none",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 3 and "provenance" not in table.schema.names

    result = run(
        db_url,
        tmp_path,
        "export",
        str(pid),
        "--format",
        "trl_kto",
        "--option",
        "threshold=5",
        "--option",
        "provenance=none",
    )
    assert result.exit_code == 0, result.output
    rows = jsonl(result.stdout_bytes)
    assert [r["label"] for r in rows] == [False, False, True, False, True, False]


def test_cli_names_a_bad_option(db, db_url, owner, tmp_path):
    pid = build(db, owner)["pid"]
    result = run(
        db_url, tmp_path, "export", str(pid), "--format", "parquet", "--option", "colour=red"
    )
    assert result.exit_code == 1
    assert "Unknown option for this export format: colour" in flat(result.output)
    assert "Traceback" not in result.output
