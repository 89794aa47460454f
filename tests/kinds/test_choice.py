import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.choice import ChoiceField


def make(**config):
    config.setdefault("options", [{"value": "pos", "hotkey": "1"}, {"value": "neg", "hotkey": "2"}])
    return ChoiceField.model_validate({"name": "sentiment", "kind": "choice", **config})


def test_valid_value_is_returned_unchanged():
    assert make().validate_value("neg", {}) == "neg"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("neutral", "unknown option 'neutral'; use one of: 'pos', 'neg'"),
        ("Pos", "unknown option 'Pos'"),
        (1, "expected a string, got 1"),
        (True, "got true"),
        (["pos"], "got a list"),
        ({"value": "pos"}, "got an object"),
    ],
)
def test_rejected_values(value, fragment):
    with pytest.raises(ValueProblem) as exc:
        make().validate_value(value, {})
    assert fragment in exc.value.problem
    assert exc.value.where == ""


def test_long_option_lists_are_elided_in_messages():
    field = make(options=[{"value": f"o{i}"} for i in range(30)])
    with pytest.raises(ValueProblem, match=r"… \(10 more\)"):
        field.validate_value("nope", {})


def test_reads_are_data_keys_and_required_in_task_data():
    field = make(reads=["text", "context"])
    assert field.data_keys() == ("text", "context")
    assert field.check_data({"text": "hi", "context": "x"}) == []
    assert field.check_data({"text": "hi"}) == ["missing key 'context' (read by field 'sentiment')"]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"options": []}, "at least 1 item"),
        ({"options": [{"value": "a"}, {"value": "a"}]}, "duplicate option value 'a'"),
        (
            {"options": [{"value": "a", "hotkey": "x"}, {"value": "b", "hotkey": "x"}]},
            "duplicate hotkey 'x'",
        ),
        ({"options": [{"value": f"o{i}"} for i in range(201)]}, "at most 200 items"),
        ({"options": [{"value": "a", "colour": "#fff"}]}, "Extra inputs are not permitted"),
        ({"reads": ["text", "text"]}, "'text' is listed twice"),
        ({"reads": [""]}, "at least 1 character"),
        ({"kind": "choices"}, "Input should be 'choice'"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
