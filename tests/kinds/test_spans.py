import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.spans import SpansField

TEXT = "Ada Lovelace met Charles Babbage in London."
DATA = {"text": TEXT}
LABELS = [{"value": "PER"}, {"value": "LOC"}]


def make(**config):
    config.setdefault("labels", LABELS)
    return SpansField.model_validate({"name": "entities", "kind": "spans", **config})


def span(start, end, label="PER", **extra):
    return {"start": start, "end": end, "label": label, **extra}


def test_spans_are_sorted_and_carry_their_text():
    value = [span(36, 42, "LOC"), span(17, 32), span(0, 12)]
    assert make().validate_value(value, DATA) == [
        {"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace"},
        {"start": 17, "end": 32, "label": "PER", "text": "Charles Babbage"},
        {"start": 36, "end": 42, "label": "LOC", "text": "London"},
    ]


def test_client_text_is_ignored_and_recomputed():
    out = make().validate_value([span(0, 3, text="something else")], DATA)
    assert out == [{"start": 0, "end": 3, "label": "PER", "text": "Ada"}]


def test_integral_float_offsets_are_accepted():
    assert make().validate_value([span(0.0, 3.0)], DATA)[0]["end"] == 3


def test_offsets_are_code_points():
    text = "naïve 🙂 émoji"
    out = make().validate_value([span(6, 7), span(8, 13)], {"text": text})
    assert [s["text"] for s in out] == ["🙂", "émoji"]


def test_span_touching_the_end_of_the_text():
    assert make().validate_value([span(36, 43, "LOC")], DATA)[0]["text"] == "London."


def test_adjacent_spans_do_not_overlap():
    assert len(make().validate_value([span(0, 3), span(3, 5)], DATA)) == 2


def test_overlap_allowed_when_configured():
    out = make(allow_overlap=True).validate_value([span(0, 12), span(4, 12, "LOC")], DATA)
    assert [(s["start"], s["label"]) for s in out] == [(0, "PER"), (4, "LOC")]
    # same range, different labels is also fine when overlap is allowed
    assert len(make(allow_overlap=True).validate_value([span(0, 3), span(0, 3, "LOC")], DATA)) == 2


@pytest.mark.parametrize(
    ("value", "where", "fragment"),
    [
        ("Ada", "", "expected a list of spans"),
        ([[0, 3, "PER"]], "[0]", "expected a span object"),
        ([span(0, 3, "ORG")], "[0].label", "unknown label 'ORG'; use one of: 'PER', 'LOC'"),
        ([span(0, 3, 7)], "[0].label", "expected a string, got 7"),
        ([span(-1, 3)], "[0].start", "start must be 0 or more"),
        ([span(40, 44)], "[0].end", "end (44) is past the end of the text (43 characters)"),
        ([span(5, 5)], "[0].end", "start (5) must be less than end (5)"),
        ([span(6, 2)], "[0].end", "start (6) must be less than end (2)"),
        ([span("0", 3)], "[0].start", "whole-number character offset, got '0'"),
        ([span(True, 3)], "[0].start", "got true"),
        ([span(0, 2.5)], "[0].end", "got 2.5"),
        ([span(0, None)], "[0].end", "got null"),
        ([{"start": 0, "end": 3}], "[0].label", "missing 'label'"),
        (
            [span(0, 3, score=0.9)],
            "[0]",
            "unknown key 'score'; allowed keys: start, end, label, text",
        ),
        ([span(0, 3), span(0, 3)], "[1]", "is given twice"),
        (
            [span(4, 12), span(0, 3), span(8, 20, "LOC")],
            "[2]",
            "overlaps span [4, 12) 'PER' \"Lovelace\" (item 0)",
        ),
        ([span(0, 12), span(4, 8)], "[1]", "does not allow overlapping spans"),
    ],
)
def test_rejected_values(value, where, fragment):
    with pytest.raises(ValueProblem) as exc:
        make().validate_value(value, DATA)
    assert fragment in exc.value.problem
    assert exc.value.where == where


def test_exact_duplicates_are_rejected_even_when_overlap_is_allowed():
    with pytest.raises(ValueProblem, match="given twice"):
        make(allow_overlap=True).validate_value([span(0, 3), span(0, 3)], DATA)


def test_overlap_with_an_earlier_long_span_is_found():
    # the long first span overlaps the third even though the second does not
    value = [span(0, 30), span(1, 2, "LOC"), span(20, 25)]
    with pytest.raises(ValueProblem) as exc:
        make().validate_value(value, DATA)
    assert exc.value.where == "[1]"


def test_task_without_text_cannot_be_annotated():
    with pytest.raises(ValueProblem, match="no text under 'text'"):
        make().validate_value([], {})


def test_empty_list_is_an_answer():
    field = make()
    assert not field.is_empty([])
    assert field.is_empty(None)
    assert field.validate_value([], DATA) == []


def test_check_data_reads_the_source_key():
    field = make(source="body")
    assert field.data_keys() == ("body",)
    assert field.check_data({"body": "x"}) == []
    assert field.check_data({}) == ["missing key 'body' (read by field 'entities')"]
    assert field.check_data({"body": 42}) == [
        "'body' must be a string (the text field 'entities' marks spans in), got 42"
    ]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"labels": []}, "at least 1 item"),
        (
            {"labels": [{"value": "PER", "hotkey": "p"}, {"value": "LOC", "hotkey": "p"}]},
            "duplicate hotkey 'p'",
        ),
        ({"allow_overlap": "yes"}, "valid boolean"),
        ({"source": ""}, "at least 1 character"),
        ({"options": LABELS}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
