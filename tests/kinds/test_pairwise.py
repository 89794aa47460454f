import re

import pytest
from pydantic import ValidationError

from labelhouse.kinds._responses import Response
from labelhouse.kinds.base import ValueProblem
from labelhouse.kinds.pairwise import PairwiseField

DATA = {"prompt": "Say hi", "responses": ["Hi!", {"text": "Hello.", "id": "r2", "model": "m"}]}


def make(**config):
    return PairwiseField.model_validate({"name": "preference", "kind": "pairwise", **config})


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        ({}, {"choice": "A"}, {"choice": "A", "strength": None}),
        ({}, {"choice": "B", "strength": None}, {"choice": "B", "strength": None}),
        ({}, {"choice": "tie"}, {"choice": "tie", "strength": None}),
        (
            {"strengths": ["slightly", "much"]},
            {"choice": "B", "strength": "much"},
            {"choice": "B", "strength": "much"},
        ),
        ({"strengths": ["slightly"]}, {"choice": "A"}, {"choice": "A", "strength": None}),
        (
            {"strengths": ["slightly"], "strength_required": True},
            {"choice": "tie"},
            {"choice": "tie", "strength": None},
        ),
    ],
)
def test_valid_values_are_normalised(config, value, expected):
    assert make(**config).validate_value(value, DATA) == expected


@pytest.mark.parametrize(
    ("config", "value", "where", "fragment"),
    [
        ({}, "A", "", "expected an object like"),
        ({}, {}, ".choice", "missing 'choice'"),
        ({}, {"choice": "A", "why": "x"}, "", "unknown key 'why'; allowed keys: choice, strength"),
        ({}, {"choice": "left"}, ".choice", "choice must be one of 'A', 'B', 'tie'"),
        ({}, {"choice": "a"}, ".choice", "got 'a'"),
        ({}, {"choice": 0}, ".choice", "got 0"),
        (
            {"allow_tie": False},
            {"choice": "tie"},
            ".choice",
            "this field does not allow ties; choice must be one of 'A', 'B'",
        ),
        (
            {},
            {"choice": "A", "strength": "much"},
            ".strength",
            "this field has no strengths; send null",
        ),
        (
            {"strengths": ["slightly", "much"]},
            {"choice": "A", "strength": "very"},
            ".strength",
            "unknown strength 'very'; use one of 'slightly', 'much'",
        ),
        (
            {"strengths": ["slightly"]},
            {"choice": "A", "strength": 1},
            ".strength",
            "unknown strength 1",
        ),
        (
            {"strengths": ["slightly"]},
            {"choice": "tie", "strength": "slightly"},
            ".strength",
            "a tie has no strength",
        ),
        (
            {"strengths": ["slightly"], "strength_required": True},
            {"choice": "B"},
            ".strength",
            "say how strong the preference is: one of 'slightly'",
        ),
    ],
)
def test_rejected_values(config, value, where, fragment):
    with pytest.raises(ValueProblem) as exc:
        make(**config).validate_value(value, DATA)
    assert fragment in exc.value.problem
    assert exc.value.where == where


def test_untouched_widget_value_counts_as_empty():
    field = make()
    assert field.is_empty({"choice": None, "strength": None})
    assert field.is_empty({})
    assert field.is_empty(None)
    assert not field.is_empty({"choice": "A"})
    assert not field.is_empty({"choice": None, "other": None})


def test_responses_are_read_in_task_order():
    assert make().read_responses(DATA) == [Response("Hi!"), Response("Hello.", "r2", "m")]
    assert make().read_responses({"responses": [{"content": "x", "id": 3}, "y"]})[0] == Response(
        "x", 3
    )


def test_data_keys():
    assert make().data_keys() == ("prompt", "responses")
    assert make(prompt=None).data_keys() == ("responses",)
    assert make(prompt="question", responses="answers").data_keys() == ("question", "answers")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"responses": ["a", "b"]}, "missing key 'prompt' (read by field 'preference')"),
        ({"prompt": "p"}, "missing key 'responses'"),
        (
            {"prompt": 3, "responses": ["a", "b"]},
            "'prompt' (the prompt) must be a string or a conversation",
        ),
        (
            {"prompt": "p", "responses": "a"},
            "'responses' must be a list of exactly 2 responses (read by field 'preference'), got 'a'",
        ),
        (
            {"prompt": "p", "responses": ["a", "b", "c"]},
            "must hold exactly 2 responses for field 'preference', got 3",
        ),
        ({"prompt": "p", "responses": ["a"]}, "got 1"),
        (
            {"prompt": "p", "responses": ["a", 2]},
            "'responses'[1] must be a string or an object with a 'text' string, got 2",
        ),
        (
            {"prompt": "p", "responses": ["a", {"body": "b"}]},
            "'responses'[1] needs a 'text' (or 'content') string, got null",
        ),
        (
            {"prompt": "p", "responses": ["a", {"text": "b", "id": True}]},
            "'id' must be a string or a whole number, got true",
        ),
        (
            {"prompt": "p", "responses": ["a", {"text": "b", "model": 1}]},
            "'model' must be a string, got 1",
        ),
    ],
)
def test_check_data_problems(data, fragment):
    problems = make().check_data(data)
    assert len(problems) == 1
    assert fragment in problems[0]


def test_check_data_accepts_good_data_and_no_prompt():
    assert make().check_data(DATA) == []
    assert make(prompt=None).check_data({"responses": ["a", "b"]}) == []


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"strength_required": True}, "strength_required is set but no strengths are listed"),
        ({"strengths": ["much", "much"]}, "'much' is listed twice"),
        ({"strengths": [""]}, "at least 1 character"),
        ({"prompt": "x", "responses": "x"}, "prompt and responses both read 'x'"),
        ({"allow_tie": "false"}, "valid boolean"),
        ({"responses": None}, "valid string"),
    ],
)
def test_bad_config_is_rejected(config, fragment):
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        make(**config)


@pytest.mark.parametrize("kind", ["pairwise", "ranking"])
def test_no_prompt_survives_the_stored_schema(kind):
    """Schemas are stored with ``exclude_none``; an explicit ``"prompt": null`` used to be
    dropped there, so the stored schema read ``data["prompt"]`` again on reload."""
    from labelhouse.kinds.registry import parse_schema

    stored = parse_schema({"fields": [{"name": "pref", "kind": kind, "prompt": None}]})
    document = stored.model_dump(mode="json", exclude_none=True)
    assert document["fields"][0]["prompt"] is None
    reloaded = parse_schema(document).fields[0]
    assert reloaded.prompt is None
    assert reloaded.data_keys() == ("responses",)
    default = parse_schema({"fields": [{"name": "pref", "kind": kind}]}).fields[0]
    assert default.model_dump(mode="json", exclude_none=True)["prompt"] == "prompt"
