"""Label Studio exports (made by Label Studio 1.23) → Labelhouse task and answer rows, with
the values checked against the export itself."""

from __future__ import annotations

import io
from typing import Any

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.interop.label_studio.reader import ReadReport, read_export
from labelhouse.interop.label_studio.results import Offsets
from tests.interop.label_studio.fixtures import EMAILS, conversion, export_json, read


def results(task: dict[str, Any], from_name: str) -> list[list[dict[str, Any]]]:
    """Per non-cancelled annotation, its results of one control (the fixture's truth)."""
    return [
        [r for r in a["result"] if r["from_name"] == from_name]
        for a in task["annotations"]
        if not a["was_cancelled"]
    ]


def test_classification_choices_rating_and_text() -> None:
    rows, report = read("classification")
    source = export_json("classification")
    assert [r.task["external_id"] for r in rows] == [str(t["id"]) for t in source]
    assert rows[0].task["data"] == source[0]["data"]  # data passes through untouched
    first = rows[0].annotations
    assert [a["annotator"] for a in first] == [EMAILS["1"], EMAILS["2"]]
    assert first[0]["value"] == {
        "sentiment": "Positive",
        "topics": ["Price", "Delivery"],  # in the schema's option order
        "stars": 5,
        "comment": "Happy customer.",
    }
    assert first[1]["value"] == {"sentiment": "Positive", "topics": ["Delivery"], "stars": 4}
    # lead time: seconds → milliseconds; created_at kept (as ISO 8601 with an offset)
    assert first[0]["lead_time_ms"] == round(source[0]["annotations"][0]["lead_time"] * 1000)
    assert first[0]["created_at"].startswith(source[0]["annotations"][0]["created_at"][:19])
    assert first[0]["created_at"].endswith("+00:00")
    # two TextArea submissions become one text, a line each
    assert rows[1].annotations[0]["value"]["comment"] == "Defect.\nNo support reply."
    # B's skipped answer is not an answer
    assert len(rows[1].annotations) == 1 and report.cancelled == 1
    assert rows[0].task["predictions"] == [
        {
            "value": {"sentiment": "Positive", "stars": 4},
            "model_version": "sentiment-v1",
            "score": 0.93,
        }
    ]
    assert "predictions" not in rows[2].task
    assert report.tasks == 3 and report.annotations == 4 and report.predictions == 2
    assert report.summary() == ["1 skipped (cancelled) answers were not carried over"]


def test_ner_spans_keep_offsets_and_count_characters_not_utf16_units() -> None:
    rows, report = read("ner")
    source = export_json("ner")
    for row, task in zip(rows, source, strict=True):
        text = task["data"]["text"]
        for answer, given in zip(row.annotations, results(task, "entities"), strict=True):
            # every span quotes the text Label Studio quoted, and covers it exactly
            assert sorted(s["text"] for s in answer["value"]["entities"]) == sorted(
                r["value"]["text"] for r in given
            )
            for span in answer["value"]["entities"]:
                assert text[span["start"] : span["end"]] == span["text"]
    plain = rows[0].annotations[0]["value"]["entities"]
    assert plain[0] == {"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace"}
    # "Grace 👩‍💻 Hopper…": Label Studio counts two emoji as two UTF-16 units each
    emoji = {s["text"]: s for s in rows[1].annotations[0]["value"]["entities"]}
    ls = {r["value"]["text"]: r["value"] for r in results(source[1], "entities")[0]}
    assert ls["Hopper"]["start"] == 12 and emoji["Hopper"]["start"] == 10
    assert emoji["Remington Rand"] == {
        "start": 24,
        "end": 38,
        "label": "ORG",
        "text": "Remington Rand",
    }
    assert rows[1].task["predictions"][0]["value"]["entities"][0]["start"] == 24
    assert report.summary() == []


def test_boxes_percent_becomes_pixels_of_the_original_size() -> None:
    rows, _ = read("boxes")
    source = export_json("boxes")
    for row, task in zip(rows, source, strict=True):
        # the upload path becomes the uploaded file's name; the size comes from the results
        assert row.task["data"]["image"] == task["data"]["image"].rsplit("/", 1)[-1]
        for answer, given in zip(row.annotations, results(task, "objects"), strict=True):
            for box, r in zip(answer["value"]["objects"], given, strict=True):
                w, h = r["original_width"], r["original_height"]
                assert (row.task["data"]["image_width"], row.task["data"]["image_height"]) == (w, h)
                v = r["value"]
                assert box == {
                    "x": pytest.approx(round(v["x"] * w / 100, 2)),
                    "y": pytest.approx(round(v["y"] * h / 100, 2)),
                    "width": pytest.approx(round(v["width"] * w / 100, 2)),
                    "height": pytest.approx(round(v["height"] * h / 100, 2)),
                    "label": v["rectanglelabels"][0],
                }
    street = rows[0].annotations[0]["value"]["objects"]
    assert street == [
        {"x": 64, "y": 96, "width": 160, "height": 144, "label": "car"},
        {"x": 400, "y": 200, "width": 78.98, "height": 192.48, "label": "person"},  # rounded
    ]
    assert rows[0].task["predictions"][0]["value"]["objects"][0]["x"] == 60.8


