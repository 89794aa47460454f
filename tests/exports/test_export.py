"""Exports (JSONL, JSON, CSV) over the API and the ``labelhouse export`` CLI, and proof that
the export streams: lazy records from the database, lazy chunks from the writers."""

from __future__ import annotations

import csv
import inspect
import io
import itertools
from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import event, select
from typer.testing import CliRunner

from labelhouse.accounts.models import Role
from labelhouse.annotations.models import Annotation
from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from labelhouse.exports.records import BATCH, iter_records
from labelhouse.exports.writers import CHUNK, FORMATS, write_csv, write_json, write_jsonl
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.tasks.importer import import_tasks
from labelhouse.tasks.models import Task
from tests.factories import add_member, login, make_org, make_project, token_client
from tests.helpers_data import LABEL_AND_TAGS_SCHEMA as SCHEMA
from tests.helpers_data import detached, error_of, flat, jsonl_bytes

ROWS = [
    {
        "data": {"text": "one", "source": "web", "meta": {"n": 1}},
        "external_id": "e1",
        "predictions": [{"value": {"label": "pos"}, "model_version": "m1", "score": 0.75}],
    },
    {"text": "two"},
    {"text": "three", "external_id": "e3"},
]


def submit(client, task_id, value, **extra):
    r = client.post(f"/api/tasks/{task_id}/annotations", json={"value": value, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def next_id(client, project_id):
    return client.post(f"/api/projects/{project_id}/next").json()["task"]["id"]


@pytest.fixture
def world(app, db) -> dict[str, Any]:
    """e1: two submitted annotations (schema v1) and a prediction; two: a draft (a) and a
    submission under schema v2 (c); three: nothing."""
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=2, name="Sentiment v1/test")
    api = token_client(app, db, owner)
    r = api.post(f"/api/projects/{pid}/import?format=jsonl", content=jsonl_bytes(ROWS))
    assert r.status_code == 200, r.text
    e1, two, three = (
        t.id for t in detached(db, select(Task).where(Task.project_id == pid).order_by(Task.id))
    )
    a, b, c = (add_member(db, owner) for _ in range(3))
    ca, cb, cc = login(app, a), login(app, b), login(app, c)
    assert next_id(ca, pid) == e1
    submit(ca, e1, {"label": "pos", "tags": ["b", "a"]}, lead_time_ms=100)
    assert next_id(cb, pid) == e1
    submit(cb, e1, {"label": "neg"}, lead_time_ms=250)
    assert next_id(ca, pid) == two
    submit(ca, two, {"label": "neu"}, draft=True, lead_time_ms=5)
    schema2 = {"fields": [dict(SCHEMA["fields"][0], title="Sentiment"), SCHEMA["fields"][1]]}
    assert api.put(f"/api/projects/{pid}/schema", json={"schema": schema2}).json()["version"] == 2
    assert next_id(cc, pid) == two
    submit(cc, two, {"label": "pos"})
    return {
        "owner": owner,
        "pid": pid,
        "api": api,
        "tasks": (e1, two, three),
        "users": (a.actor.user_id, b.actor.user_id, c.actor.user_id),
    }


def export(api, pid, fmt="jsonl", **params):
    r = api.get(f"/api/projects/{pid}/export", params={"format": fmt, **params})
    assert r.status_code == 200, r.text
    return r


def parse_jsonl(content: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in content.splitlines()]


def is_iso(value: str) -> bool:
    return datetime.fromisoformat(value).tzinfo is not None


def check_records(records, world, *, drafts: bool) -> None:
    e1, two, three = world["tasks"]
    a, b, c = world["users"]
    assert [r["id"] for r in records] == [e1, two, three]  # every task exactly once, in order
    by_id = {r["id"]: r for r in records}
    assert [r["external_id"] for r in records] == ["e1", None, "e3"]
    assert by_id[e1]["data"] == {"text": "one", "source": "web", "meta": {"n": 1}}
    assert by_id[three]["data"] == {"text": "three"}
    assert all(is_iso(r["created_at"]) for r in records)

    first = by_id[e1]["annotations"]
    assert [(x["annotator_id"], x["status"], x["value"]) for x in first] == [
        (a, "submitted", {"label": "pos", "tags": ["a", "b"]}),
        (b, "submitted", {"label": "neg"}),
    ]
    assert [(x["schema_version"], x["revision"], x["lead_time_ms"]) for x in first] == [
        (1, 1, 100),
        (1, 1, 250),
    ]
    for x in first:
        assert is_iso(x["created_at"]) and is_iso(x["updated_at"])
        assert isinstance(x["id"], int)
    assert by_id[e1]["predictions"] == [
        {"model_version": "m1", "score": 0.75, "value": {"label": "pos"}}
    ]

    second = [
        (x["annotator_id"], x["status"], x["schema_version"]) for x in by_id[two]["annotations"]
    ]
    if drafts:
        assert second == [(a, "draft", 1), (c, "submitted", 2)]
    else:
        assert second == [(c, "submitted", 2)]
    assert by_id[two]["predictions"] == []
    assert by_id[three]["annotations"] == [] and by_id[three]["predictions"] == []


# -- API ---------------------------------------------------------------------------------------


def test_jsonl_export_has_every_task_with_its_annotations(db, world):
    r = export(world["api"], world["pid"])
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="Sentiment-v1-test-{world["pid"]}.jsonl"'
    )
    check_records(parse_jsonl(r.content), world, drafts=False)


