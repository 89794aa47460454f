"""The examples in docs/export.md are real exports: the test builds the project the doc
describes (tests/docs/export_world.py), exports it through the API in each documented way, and
compares every documented record and CSV row with the real one — the same keys in the same
order, the same types, the same values except ids and times, which vary from run to run."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.docs.export_world import build
from tests.factories import login

DOC = Path(__file__).resolve().parents[2] / "docs" / "export.md"
BLOCK = re.compile(r"```(json|csv) (raw|consensus|both)\n(.*?)```", re.S)
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")
IDS = {"id", "annotator_id", "reviewer_id"}
TIMES = {"created_at", "updated_at", "reviewed_at"}
CSV_IDS = {"task_id", "annotation_id", "annotator_id", "review.reviewer_id"}
CSV_TIMES = {"created_at", "updated_at", "review.reviewed_at"}


def examples() -> list[tuple[str, str, str]]:
    return [m.groups() for m in BLOCK.finditer(DOC.read_text())]


# Objects read from stored JSON (task data, answers, and a reviewed task's consensus, which is
# its reviewed answer): PostgreSQL's jsonb keeps an object's keys in an order of its own, so
# only there the order is not part of the format.
STORED_JSON = {"data", "value", "consensus"}


def same(doc: Any, real: Any, key: str = "", path: str = "record", stored: bool = False) -> None:
    """``doc`` is ``real`` up to ids and times (which must still be ids and times)."""
    stored = stored or key in STORED_JSON
    if key in IDS and not stored:
        assert type(real) is int and type(doc) is int, path
    elif key in TIMES and not stored:
        assert ISO_UTC.fullmatch(real) and ISO_UTC.fullmatch(doc), path
    elif isinstance(doc, dict):
        assert isinstance(real, dict), path
        order = (sorted(doc), sorted(real)) if stored else (list(doc), list(real))
        assert order[0] == order[1], (path, *order)
        for k in doc:
            same(doc[k], real[k], k, f"{path}.{k}", stored)
    elif isinstance(doc, list):
        assert isinstance(real, list) and len(doc) == len(real), path
        for i, (d, r) in enumerate(zip(doc, real, strict=True)):
            same(d, r, key, f"{path}[{i}]", stored)
    else:
        assert type(doc) is type(real) and doc == real, (path, doc, real)


def keys_in(record: dict[str, Any]) -> set[str]:
    found = set(record)
    for a in record.get("annotations", []):
        found |= set(a)
    for p in record["predictions"]:
        found |= set(p)
    found |= set(record["review"] or {})
    for c in (record.get("consensus") or {}).values():
        found |= set(c)
    return found


@pytest.fixture
def exported(db, owner, app):
    pid = build(db, owner)
    client = login(app, owner)

    def get(fmt: str, content: str) -> bytes:
        r = client.get(f"/api/projects/{pid}/export", params={"format": fmt, "content": content})
        assert r.status_code == 200, r.text
        return r.content

    return get


def test_the_doc_shows_every_content_as_a_record_and_a_csv():
    shown = {(fmt, content) for fmt, content, _ in examples()}
    assert {content for fmt, content in shown if fmt == "json"} == {"raw", "consensus", "both"}
    assert ("csv", "both") in shown


def test_every_documented_record_is_a_real_one(exported):
    doc = DOC.read_text()
    for fmt, content, body in examples():
        if fmt != "json":
            continue
        documented = json.loads(body)
        lines = [orjson.loads(line) for line in exported("jsonl", content).splitlines()]
        [real] = [r for r in lines if r["external_id"] == documented["external_id"]]
        same(documented, real)
        as_json = orjson.loads(exported("json", content))
        assert as_json == lines  # JSON is the same records in one array
        for key in keys_in(real):
            assert f"`{key}`" in doc, f"the record key {key!r} is not described"


def test_the_documented_csv_is_the_real_one(exported):
    for fmt, content, body in examples():
        if fmt != "csv":
            continue
        documented = list(csv.reader(io.StringIO(body)))
        real = list(csv.reader(io.StringIO(exported("csv", content).decode())))
        assert documented[0] == real[0]  # the header, exactly
        assert len(documented) == len(real)
        header = real[0]
        for row_doc, row_real in zip(documented[1:], real[1:], strict=True):
            for column, d, r in zip(header, row_doc, row_real, strict=True):
                if column in CSV_IDS:
                    assert d.isdigit() == r.isdigit() and (d == "") == (r == ""), column
                elif column in CSV_TIMES:
                    assert bool(ISO_UTC.fullmatch(d)) == bool(ISO_UTC.fullmatch(r)), column
                elif d.startswith(("[", "{")):  # JSON: compared as values (key order aside)
                    assert json.loads(d) == json.loads(r), (column, d, r)
                else:
                    assert d == r, (column, d, r)


def test_every_csv_column_kind_is_described():
    doc = DOC.read_text()
    header = next(csv.reader(io.StringIO(next(b for f, _, b in examples() if f == "csv"))))
    for column in header:
        generic = re.sub(
            r"^(data|review|consensus)\.(?!extra|decision|reviewer_id|reviewed_at)"
            r"[^.]+",
            r"\1.<field>",
            column,
        )
        generic = generic.replace("data.<field>", "data.<key>")
        if column in ("sentiment", "topics"):
            continue  # one column per schema field
        assert f"`{generic}`" in doc, column
