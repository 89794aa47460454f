import json

import pytest

from labelhouse.errors import InvalidInput, Problem
from labelhouse.kinds import KINDS, FieldKind, LabelSchema, Option, ValueProblem, parse_schema
from labelhouse.kinds.registry import parse_schema as registry_parse_schema

FIELDS = [
    {
        "name": "sentiment",
        "kind": "choice",
        "reads": ["text"],
        "options": [{"value": "pos"}, {"value": "neg"}],
    },
    {
        "name": "topics",
        "kind": "choices",
        "options": [{"value": "a"}, {"value": "b"}],
        "required": False,
    },
    {"name": "entities", "kind": "spans", "labels": [{"value": "PER"}]},
    {"name": "note", "kind": "text", "required": False},
    {"name": "score", "kind": "rating", "rubric": {"1": "bad", "5": "good"}},
    {"name": "pref", "kind": "pairwise", "strengths": ["slightly", "much"]},
    {"name": "order", "kind": "ranking", "prompt": None},
    {"name": "objects", "kind": "boxes", "labels": [{"value": "cat"}]},
]

YAML = """
fields:
  - name: sentiment
    kind: choice
    reads: [text]
    options:
      - {value: pos, label: Positive, hotkey: "1", color: "#00aa00"}
      - {value: neg, label: Negative, hotkey: "2"}
  - name: score
    kind: rating
    min: 0
    max: 10
    rubric:
      0: useless
      10: perfect
"""

TEXT = "Ada met Bob."
DATA = {
    "text": TEXT,
    "prompt": "p",
    "responses": ["a", "b"],
    "image": "img.png",
    "image_width": 100,
    "image_height": 100,
}


def problems(document):
    with pytest.raises(InvalidInput) as exc:
        parse_schema(document)
    return exc.value.details


def test_package_exports():
    assert parse_schema is registry_parse_schema
    assert issubclass(KINDS["choice"], FieldKind)
    assert {Option, ValueProblem, LabelSchema}


def test_every_kind_is_registered_once():
    assert sorted(KINDS) == sorted(
        [
            "choice",
            "choices",
            "spans",
            "text",
            "rating",
            "pairwise",
            "ranking",
            "boxes",
            "edit",
            "rubric",
        ]
    )
    for name, cls in KINDS.items():
        assert cls.kind_name == name


@pytest.mark.parametrize(
    "document",
    [
        {"fields": FIELDS},
        FIELDS,  # a bare list is shorthand
        json.dumps({"fields": FIELDS}),
        json.dumps({"fields": FIELDS}).encode(),
    ],
)
def test_parse_every_kind(document):
    schema = parse_schema(document)
    assert [f.kind for f in schema.fields] == [f["kind"] for f in FIELDS]
    assert schema.field("score").rubric == {1: "bad", 5: "good"}
    assert schema.field("nope") is None


def test_parse_yaml():
    schema = parse_schema(YAML)
    sentiment, score = schema.fields
    assert sentiment.options[0].display == "Positive"
    assert sentiment.options[0].hotkey == "1"
    assert (score.min, score.max, score.rubric) == (0, 10, {0: "useless", 10: "perfect"})


def test_schema_round_trips_through_json():
    schema = parse_schema(FIELDS)
    again = parse_schema(schema.model_dump_json())
    assert again == schema


def test_data_keys_and_task_data_checks():
    schema = parse_schema(FIELDS)
    assert schema.data_keys() == {"text", "prompt", "responses", "image"}
    assert schema.check_task_data(DATA) == []
    found = schema.check_task_data({"text": 5, "responses": ["a"], "image": ""})
    assert "missing key 'prompt' (read by field 'pref')" in found
    assert any("'text' must be a string" in p for p in found)
    assert any("exactly 2 responses" in p for p in found)
    assert any("'image' must be an image URL" in p for p in found)


def test_invalid_schema_lists_every_problem_with_its_location():
    doc = {
        "fields": [
            {"name": "ok", "kind": "choice", "options": [{"value": "a"}]},
            {"name": "dup_options", "kind": "choice", "options": [{"value": "a"}, {"value": "a"}]},
            {"name": "bad rating", "kind": "rating", "min": 5, "max": 1},
            {"name": "spans", "kind": "spans", "labels": [{"value": ""}]},
            {"name": "x", "kind": "choices", "options": [{"value": "a"}], "colour": "red"},
        ]
    }
    found = problems(doc)
    where = {p.field for p in found}
    assert Problem("fields[1].options", "duplicate option value 'a'") in found
    assert "fields[2].name" in where
    assert (
        Problem("fields[2]", "min (5) must be less than max (1)") not in found
    )  # name error first
    assert "fields[3].labels[0].value" in where
    assert "fields[4].colour" in where
    assert len(found) >= 4