def test_drafts_are_included_only_on_request(db, world):
    r = export(world["api"], world["pid"], include_drafts="true")
    check_records(parse_jsonl(r.content), world, drafts=True)


def test_annotation_ids_and_timestamps_match_the_database(db, world):
    with db.session() as s:  # one timestamp on a whole second: isoformat() drops the fraction
        first = s.scalars(select(Annotation).order_by(Annotation.id)).first()
        first.created_at = first.created_at.replace(microsecond=0)
    records = parse_jsonl(export(world["api"], world["pid"], include_drafts="true").content)
    exported = {x["id"]: x for r in records for x in r["annotations"]}
    stored = detached(db, select(Annotation))
    assert set(exported) == {a.id for a in stored}
    for a in stored:
        x = exported[a.id]
        # the same text on both databases (SQLite's is rewritten from the stored text)
        assert x["created_at"] == a.created_at.isoformat()
        assert x["updated_at"] == a.updated_at.isoformat()
        assert datetime.fromisoformat(x["created_at"]) == a.created_at
        assert x["value"] == a.value
    assert any(a.created_at.microsecond == 0 for a in stored)
    tasks = {t.id: t for t in detached(db, select(Task))}
    for r in records:
        assert r["created_at"] == tasks[r["id"]].created_at.isoformat()


def test_json_export_is_one_array_with_the_same_records(db, world):
    r = export(world["api"], world["pid"], "json")
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].endswith('.json"')
    records = orjson.loads(r.content)
    assert isinstance(records, list)
    check_records(records, world, drafts=False)
    assert records == parse_jsonl(export(world["api"], world["pid"]).content)


