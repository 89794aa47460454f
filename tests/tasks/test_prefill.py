"""The shared pre-fill rule on its own (pure): what an answer did with each pre-filled
field — kept, changed or cleared — for every kind, with the kind's idea of "empty"."""

from __future__ import annotations

import pytest

from labelhouse.kinds.registry import parse_schema
from labelhouse.tasks.prefill import field_outcome, shown_prediction

OPTIONS = [{"value": v} for v in "abc"]
SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "label", "kind": "choice", "options": [{"value": "pos"}, {"value": "neg"}]},
            {"name": "tags", "kind": "choices", "options": OPTIONS, "min_selected": 0},
            {"name": "ents", "kind": "spans", "source": "text", "labels": [{"value": "PER"}]},
            {"name": "stars", "kind": "rating", "min": 1, "max": 5},
            {"name": "note", "kind": "text"},
            {"name": "fix", "kind": "edit", "source": "reply"},
            {"name": "pref", "kind": "pairwise"},
        ]
    }
)
SPAN = {"start": 0, "end": 3, "label": "PER"}
EDIT = {"text": "Paris.", "changed": True, "original_sha256": "ab", "ops": [["+", "Paris."]]}
# field: (predicted, kept answer, changed answer, cleared answers)
CASES = {
    "label": ("pos", "pos", "neg", [None, ""]),
    "tags": (["a", "b"], ["a", "b"], ["a"], [None]),  # [] is a real answer here: changed
    "ents": ([SPAN], [SPAN], [SPAN | {"end": 4}], [None]),  # [] is "nothing to mark"
    "stars": (4, 4, 2, [None]),
    "note": ("short", "short", "longer", [None, ""]),
    "fix": (EDIT, EDIT, EDIT | {"text": "Lyon."}, [None, {"text": None}]),
    "pref": ({"choice": "a"}, {"choice": "a"}, {"choice": "b"}, [{"choice": None}, None]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_kept_changed_cleared_per_kind(name):
    kind = SCHEMA.field(name)
    assert kind is not None
    predicted, kept, changed, cleared = CASES[name]
    assert field_outcome(name, {name: predicted}, {name: kept}, kind) == "kept"
    assert field_outcome(name, {name: predicted}, {name: changed}, kind) == "changed"
    for empty in cleared:
        assert field_outcome(name, {name: predicted}, {name: empty}, kind) == "cleared"
    assert field_outcome(name, {name: predicted}, {}, kind) == "cleared"  # key removed
    # nothing pre-filled for the field: no outcome, whatever the answer
    assert field_outcome(name, {}, {name: kept}, kind) is None
    assert field_outcome(name, {name: None}, {name: kept}, kind) is None
    assert field_outcome(name, None, {name: kept}, kind) is None


def test_emptiness_is_the_kinds():
    tags, ents = SCHEMA.field("tags"), SCHEMA.field("ents")
    # a multi-choice allowing zero options: selecting none of the predicted ones is a change
    assert field_outcome("tags", {"tags": ["a"]}, {"tags": []}, tags) == "changed"
    # an empty span list predicted is a pre-filled answer ("nothing to mark") to keep or not
    assert field_outcome("ents", {"ents": []}, {"ents": []}, ents) == "kept"
    assert field_outcome("ents", {"ents": []}, {"ents": [SPAN]}, ents) == "changed"
    # without a kind (export provenance) the generic rule applies: [] is empty
    assert field_outcome("ents", {"ents": []}, {"ents": []}) is None
    assert field_outcome("tags", {"tags": ["a"]}, {"tags": []}) == "cleared"


def test_the_shown_prediction_is_the_highest_scoring_first_of_equals():
    a, b, c = {"score": None}, {"score": 0.5}, {"score": 0.5, "n": 2}
    assert shown_prediction([a, b, c]) is b
    assert shown_prediction([a]) is a
    assert shown_prediction([]) is None and shown_prediction(None) is None
