import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.ranking import RankingField

DATA = {"prompt": "p", "responses": ["a", "b", "c"]}


def make(**config):
    return RankingField.model_validate({"name": "order", "kind": "ranking", **config})


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        ({}, [2, 3, 1], [2, 3, 1]),
        ({}, [1.0, 2, 3], [1, 2, 3]),
        ({"allow_ties": True}, [1, 3, 3], [1, 2, 2]),
        ({"allow_ties": True}, [2, 2, 3], [1, 1, 2]),
        ({"allow_ties": True}, [3, 3, 3], [1, 1, 1]),
        ({"allow_ties": True}, [3, 1, 2], [3, 1, 2]),
    ],
)
def test_valid_rankings(config, value, expected):
    assert make(**config).validate_value(value, DATA) == expected


@pytest.mark.parametrize(
    ("config", "value", "where", "fragment"),
    [
        (
            {},
            "1,2,3",
            "",
            "expected a list of 3 ranks, one per response in the task's order (1 = best)",
        ),
        ({}, [1, 2], "", "expected 3 ranks, one per response in the task's order, got 2"),
        ({}, [1, 2, 3, 4], "", "got 4"),
        ({}, [1, 2, 4], "[2]", "a rank is a whole number from 1 (best) to 3, got 4"),
        ({}, [0, 1, 2], "[0]", "got 0"),
        ({}, [1, 2.5, 3], "[1]", "got 2.5"),
        ({}, [True, 2, 3], "[0]", "got true"),
        ({}, ["1", 2, 3], "[0]", "got '1'"),
        ({}, [1, None, 2], "[1]", "got null"),
        (
            {},
            [1, 1, 2],
            "[1]",
            "rank 1 is given to responses 1 and 2; this field does not allow ties",
        ),
        ({"allow_ties": True}, [1, 2, 4], "[2]", "from 1 (best) to 3"),
    ],
)
def test_rejected_rankings(config, value, where, fragment):
    with pytest.raises(ValueProblem) as exc:
        make(**config).validate_value(value, DATA)
    assert fragment in exc.value.problem
    assert exc.value.where == where


def test_broken_task_data_is_reported_as_a_value_problem():
    with pytest.raises(
        ValueProblem, match="this task's data cannot be annotated: 'responses' must hold 2 to 20"
    ):
        make().validate_value([1], {"responses": ["only one"]})


def test_untouched_widget_value_counts_as_empty():
    field = make()
    assert field.is_empty([None, None, None])
    assert field.is_empty([])
    assert not field.is_empty([1, None, 2])


@pytest.mark.parametrize(
    ("count", "ok"),
    [(1, False), (2, True), (20, True), (21, False)],
)
def test_check_data_response_count(count, ok):
    problems = make().check_data({"prompt": "p", "responses": [f"r{i}" for i in range(count)]})
    assert (problems == []) is ok
    if not ok:
        assert "must hold 2 to 20 responses" in problems[0]


def test_check_data_uses_the_shared_response_shape():
    data = {"prompt": "p", "responses": [{"content": "a"}, {"text": "b", "id": 7}, "c"]}
    assert make().check_data(data) == []
    assert "needs a 'text'" in make().check_data({"prompt": "p", "responses": ["a", {}]})[0]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"allow_ties": 1}, "valid boolean"),
        ({"prompt": "responses"}, "prompt and responses both read 'responses'"),
        ({"strengths": ["a"]}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)