def test_cross_field_config_problem_is_located_at_the_field():
    found = problems([{"name": "r", "kind": "rating", "min": 5, "max": 1}])
    assert found == [Problem("fields[0]", "min (5) must be less than max (1)")]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            [{"name": "a", "kind": "polygon"}],
            Problem(
                "fields[0]",
                "unknown kind; use one of: choice, choices, spans, text, rating, pairwise, ranking, boxes, edit, rubric",
            ),
        ),
        (
            [{"name": "a"}],
            Problem(
                "fields[0]",
                "missing 'kind'; use one of: choice, choices, spans, text, rating, pairwise, ranking, boxes, edit, rubric",
            ),
        ),
        (
            {"fields": []},
            Problem("fields", "List should have at least 1 item after validation, not 0"),
        ),
        ("fields: [unclosed", None),
        ("42", Problem("schema", 'expected an object like {"fields": [...]}')),
        (
            {"fields": [{"name": "a", "kind": "text"}], "version": 2},
            Problem("version", "Extra inputs are not permitted"),
        ),
    ],
)
def test_malformed_schemas(document, expected):
    found = problems(document)
    if expected is None:
        assert found[0].field.startswith("line 1")
    else:
        assert found == [expected]


def test_duplicate_field_names():
    found = problems([{"name": "a", "kind": "text"}, {"name": "a", "kind": "rating"}])
    assert found == [Problem("schema", "field name 'a' is used twice")]


# -- validate_annotation ------------------------------------------------------------------


def annotation_problems(schema, value, *, draft=False):
    with pytest.raises(InvalidInput) as exc:
        schema.validate_annotation(value, DATA, draft=draft)
    return exc.value.details


GOOD = {
    "sentiment": "pos",
    "entities": [{"start": 8, "end": 11, "label": "PER"}, {"start": 0, "end": 3, "label": "PER"}],
    "score": 4.0,
    "pref": {"choice": "B"},
    "order": [2, 1],
    "objects": [{"x": 1, "y": 2, "width": 3, "height": 4, "label": "cat"}],
}


def test_valid_annotation_is_normalised():
    clean = parse_schema(FIELDS).validate_annotation(GOOD, DATA)
    assert clean == {
        "sentiment": "pos",
        "entities": [
            {"start": 0, "end": 3, "label": "PER", "text": "Ada"},
            {"start": 8, "end": 11, "label": "PER", "text": "Bob"},
        ],
        "score": 4,
        "pref": {"choice": "B", "strength": None},
        "order": [2, 1],
        "objects": [{"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0, "label": "cat"}],
    }


def test_optional_fields_may_be_left_out_and_empty_lists_are_answers():
    schema = parse_schema(FIELDS)
    clean = schema.validate_annotation({**GOOD, "entities": [], "objects": [], "topics": []}, DATA)
    assert clean["entities"] == [] and clean["objects"] == []
    assert "topics" not in clean and "note" not in clean


def test_required_fields_and_unknown_fields_are_all_reported():
    schema = parse_schema(FIELDS)
    found = annotation_problems(
        schema, {"sentiment": "meh", "extra": 1, "pref": {"choice": None, "strength": None}}
    )
    assert (
        Problem(
            "extra",
            "unknown field; the schema has: entities, note, objects, order, pref, score, sentiment, topics",
        )
        in found
    )
    assert Problem("sentiment", "unknown option 'meh'; use one of: 'pos', 'neg'") in found
    for name in ("entities", "score", "pref", "order", "objects"):
        assert Problem(name, "required") in found
    assert not any(p.field in ("topics", "note") for p in found)


def test_problem_locations_include_the_path_inside_the_value():
    schema = parse_schema(FIELDS)
    bad = {
        **GOOD,
        "entities": [{"start": 0, "end": 99, "label": "PER"}],
        "pref": {"choice": "A", "strength": "huge"},
    }
    found = annotation_problems(schema, bad)
    assert [p.field for p in found] == ["entities[0].end", "pref.strength"]


def test_draft_may_leave_required_fields_empty_but_not_invalid():
    schema = parse_schema(FIELDS)
    assert schema.validate_annotation({"sentiment": "neg"}, DATA, draft=True) == {
        "sentiment": "neg"
    }
    assert schema.validate_annotation({}, DATA, draft=True) == {}
    found = annotation_problems(schema, {"score": 9}, draft=True)
    assert found == [Problem("score", "rating 9 is outside the scale; use a number from 1 to 5")]


def test_annotation_must_be_an_object():
    found = annotation_problems(parse_schema(FIELDS), ["pos"])
    assert found == [Problem("value", "expected an object")]


def test_yaml_aliases_are_refused_before_they_can_expand():
    """A 'billion laughs' document: nine levels of nine aliases. safe_load shares the lists,
    but walking the result never ends; a schema never needs aliases."""
    doc = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    previous = "a"
    for name in "bcdefghij":
        doc += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    doc += "fields: *j\n"
    with pytest.raises(InvalidInput) as exc:
        parse_schema(doc)
    assert exc.value.details == [
        Problem("line 2, column 8", "YAML aliases (*a) are not allowed in a schema; write it out")
    ]


def test_yaml_anchors_without_aliases_still_parse():
    schema = parse_schema(YAML.replace("fields:", "fields: &all", 1))
    assert schema == parse_schema(YAML)
