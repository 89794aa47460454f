"""Parquet exports read back by pyarrow: a typed column per field kind, one row per answer
(raw), per task (consensus) or per reviewed task, provenance, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.exports.formats.world import build, export


@pytest.fixture
def world(db, owner):
    return build(db, owner)


def read(app, owner, pid, **options) -> pa.Table:
    r = export(app, owner, pid, "parquet", **options)
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    assert r.headers["content-disposition"].endswith(f'-{pid}.parquet"')
    return pq.read_table(io.BytesIO(r.content))


def test_raw_rows_have_a_typed_column_per_field_kind(app, owner, world):
    table = read(app, owner, world["pid"])
    s = table.schema
    assert s.field("task_id").type == pa.int64()
    assert s.field("external_id").type == pa.string()
    assert s.field("prompt").type == pa.string()
    assert s.field("responses").type == pa.string()  # data that is not text: JSON text
    assert s.field("label").type == pa.dictionary(pa.int32(), pa.string())
    assert s.field("tags").type == pa.list_(pa.string())
    assert s.field("score").type == pa.int64()
    assert s.field("ents").type == pa.list_(
        pa.struct(
            [
                ("start", pa.int64()),
                ("end", pa.int64()),
                ("label", pa.string()),
                ("text", pa.string()),
            ]
        )
    )
    assert s.field("pref").type == pa.struct(
        [("choice", pa.dictionary(pa.int32(), pa.string())), ("strength", pa.string())]
    )
    assert s.field("order").type == pa.list_(pa.int64())
    assert s.field("note").type == pa.string()
    assert pa.types.is_struct(s.field("provenance").type)

    rows = table.to_pylist()
    assert len(rows) == 6  # 3 tasks × 2 annotators
    t0 = [r for r in rows if r["external_id"] == "t0"]
    assert {r["label"] for r in t0} == {"neg"}
    first = next(r for r in t0 if r["tags"] == ["a", "c"])
    assert first["score"] == 4
    assert first["ents"] == [
        {"start": 0, "end": 3, "label": "PER", "text": "Ada"},
        {"start": 12, "end": 17, "label": "LOC", "text": "Paris"},
    ]
    assert first["pref"] == {"choice": "B", "strength": "much"}
    assert first["order"] == [2, 1, 3]
    assert first["prompt"] == "Question 0?"


def test_provenance_is_pseudonymous_and_says_whether_the_prediction_was_kept(app, owner, world):
    rows = read(app, owner, world["pid"]).to_pylist()
    annotators = {r["provenance"]["annotator"] for r in rows}
    assert len(annotators) == 2
    assert not annotators & {str(u) for u in world["people"]}
    assert all(a.startswith("a-") and len(a) == 18 for a in annotators)
    t0 = [r["provenance"] for r in rows if r["external_id"] == "t0"]
    # the page pre-fills the highest-scoring prediction: label neg, score 4 — both kept
    assert all(p["pre_annotated"] for p in t0)
    assert all(p["kept"]["label"] and p["kept"]["score"] for p in t0)
    assert all(p["kept"]["tags"] is None for p in t0)  # the prediction has no tags
    t2 = [r["provenance"] for r in rows if r["external_id"] == "t2"]
    assert all(not p["pre_annotated"] and p["kept"] is None for p in t2)
    assert {p["schema_version"] for p in t0} == {1}
    t1 = [r["provenance"] for r in rows if r["external_id"] == "t1"]
    assert {p["review_status"] for p in t1} == {"corrected"}
    assert set(rows[0]["provenance"]) == {
        "annotator",
        "schema_version",
        "review_status",
        "consensus_method",
        "confidence",
        "pre_annotated",
        "kept",
    }
    # a new export: new pseudonyms
    again = {r["provenance"]["annotator"] for r in read(app, owner, world["pid"]).to_pylist()}
    assert again.isdisjoint(annotators)
    ids = read(app, owner, world["pid"], annotators="ids").to_pylist()
    assert {r["provenance"]["annotator"] for r in ids} == {str(u) for u in world["people"]}


def test_consensus_rows_carry_method_and_confidence(app, owner, world):
    table = read(app, owner, world["pid"], values="consensus")
    assert table.schema.field("label").type == pa.dictionary(pa.int32(), pa.string())
    rows = {r["external_id"]: r for r in table.to_pylist()}
    assert len(rows) == 3  # one per task
    assert rows["t0"]["label"] == "neg" and rows["t0"]["score"] == 4
    assert rows["t0"]["provenance"]["consensus_method"] == "majority"
    assert rows["t0"]["provenance"]["confidence"]["label"] == 1.0
    assert rows["t0"]["provenance"]["annotator"] is None
    # the reviewed task's consensus is the reviewer's correction
    assert rows["t1"]["label"] == "pos" and rows["t1"]["order"] == [1, 2, 3]
    assert rows["t1"]["provenance"]["consensus_method"] == "review"
    assert rows["t1"]["provenance"]["review_status"] == "correct"


def test_reviewed_values_and_no_provenance(app, owner, world):
    table = read(app, owner, world["pid"], values="reviewed", provenance="none")
    assert "provenance" not in table.schema.names
    assert table.to_pylist() == [
        table.to_pylist()[0] | {"external_id": "t1", "label": "pos", "note": "Reviewed answer"}
    ]


def test_full_provenance_names_the_workforce_an_answer_was_served_through(app, db, owner, world):
    from sqlalchemy import update

    from labelhouse.tasks.models import Assignment

    with db.session() as s:
        s.execute(
            update(Assignment)
            .where(Assignment.user_id == world["people"][0])
            .values(workforce_id=7)
        )
    rows = read(app, owner, world["pid"], provenance="full").to_pylist()
    by_person = {}
    for r in rows:
        by_person.setdefault(r["provenance"]["workforce_id"], []).append(r)
    assert sorted(by_person, key=str) == [7, None]
    assert len(by_person[7]) == 3
    p = rows[0]["provenance"]
    assert isinstance(p["annotation_id"], int) and p["lead_time_ms"] == 5000
    assert p["model_version"] in ("clf-2", None)


def test_an_empty_project_is_a_valid_parquet_file(app, db, owner):
    from tests.exports.formats.world import SCHEMA
    from tests.factories import make_project

    pid = make_project(db, owner, schema=SCHEMA)
    table = read(app, owner, pid)
    assert table.num_rows == 0 and "label" in table.schema.names
