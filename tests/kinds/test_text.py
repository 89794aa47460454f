import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.text import TextField


def make(**config):
    return TextField.model_validate({"name": "rationale", "kind": "text", **config})


@pytest.mark.parametrize("value", ["ok", "  spaced  \n", "émoji 🙂", "x" * 100_000])
def test_text_is_stored_exactly(value):
    assert make().validate_value(value, {}) == value


def test_lengths_count_code_points():
    assert make(max_length=3).validate_value("🙂🙂🙂", {}) == "🙂🙂🙂"


@pytest.mark.parametrize(
    ("config", "value", "fragment"),
    [
        ({}, 5, "expected text (a string), got 5"),
        ({}, None, "got null"),
        ({}, ["a"], "got a list"),
        ({}, "a\x00b", "NUL character (\\u0000) at position 1"),
        ({"min_length": 5}, "abc", "too short: write at least 5 characters (got 3)"),
        ({"max_length": 1}, "ab", "too long: at most 1 character allowed (got 2)"),
        ({}, "x" * 100_001, "at most 100000 characters"),
    ],
)
def test_rejected_values(config, value, fragment):
    with pytest.raises(ValueProblem) as exc:
        make(**config).validate_value(value, {})
    assert fragment in exc.value.problem
    assert exc.value.where == ""


def test_reads_and_display_options():
    field = make(reads=["question"], placeholder="Why?", markdown=True)
    assert field.data_keys() == ("question",)
    assert field.check_data({}) == ["missing key 'question' (read by field 'rationale')"]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"min_length": 10, "max_length": 5}, "min_length (10) is more than max_length (5)"),
        ({"min_length": -1}, "greater than or equal to 0"),
        ({"max_length": 0}, "greater than or equal to 1"),
        ({"max_length": 2_000_000}, "less than or equal to 1000000"),
        ({"max_length": True}, "valid integer"),
        ({"markdown": 1}, "valid boolean"),
        ({"placeholder": "x" * 501}, "at most 500 characters"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
