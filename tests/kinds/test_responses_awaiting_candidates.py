"""A pairwise or ranking task may arrive with an empty responses list, to be filled by a
model (docs/models.md); it cannot be answered until then."""

from __future__ import annotations

from labelhouse.errors import InvalidInput
from labelhouse.kinds.registry import parse_schema

SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "pref", "kind": "pairwise"},
            {"name": "order", "kind": "ranking", "responses": "ranked"},
        ]
    }
)


def test_an_empty_list_waits_for_candidates_but_cannot_be_answered():
    data = {"prompt": "Hi", "responses": [], "ranked": []}
    assert SCHEMA.check_task_data(data) == []
    assert SCHEMA.check_task_data({"prompt": "Hi", "responses": ["one"], "ranked": []}) == [
        "'responses' must hold exactly 2 responses for field 'pref', got 1"
    ]
    assert "missing key 'ranked'" in SCHEMA.check_task_data({"prompt": "Hi", "responses": []})[0]
    try:
        SCHEMA.validate_annotation({"pref": {"choice": "A"}}, data, draft=True)
    except InvalidInput as exc:
        problems = {d.field: d.problem for d in exc.details}
        assert "must hold exactly 2 responses" in problems["pref"]
    else:
        raise AssertionError("an answer about no responses was accepted")
