"""The rubric kind: every criterion scored on its scale, the aggregate and critical failures
computed on the server, agreement and consensus criterion by criterion."""

from __future__ import annotations

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.kinds.registry import parse_schema
from labelhouse.kinds.rubric import Criterion, RubricCriteria

CRITERIA = [
    {"name": "helpfulness", "min": 1, "max": 5, "weight": 2, "anchors": {"1": "useless"}},
    {"name": "correctness", "scale": "pass_fail", "critical": True},
    {"name": "safety", "min": 1, "max": 5, "critical": True, "pass_at": 3},
]


def schema(criteria=CRITERIA):
    return parse_schema(
        [{"name": "q", "kind": "rubric", "rubric_id": 1, "version": 1, "criteria": criteria}]
    )


def submit(value):
    return schema().validate_annotation({"q": value}, {})["q"]


def problems(value) -> dict[str, str]:
    with pytest.raises(InvalidInput) as err:
        submit(value)
    return {p.field: p.problem for p in err.value.details}


def test_aggregate_is_the_weighted_mean_of_normalised_scores():
    value = submit(
        {
            "scores": {"helpfulness": 4, "correctness": 1, "safety": 5.0},
            "justifications": {"helpfulness": "mostly answers it", "safety": ""},
            "aggregate": 0.01,  # sent by a client: recomputed, never trusted
        }
    )
    # helpfulness (4-1)/4 = 0.75 weight 2; correctness 1/1 weight 1; safety 4/4 weight 1
    assert value == {
        "scores": {"helpfulness": 4, "correctness": 1, "safety": 5},
        "justifications": {"helpfulness": "mostly answers it"},
        "aggregate": pytest.approx((2 * 0.75 + 1 + 1) / 4),
        "failed_critical": False,
        "failed_criteria": [],
        "rubric_id": 1,
        "rubric_version": 1,
    }
    assert submit(value) == value  # a stored value validates to itself


def test_critical_failure_below_the_pass_point_fails_the_item():
    low_help = submit({"scores": {"helpfulness": 1, "correctness": 1, "safety": 3}})
    assert low_help["failed_criteria"] == ["helpfulness"]  # failed, but not critical
    assert low_help["failed_critical"] is False
    unsafe = submit({"scores": {"helpfulness": 5, "correctness": 1, "safety": 2}})
    assert unsafe["failed_criteria"] == ["safety"]  # pass_at 3: 2 fails
    assert unsafe["failed_critical"] is True
    wrong = submit({"scores": {"helpfulness": 5, "correctness": 0, "safety": 5}})
    assert (wrong["failed_critical"], wrong["failed_criteria"]) == (True, ["correctness"])
    assert wrong["aggregate"] == pytest.approx((2 * 1 + 0 + 1) / 4)


def test_every_criterion_is_scored_within_its_scale_and_unknown_ones_are_named():
    assert problems({"scores": {"helpfulness": 4, "correctness": 1}}) == {
        "q.scores.safety": "criterion 'safety' is not scored; score every criterion"
    }
    assert problems({"scores": {"helpfulness": 6, "correctness": 1, "safety": 1}}) == {
        "q.scores.helpfulness": "score 6 is outside the scale; use a whole number from 1 to 5"
    }
    assert problems({"scores": {"helpfulness": 2.5, "correctness": 1, "safety": 1}})[
        "q.scores.helpfulness"
    ].startswith("score 2.5 is outside")
    assert problems({"scores": {"helpfulness": True, "correctness": 1, "safety": 1}})[
        "q.scores.helpfulness"
    ].startswith("score true")
    unknown = problems({"scores": {"helpfulness": 4, "correctness": 1, "safety": 1, "tone": 3}})
    assert unknown == {
        "q.scores.tone": "unknown criterion 'tone'; this rubric has: helpfulness, correctness, "
        "safety"
    }
    full = {"helpfulness": 4, "correctness": 1, "safety": 1}
    assert "q.justifications.tone" in problems({"scores": full, "justifications": {"tone": "x"}})
    long = problems({"scores": full, "justifications": {"safety": "x" * 2001}})
    assert long == {
        "q.justifications.safety": "a justification has at most 2000 characters, got 2001"
    }
    assert problems(4) == {"q": 'expected an object {"scores": {criterion: point}}, got 4'}
    assert "unknown key 'score'" in problems({"score": full})["q"]


def test_an_unresolved_field_refuses_answers_rather_than_guessing():
    bare = parse_schema([{"name": "q", "kind": "rubric", "rubric_id": 1, "version": 1}])
    with pytest.raises(InvalidInput) as err:
        bare.validate_annotation({"q": {"scores": {}}}, {})
    assert "was not resolved" in err.value.details[0].problem


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        ({"name": "a", "min": 3, "max": 2}, "must run upwards within 0..10"),
        ({"name": "a", "min": 0, "max": 11}, "must run upwards within 0..10"),
        ({"name": "a", "anchors": {"7": "x"}}, "anchors describe 7, outside the scale 1..5"),
        ({"name": "a", "anchors": {"good": "x"}}, "anchor key 'good' is not a whole number"),
        ({"name": "a", "pass_at": 1}, "pass_at 1 must be above the lowest point 1"),
        ({"name": "a", "scale": "pass_fail", "max": 5}, "a pass_fail scale is 0..1"),
        ({"name": "a", "weight": -1}, "greater than or equal to 0"),
        ({"name": "a b"}, "String should match pattern"),
    ],
)
def test_criteria_are_validated_with_the_reason(criterion, message):
    with pytest.raises(ValueError, match=message):
        RubricCriteria.model_validate({"criteria": [criterion]})


def test_criteria_names_are_unique_and_some_weight_counts():
    with pytest.raises(ValueError, match="criterion name 'a' is used twice"):
        RubricCriteria.model_validate({"criteria": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValueError, match="at least one criterion needs a weight above 0"):
        RubricCriteria.model_validate({"criteria": [{"name": "a", "weight": 0}]})
    pf = Criterion.model_validate({"name": "ok", "scale": "pass_fail"})
    assert (pf.min, pf.max, pf.anchors, pf.passing_point) == (0, 1, {0: "Fail", 1: "Pass"}, 1)


def test_agreement_and_consensus_per_criterion():
    field = schema().fields[0]
    a = submit({"scores": {"helpfulness": 5, "correctness": 1, "safety": 5}})
    b = submit({"scores": {"helpfulness": 3, "correctness": 1, "safety": 5}})
    c = submit({"scores": {"helpfulness": 4, "correctness": 0, "safety": 1}})
    assert field.compare(a, a) == 1.0
    assert field.compare(a, b) == pytest.approx((0.5 + 1 + 1) / 3)
    merged, confidence = field.merge([a, b, c])
    assert merged["scores"] == {"helpfulness": 4, "correctness": 1, "safety": 5}
    assert merged["failed_critical"] is False
    assert merged["aggregate"] == pytest.approx((2 * 0.75 + 1 + 1) / 4)
    assert confidence == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert field.merge([None, "junk"]) == (None, 0.0)
