import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.choices import ChoicesField

OPTIONS = [{"value": "toxic"}, {"value": "spam"}, {"value": "off_topic"}]


def make(**config):
    config.setdefault("options", OPTIONS)
    return ChoicesField.model_validate({"name": "flags", "kind": "choices", **config})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["toxic"], ["toxic"]),
        (["off_topic", "toxic"], ["toxic", "off_topic"]),  # normalised to option order
        (["off_topic", "spam", "toxic"], ["toxic", "spam", "off_topic"]),
    ],
)
def test_values_are_normalised_to_option_order(value, expected):
    assert make().validate_value(value, {}) == expected


@pytest.mark.parametrize(
    ("config", "value", "where", "fragment"),
    [
        ({}, "toxic", "", "expected a list of option values"),
        ({}, ["toxic", "toxic"], "[1]", "'toxic' is selected twice"),
        (
            {},
            ["toxic", "nsfw"],
            "[1]",
            "unknown option 'nsfw'; use one of: 'toxic', 'spam', 'off_topic'",
        ),
        ({}, [1], "[0]", "expected a string, got 1"),
        ({}, [], "", "select at least 1 option (got 0)"),
        ({"min_selected": 2}, ["spam"], "", "select at least 2 options (got 1)"),
        ({"max_selected": 1}, ["spam", "toxic"], "", "select at most 1 option (got 2)"),
    ],
)
def test_rejected_values(config, value, where, fragment):
    with pytest.raises(ValueProblem) as exc:
        make(**config).validate_value(value, {})
    assert fragment in exc.value.problem
    assert exc.value.where == where


def test_empty_selection_is_an_answer_only_when_allowed():
    assert make().is_empty([])
    zero = make(min_selected=0)
    assert not zero.is_empty([])
    assert zero.validate_value([], {}) == []
    assert zero.is_empty(None)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"min_selected": 4}, "min_selected (4) is more than the number of options (3)"),
        ({"max_selected": 4}, "max_selected (4) is more than the number of options (3)"),
        ({"min_selected": 2, "max_selected": 1}, "max_selected (1) is less than min_selected (2)"),
        ({"min_selected": -1}, "greater than or equal to 0"),
        ({"max_selected": 0}, "greater than or equal to 1"),
        ({"min_selected": True}, "valid integer"),
        ({"max_selected": 2.0}, "valid integer"),
        ({"options": [{"value": "a"}, {"value": "a"}]}, "duplicate option value"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
