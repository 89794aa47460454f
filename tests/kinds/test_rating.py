import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.rating import RatingField


def make(**config):
    return RatingField.model_validate({"name": "quality", "kind": "rating", **config})


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (5, 5), (3.0, 3)])
def test_valid_ratings(value, expected):
    out = make().validate_value(value, {})
    assert out == expected
    assert type(out) is int


def test_zero_based_scale():
    assert make(min=0, max=100).validate_value(0, {}) == 0
    assert not make(min=0, max=10).is_empty(0)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (0, "rating 0 is outside the scale; use a number from 1 to 5"),
        (6, "rating 6 is outside"),
        (3.5, "expected a whole number from 1 to 5, got 3.5"),
        (True, "got true"),
        ("3", "got '3'"),
        (float("nan"), "got nan"),
        (None, "got null"),
        ([3], "got a list"),
    ],
)
def test_rejected_values(value, fragment):
    with pytest.raises(ValueProblem) as exc:
        make().validate_value(value, {})
    assert fragment in exc.value.problem


def test_rubric_keys_from_json_strings_become_ints():
    field = make(rubric={"1": "unusable", "5": "perfect", 3: "fine"})
    assert field.rubric == {1: "unusable", 5: "perfect", 3: "fine"}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"min": 5, "max": 5}, "min (5) must be less than max (5)"),
        ({"min": 3, "max": 1}, "must be less than max"),
        ({"min": 0, "max": 101}, "has 102 points; at most 101"),
        ({"rubric": {"0": "x"}}, "rubric describes 0, outside the scale 1..5"),
        ({"rubric": {"6": "x", 7: "y"}}, "rubric describes 6, 7"),
        ({"rubric": {"abc": "x"}}, "rubric key 'abc' is not a whole number"),
        ({"rubric": {"1.5": "x"}}, "rubric key '1.5' is not a whole number"),
        ({"rubric": {True: "x"}}, "rubric key True is not a whole number"),
        ({"rubric": {"1": "a", 1: "b"}}, "rubric point 1 is described twice"),
        ({"rubric": {"1": ""}}, "at least 1 character"),
        ({"rubric": ["a"]}, "valid dictionary"),
        ({"max": True}, "valid integer"),
        ({"min": 1.0}, "valid integer"),
        ({"max": "5"}, "valid integer"),
        ({"labels": ["a"]}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
