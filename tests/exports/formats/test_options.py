"""The training formats' options: an unknown one is a 422 naming it, a bad value a 422
naming the option; keeping real annotator ids is on record in the audit log. And the pure
writers: boxes get their typed column, and rows stream without reading every record."""

from __future__ import annotations

import io
import itertools

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from labelhouse.audit.models import AuditEvent
from labelhouse.exports.formats import parquet
from labelhouse.exports.writers import FORMATS
from labelhouse.kinds.registry import parse_schema
from tests.exports.formats.world import SCHEMA
from tests.factories import login, make_project
from tests.helpers_data import BOXES_SCHEMA, detached

OURS = ["parquet", "hf_dataset", "trl_preference", "trl_kto", "trl_sft"]


@pytest.mark.parametrize("fmt", OURS)
def test_an_unknown_option_is_a_422_naming_it(app, db, owner, fmt):
    pid = make_project(db, owner, schema=SCHEMA)
    r = login(app, owner).get(
        f"/api/projects/{pid}/export", params={"format": fmt, "colour": "red"}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert "colour" in error["message"]
    [problem] = error["details"]
    assert problem["field"] == "colour" and "use one of:" in problem["problem"]
    declared = [o.name for o in FORMATS[fmt].option_help]
    assert problem["problem"].endswith(", ".join(declared))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "parquet", "values": "median"}, "values"),
        ({"format": "parquet", "provenance": "most"}, "provenance"),
        ({"format": "trl_kto", "threshold": "high"}, "threshold"),
        ({"format": "trl_preference", "field": "label"}, "field"),
        ({"format": "trl_preference", "field": "pref", "ties": "maybe"}, "ties"),
    ],
)
def test_bad_option_values_are_422_naming_the_option(app, db, owner, params, field):
    pid = make_project(db, owner, schema=SCHEMA)
    r = login(app, owner).get(f"/api/projects/{pid}/export", params=params)
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == [field]


def test_a_schema_without_the_field_kind_is_refused(app, db, owner):
    pid = make_project(db, owner)  # a single choice field
    r = login(app, owner).get(f"/api/projects/{pid}/export", params={"format": "trl_sft"})
    assert r.status_code == 422
    assert "needs a text field" in r.json()["error"]["message"]


def test_keeping_real_annotator_ids_is_audited(app, db, owner):
    pid = make_project(db, owner, schema=SCHEMA)
    r = login(app, owner).get(
        f"/api/projects/{pid}/export", params={"format": "parquet", "annotators": "ids"}
    )
    assert r.status_code == 200
    [event] = detached(db, select(AuditEvent).where(AuditEvent.action == "project.export"))
    assert event.details == {"format": "parquet", "options": {"annotators": "ids"}}


def test_every_training_format_declares_its_options_and_description():
    for name in OURS:
        fmt = FORMATS[name]
        assert fmt.description and fmt.option_help
        assert len({o.name for o in fmt.option_help}) == len(fmt.option_help)
        assert "provenance" in {o.name for o in fmt.option_help}


def box_records():
    for i in itertools.count():
        yield {
            "id": i,
            "external_id": None,
            "data": {"image": f"img{i}.png"},
            "annotations": [
                {
                    "id": i,
                    "annotator_id": 1,
                    "value": {
                        "objects": [{"x": 1, "y": 2.5, "width": 10, "height": 20, "label": "cat"}]
                    },
                }
            ],
            "predictions": [],
            "review": None,
        }


def test_boxes_are_a_list_of_typed_structs_and_rows_stream():
    schema = parse_schema(BOXES_SCHEMA)
    options = parquet.parse_table_options(schema, {})
    chunks = parquet.write_parquet(
        itertools.islice(box_records(), 20_000),
        schema=schema,
        data_keys=["image"],
        field_names=["objects"],
        options=options,
    )
    body = b"".join(chunks)
    table = pq.read_table(io.BytesIO(body))
    assert table.schema.field("objects").type == pa.list_(
        pa.struct(
            [(k, pa.float64()) for k in ("x", "y", "width", "height")] + [("label", pa.string())]
        )
    )
    assert table.num_rows == 20_000
    assert table.column("objects")[0].as_py() == [
        {"x": 1.0, "y": 2.5, "width": 10.0, "height": 20.0, "label": "cat"}
    ]
    assert pq.ParquetFile(io.BytesIO(body)).num_row_groups == 2  # 16,384 rows per group
    # an endless input still gives a first row group: nothing waits for the last record
    endless = parquet.write_parquet(
        box_records(), schema=schema, data_keys=["image"], field_names=["objects"], options=options
    )
    assert len(next(endless)) > 0


def test_a_data_key_named_like_a_column_gets_a_prefix():
    from labelhouse.exports.formats.columns import data_columns

    assert data_columns(["label", "provenance", "text"], ["label"]) == {
        "data.label": "label",
        "data.provenance": "provenance",
        "text": "text",
    }
