"""Label Studio → Labelhouse rows → Label Studio JSON (the ``label_studio`` export format)
→ read again: the same tasks, predictions and answers (pure: records built from the rows
as the export's record stream carries them; tests/interop/label_studio/test_service.py
goes through the database)."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

from labelhouse.exports.writers import FORMATS
from labelhouse.interop.label_studio.config import parse_config
from labelhouse.interop.label_studio.layout import write_config
from labelhouse.interop.label_studio.reader import ReadReport, read_export
from labelhouse.interop.label_studio.writer import annotator_email
from tests.interop.label_studio.fixtures import PROJECTS, conversion, read

ANNOTATOR_IDS = {"annotator.a@example.com": 11, "annotator.b@example.com": 12}


def records(name: str) -> list[dict[str, Any]]:
    """The export records (exports/records.py's shape) of the tasks the rows describe."""
    rows, _ = read(name)
    out = []
    for task_id, row in enumerate(rows, start=100):
        annotations = [
            {
                "id": task_id * 10 + i,
                "annotator_id": ANNOTATOR_IDS[a["annotator"]],
                "status": "submitted",
                "value": a["value"],
                "lead_time_ms": a["lead_time_ms"],
                "created_at": a["created_at"],
                "updated_at": a["created_at"],
            }
            for i, a in enumerate(row.annotations)
        ]
        out.append(
            {
                "id": task_id,
                "external_id": row.task["external_id"],
                "data": row.task["data"],
                "created_at": None,
                "annotations": annotations,
                "predictions": row.task.get("predictions", []),
                "review": None,
            }
        )
    return out


def write(name: str) -> bytes:
    schema = conversion(name).schema
    fmt = FORMATS["label_studio"]
    return b"".join(
        fmt.write(
            iter(records(name)),
            field_names=[f.name for f in schema.fields],
            data_keys=sorted(schema.data_keys()),
            consensus=False,
            csv_formulas="escape",
            schema=schema,
            options={},
        )
    )


@pytest.mark.parametrize("name", PROJECTS)
def test_label_studio_json_written_by_labelhouse_reads_back_the_same(name: str) -> None:
    written = write(name)
    config = parse_config(write_config(conversion(name).schema))
    report = ReadReport()
    again = list(read_export(io.BytesIO(written), config, report))
    original, _ = read(name)
    assert len(again) == len(original)
    for before, after in zip(original, again, strict=True):
        assert after.task["external_id"] == before.task["external_id"]  # via meta.labelhouse
        assert after.task.get("predictions") == before.task.get("predictions")
        # the data keeps every key it had (the writer only adds what Label Studio shows)
        assert {k: after.task["data"][k] for k in before.task["data"]} == before.task["data"]
        assert [a["value"] for a in after.annotations] == [a["value"] for a in before.annotations]
        assert [a["lead_time_ms"] for a in after.annotations] == [
            a["lead_time_ms"] for a in before.annotations
        ]
        assert [a["annotator"] for a in after.annotations] == [
            annotator_email(ANNOTATOR_IDS[a["annotator"]]) for a in before.annotations
        ]
    assert report.summary() == []


def test_the_written_export_is_label_studio_shaped() -> None:
    tasks = orjson.loads(write("boxes"))
    first = tasks[0]
    assert set(first) >= {"id", "data", "annotations", "predictions", "meta"}
    box = first["annotations"][0]["result"][0]
    assert box["type"] == "rectanglelabels" and box["from_name"] == "objects"
    assert (box["original_width"], box["original_height"]) == (640, 480)
    assert box["value"] == {
        "x": 10.0,
        "y": 20.0,
        "width": 25.0,
        "height": 30.0,
        "rotation": 0,
        "rectanglelabels": ["car"],
    }
    assert first["annotations"][0]["completed_by"] == {
        "id": 11,
        "email": "annotator-11@labelhouse.invalid",
    }
    assert first["annotations"][0]["lead_time"] == 55.0
    spans = orjson.loads(write("ner"))[1]["annotations"][0]["result"]
    hopper = next(r for r in spans if r["value"]["text"] == "Hopper")
    assert (hopper["value"]["start"], hopper["value"]["end"]) == (12, 18)  # UTF-16 units again
    pair = orjson.loads(write("pairwise"))[0]
    assert (pair["data"]["preference_a"], pair["data"]["preference_b"]) == ("9", "7")
    assert pair["annotations"][0]["result"][0]["value"] == {"selected": "right"}


def test_what_label_studio_cannot_hold_is_left_out() -> None:
    schema = parse_config(
        '<View><Header value="$prompt"/><Text name="a" value="$a"/><Text name="b" value="$b"/>'
        '<Pairwise name="p" toName="a,b"/><Rating name="r" toName="a" maxRating="3"/></View>'
    ).schema
    record = {
        "id": 1,
        "external_id": None,
        "data": {"prompt": "?", "p_responses": ["x", "y"]},
        "annotations": [
            {
                "id": 5,
                "annotator_id": 2,
                "value": {"p": {"choice": "tie", "strength": None}, "r": 2},
                "lead_time_ms": None,
            }
        ],
        "predictions": [],
    }
    [task] = orjson.loads(b"".join(FORMATS["label_studio"].write(iter([record]), schema=schema)))
    assert [r["type"] for r in task["annotations"][0]["result"]] == ["rating"]  # no tie


@pytest.mark.parametrize("name", PROJECTS)
def test_label_studio_itself_accepts_what_labelhouse_writes_and_gives_it_back(name: str) -> None:
    """``NAME.roundtrip.*``: Labelhouse's config and export of each fixture
    (``labelhouse_side.py``) loaded into Label Studio 1.23 and exported by it again
    (``generate.py --reimport``): the config parses to the same schema, and the tasks,
    predictions and answers read back the same."""
    from tests.interop.label_studio.fixtures import FIXTURES, config_text

    config = parse_config((FIXTURES / f"{name}.roundtrip.config.xml").read_text())
    assert config.document == parse_config(config_text(name)).document
    report = ReadReport()
    with (FIXTURES / f"{name}.roundtrip.export.json").open("rb") as stream:
        again = list(read_export(stream, config, report))
    original, _ = read(name)
    assert [t.task["external_id"] for t in again] == [t.task["external_id"] for t in original]
    for before, after in zip(original, again, strict=True):
        assert after.task.get("predictions") == before.task.get("predictions")
        assert [a["value"] for a in after.annotations] == [a["value"] for a in before.annotations]
    assert report.summary() == []


def test_the_format_takes_an_annotators_option() -> None:
    from labelhouse.errors import InvalidInput

    schema = conversion("ner").schema
    parse = FORMATS["label_studio"].parse_options
    assert parse(schema, {}) == {"annotators": "keep"}
    assert parse(schema, {"annotators": "omit"}) == {"annotators": "omit"}
    with pytest.raises(InvalidInput) as caught:
        parse(schema, {"annotators": "emails", "ties": "keep"})
    assert {p.field for p in caught.value.details} == {"annotators", "ties"}
    written = b"".join(
        FORMATS["label_studio"].write(
            iter(records("ner")), schema=schema, options={"annotators": "omit"}
        )
    )
    assert all("completed_by" not in a for t in orjson.loads(written) for a in t["annotations"])
