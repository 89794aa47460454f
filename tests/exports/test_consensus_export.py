"""Exports with consensus: ``content=raw`` is unchanged, ``consensus`` replaces the raw
annotations by one value per field, ``both`` keeps both; API, CSV and CLI."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

ANSWERS = {"t0": ("pos", "pos", "neg"), "t1": ("neg", "neu", "neu"), "t2": ("neu", "neu", "neu")}


@pytest.fixture
def project(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    add_tasks(db, owner, pid, [{"text": k, "external_id": k} for k in [*ANSWERS, "t3"]])
    for n in range(3):
        annotate(db, add_member(db, owner), pid, {k: {"label": v[n]} for k, v in ANSWERS.items()})
    return owner, pid


def _jsonl(body: bytes) -> dict[str, dict]:
    return {r["external_id"]: r for r in map(orjson.loads, body.splitlines())}


def test_raw_is_unchanged_consensus_and_both(app, project):
    owner, pid = project
    c = login(app, owner)
    raw = _jsonl(c.get(f"/api/projects/{pid}/export").content)
    assert all("consensus" not in r for r in raw.values())
    assert len(raw["t0"]["annotations"]) == 3

    only = _jsonl(c.get(f"/api/projects/{pid}/export", params={"content": "consensus"}).content)
    assert all("annotations" not in r for r in only.values())
    assert only["t0"]["consensus"] == {
        "label": {"value": "pos", "confidence": pytest.approx(2 / 3), "method": "majority"}
    }
    assert only["t2"]["consensus"]["label"]["confidence"] == 1.0
    assert only["t3"]["consensus"] == {}  # nobody annotated it

    both = _jsonl(
        c.get(
            f"/api/projects/{pid}/export",
            params={"content": "both", "consensus_method": "dawid_skene"},
        ).content
    )
    assert len(both["t1"]["annotations"]) == 3
    assert both["t1"]["consensus"]["label"]["value"] == "neu"
    assert both["t1"]["consensus"]["label"]["method"] == "dawid_skene"

    as_json = orjson.loads(
        c.get(f"/api/projects/{pid}/export", params={"content": "both", "format": "json"}).content
    )
    assert {r["external_id"]: r["consensus"] for r in as_json}["t0"]["label"]["value"] == "pos"


def test_csv_gets_consensus_columns(app, project):
    owner, pid = project
    c = login(app, owner)
    text = c.get(f"/api/projects/{pid}/export", params={"format": "csv", "content": "both"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    t0 = [r for r in rows if r["external_id"] == "t0"]
    assert len(t0) == 3
    assert {r["consensus.label"] for r in t0} == {"pos"}
    assert float(t0[0]["consensus.label.confidence"]) == pytest.approx(2 / 3)
    only = c.get(f"/api/projects/{pid}/export", params={"format": "csv", "content": "consensus"})
    rows = list(csv.DictReader(io.StringIO(only.text)))
    assert len(rows) == 4  # one row per task
    assert {r["external_id"]: r["consensus.label"] for r in rows}["t1"] == "neu"
    raw = c.get(f"/api/projects/{pid}/export", params={"format": "csv"}).text
    assert "consensus" not in raw.splitlines()[0]


def test_bad_content_or_method_is_422(app, project):
    owner, pid = project
    c = login(app, owner)
    r = c.get(f"/api/projects/{pid}/export", params={"content": "merged"})
    assert r.status_code == 422 and "raw, consensus, both" in r.text
    r = c.get(f"/api/projects/{pid}/export", params={"content": "both", "consensus_method": "x"})
    assert r.status_code == 422 and "dawid_skene" in r.text


def test_cli_export_with_consensus(db_url, tmp_path, project):
    _, pid = project
    result = CliRunner().invoke(
        cli_app,
        ["export", str(pid), "--content", "consensus", "--data-dir", str(tmp_path / "cli")],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout_bytes.splitlines() if ln.startswith(b"{")]
    records = {r["external_id"]: r for r in map(orjson.loads, lines)}
    assert records["t0"]["consensus"]["label"]["value"] == "pos"