def test_pairwise_left_right_become_a_b_over_a_built_responses_list() -> None:
    rows, _ = read("pairwise")
    source = export_json("pairwise")
    data = rows[1].task["data"]
    assert data["preference_responses"] == [
        source[1]["data"]["answer_a"],
        source[1]["data"]["answer_b"],
    ]
    assert data["prompt"] == "Capital of France?"  # the original keys stay
    assert [a["value"]["preference"]["choice"] for a in rows[1].annotations] == ["A", "B"]
    assert [a["value"]["preference"]["choice"] for a in rows[0].annotations] == ["B", "B"]
    assert rows[1].task["predictions"][0]["value"] == {
        "preference": {"choice": "A", "strength": None}
    }


def test_ranker_order_becomes_one_rank_per_item() -> None:
    rows, _ = read("ranker")
    task = export_json("ranker")[0]
    items = task["data"]["results"]
    responses = rows[0].task["data"]["rank_responses"]
    assert [r["id"] for r in responses] == [i["id"] for i in items]
    assert responses[0]["text"] == f"{items[0]['title']}\n\n{items[0]['body']}"
    for answer, given in zip(rows[0].annotations, results(task, "rank"), strict=True):
        order = given[0]["value"]["ranker"]["rank"]
        assert answer["value"]["rank"] == [order.index(i["id"]) + 1 for i in items]
    assert rows[0].annotations[0]["value"]["rank"] == [2, 1, 3]  # mdn, blog, wiki
    assert rows[0].task["predictions"][0]["value"]["rank"] == [3, 2, 1]


def test_the_quick_export_lists_predictions_by_id_and_annotators_by_id() -> None:
    rows, report = read("classification", "classification.quick-export.json")
    assert [a["annotator"] for a in rows[0].annotations] == ["1", "2"]
    assert all("predictions" not in r.task for r in rows)
    assert report.prediction_ids == 2
    assert any("Export dialog" in s for s in report.summary())


def _read(tasks: bytes, name: str = "classification") -> tuple[list[Any], ReadReport]:
    report = ReadReport()
    return list(read_export(io.BytesIO(tasks), conversion(name), report)), report


def test_results_that_cannot_be_carried_over_are_dropped_with_a_warning() -> None:
    rows, report = _read(
        b'[{"id": 7, "data": {"text": "x"}, "annotations": [{"id": 1, "completed_by": 3, '
        b'"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", '
        b'"value": {"choices": ["Angry"]}}, {"from_name": "stars", "to_name": "text", '
        b'"type": "rating", "value": {"rating": 4}}, {"from_name": "gone", "type": "x", '
        b'"value": {}}]}]}]'
    )
    assert rows[0].annotations[0]["value"] == {"stars": 4}
    summary = report.summary()
    assert any(
        s.startswith("task 7, annotation 1: sentiment: unknown option 'Angry'") for s in summary
    )
    assert "1 results of the control 'gone' were dropped: it was not carried over" in summary


def test_a_rotated_box_is_dropped_with_a_warning() -> None:
    rows, report = _read(
        b'[{"id": 1, "data": {"image": "/data/upload/1/a.png"}, "annotations": [{"id": 2, '
        b'"completed_by": {"id": 1, "email": "a@x"}, "result": [{"from_name": "objects", '
        b'"to_name": "image", "type": "rectanglelabels", "original_width": 100, '
        b'"original_height": 100, "value": {"x": 1, "y": 1, "width": 5, "height": 5, '
        b'"rotation": 30, "rectanglelabels": ["car"]}}]}]}]',
        "boxes",
    )
    assert rows[0].annotations[0]["value"] == {"objects": []}
    assert "rotated by 30°" in report.summary()[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"data": {}}', "a .json file must hold one JSON array"),
        (b'[{"text": "no data object"}]', "is not a task with a 'data' object"),
        (b"[{", "not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_label_studio_export_is_refused(content: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _read(content)
    assert expected in caught.value.message


def test_utf16_offsets_round_trip() -> None:
    text = "a😀b👩‍💻c"
    offsets = Offsets(text)
    for index in range(len(text) + 1):
        assert offsets.to_index(offsets.to_units(index)) == index
        assert offsets.to_units(index) == len(text[:index].encode("utf-16-le")) // 2