def test_csv_export_has_one_row_per_annotation_and_per_unannotated_task(db, world):
    r = export(world["api"], world["pid"], "csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    e1, two, three = world["tasks"]
    a, b, c = world["users"]
    assert list(rows[0]) == [
        "task_id",
        "external_id",
        "data.text",
        "data.extra",
        "annotation_id",
        "annotator_id",
        "status",
        "schema_version",
        "lead_time_ms",
        "created_at",
        "updated_at",
        "label",
        "tags",
        "predictions",
        "review.decision",
        "review.reviewer_id",
        "review.reviewed_at",
        "review.label",
        "review.tags",
    ]
    assert [(row["task_id"], row["annotator_id"]) for row in rows] == [
        (str(e1), str(a)),
        (str(e1), str(b)),
        (str(two), str(c)),
        (str(three), ""),
    ]
    first, second, third, empty = rows
    assert (first["external_id"], first["data.text"]) == ("e1", "one")
    assert orjson.loads(first["data.extra"]) == {"source": "web", "meta": {"n": 1}}
    assert (first["label"], orjson.loads(first["tags"])) == ("pos", ["a", "b"])
    assert (first["status"], first["schema_version"], first["lead_time_ms"]) == (
        "submitted",
        "1",
        "100",
    )
    assert is_iso(first["created_at"]) and is_iso(first["updated_at"])
    assert orjson.loads(first["predictions"]) == [
        {"model_version": "m1", "score": 0.75, "value": {"label": "pos"}}
    ]
    assert (second["label"], second["tags"]) == ("neg", "")
    assert (third["external_id"], third["schema_version"], third["data.extra"]) == ("", "2", "")
    assert empty["external_id"] == "e3" and empty["data.text"] == "three"
    assert all(
        empty[k] == ""
        for k in ("annotation_id", "annotator_id", "status", "label", "tags", "predictions")
    )
    assert all(row[k] == "" for row in rows for k in rows[0] if k.startswith("review."))


def test_csv_export_with_drafts_adds_their_rows(db, world):
    rows = list(
        csv.DictReader(
            io.StringIO(export(world["api"], world["pid"], "csv", include_drafts="true").text)
        )
    )
    assert len(rows) == 5
    assert [row["status"] for row in rows] == ["submitted", "submitted", "draft", "submitted", ""]


def test_csv_cells_with_commas_quotes_and_newlines_round_trip(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    api = token_client(app, db, owner)
    text = 'She said, "hi"\nthen left; ünïcode ✓'
    api.post(f"/api/projects/{pid}/import?format=jsonl", content=jsonl_bytes([{"text": text}]))
    [row] = csv.DictReader(io.StringIO(export(api, pid, "csv").text))
    assert row["data.text"] == text


def test_unknown_format_is_422(db, world):
    r = world["api"].get(f"/api/projects/{world['pid']}/export?format=xml")
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_input"
    # every registered format is named (others are registered at the end of FORMATS)
    listed = ", ".join(FORMATS)
    assert listed.startswith("jsonl, json, csv")
    assert err["details"] == [{"field": "format", "problem": f"use one of: {listed}"}]


def test_exports_are_audited(db, world):
    export(world["api"], world["pid"], "csv")
    events = detached(db, select(AuditEvent).where(AuditEvent.action == "project.export"))
    assert [(e.object_id, e.details) for e in events] == [(str(world["pid"]), {"format": "csv"})]


def test_only_managers_may_export(app, db, world):
    for role in (Role.annotator, Role.reviewer):
        member = add_member(db, world["owner"], role)
        r = token_client(app, db, member).get(f"/api/projects/{world['pid']}/export")
        assert r.status_code == 403
    stranger = make_org(db, "Other")
    assert (
        token_client(app, db, stranger).get(f"/api/projects/{world['pid']}/export").status_code
        == 404
    )


@pytest.mark.parametrize(("fmt", "expected"), [("jsonl", b""), ("json", b"[\n]\n")])
def test_an_empty_project_exports_cleanly(app, db, fmt, expected):
    owner = make_org(db)
    pid = make_project(db, owner)
    assert export(token_client(app, db, owner), pid, fmt).content == expected


def test_an_empty_project_exports_a_csv_header(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    text = export(token_client(app, db, owner), pid, "csv").text
    assert text.splitlines() == [
        "task_id,external_id,data.text,data.extra,annotation_id,annotator_id,status,"
        "schema_version,lead_time_ms,created_at,updated_at,label,predictions,"
        "review.decision,review.reviewer_id,review.reviewed_at,review.label"
    ]


def test_the_export_response_is_streamed(db, world):
    with world["api"].stream("GET", f"/api/projects/{world['pid']}/export?format=jsonl") as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers  # a StreamingResponse: size unknown up front
        body = b"".join(r.iter_bytes())
    assert len(body.splitlines()) == 3


# -- streaming proof ---------------------------------------------------------------------------


def test_iter_records_is_a_lazy_generator_over_a_large_project(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    n = 12_000
    with db.session() as s:
        result = import_tasks(
            s,
            owner.actor,
            pid,
            io.BytesIO(jsonl_bytes([{"text": f"t{i}"} for i in range(n)])),
            filename="big.jsonl",
        )
    assert result.created == n

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    with db.read_session() as s:
        schema = load_schema(s, s.get(Project, pid))
    event.listen(db.read_engine, "before_cursor_execute", count)
    try:
        with db.read_session() as s:
            gen = iter_records(s, pid, schema=schema)
            assert inspect.isgenerator(gen)
            assert statements == []  # nothing runs before the first record is asked for
            first = next(gen)
            assert isinstance(first["data"], orjson.Fragment)  # passed through, not re-parsed
            assert orjson.loads(orjson.dumps(first["data"])) == {"text": "t0"}
            # whether an import is being staged (tasks/visibility.py), then one batch of
            # tasks (LIMIT BATCH) plus its annotations, predictions and reviews
            assert len(statements) == 5
            assert "staging_import_id" in statements[0]
            assert "LIMIT" in statements[1].upper()
            rest = list(gen)
    finally:
        event.remove(db.read_engine, "before_cursor_execute", count)
    assert len(rest) == n - 1
    batches = -(-n // BATCH)
    assert len(statements) == 1 + 4 * batches + 1  # plus the final empty page
    ids = [first["id"]] + [r["id"] for r in rest]
    assert ids == sorted(ids) and len(set(ids)) == n


def test_a_large_export_over_the_api_has_every_task_once(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    n = BATCH + 7
    with db.session() as s:
        import_tasks(
            s,
            owner.actor,
            pid,
            io.BytesIO(jsonl_bytes([{"text": f"t{i}"} for i in range(n)])),
            filename="big.jsonl",
        )
    records = parse_jsonl(export(token_client(app, db, owner), pid).content)
    assert len(records) == n
    assert len({r["id"] for r in records}) == n
    assert records[-1]["data"] == {"text": f"t{n - 1}"}


def endless_records():
    for i in itertools.count():
        yield {
            "id": i,
            "external_id": None,
            "data": {"text": "x" * 100},
            "created_at": None,
            "annotations": [],
            "predictions": [],
        }


@pytest.mark.parametrize("writer", [write_jsonl, write_json, write_csv])
def test_writers_emit_chunks_without_consuming_all_records(writer):
    chunks = writer(endless_records(), field_names=["label"], data_keys=["text"])
    first = next(chunks)  # an endless input would hang a writer that reads everything first
    assert CHUNK <= len(first) < 2 * CHUNK


# -- CLI ---------------------------------------------------------------------------------------


def run_cli(db_url, tmp_path, *args):
    runner = CliRunner()
    return runner.invoke(
        cli_app,
        [*args, "--data-dir", str(tmp_path / "cli-data")],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_cli_export_to_a_file(db, db_url, tmp_path, world, fmt):
    out = tmp_path / f"out.{fmt}"
    result = run_cli(db_url, tmp_path, "export", str(world["pid"]), "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"to {out}" in flat(result.output) or "Wrote" in result.output
    content = out.read_bytes()
    if fmt == "jsonl":
        check_records(parse_jsonl(content), world, drafts=False)
    elif fmt == "json":
        check_records(orjson.loads(content), world, drafts=False)
    else:
        assert len(list(csv.DictReader(io.StringIO(content.decode())))) == 4
    assert content == export(world["api"], world["pid"], fmt).content


def test_cli_export_to_stdout_by_project_name_with_drafts(db, db_url, tmp_path, world):
    result = run_cli(db_url, tmp_path, "export", "Sentiment v1/test", "--include-drafts")
    assert result.exit_code == 0, result.output
    check_records(parse_jsonl(result.stdout_bytes), world, drafts=True)


def test_cli_export_unknown_format_fails(db, db_url, tmp_path, world):
    result = run_cli(db_url, tmp_path, "export", str(world["pid"]), "--format", "xml")
    assert result.exit_code == 1
    assert "Unknown export format 'xml'" in flat(result.output)


def test_cli_export_unknown_project_fails(db, db_url, tmp_path, world):
    result = run_cli(db_url, tmp_path, "export", "no such project")
    assert result.exit_code == 1
    assert "No project with id or name 'no such project'" in flat(result.output)
