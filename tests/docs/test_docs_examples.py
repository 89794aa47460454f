"""The examples in docs/label-schema.md are real: schemas parse, values validate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson

from labelhouse.kinds.registry import parse_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "label-schema.md"
BLOCK = re.compile(r"```(json|yaml) (schema|value)\n(.*?)```", re.S)
TASK = re.compile(r"Task: `(\{.*?\})`", re.S)


def _examples():
    text = DOC.read_text()
    schema = None
    out = []
    for match in BLOCK.finditer(text):
        _lang, role, body = match.groups()
        if role == "schema":
            schema = parse_schema(body)
            out.append(("schema", schema, None, None))
        else:
            tasks = TASK.findall(text[: match.start()])
            out.append(("value", schema, json.loads(tasks[-1]), orjson.loads(body)))
    return out


def test_doc_has_one_schema_per_kind_and_all_validate():
    examples = _examples()
    kinds = {f.kind for kind, schema, _, _ in examples if kind == "schema" for f in schema.fields}
    assert kinds == {
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
    }
    values = [e for e in examples if e[0] == "value"]
    assert len(values) == 7
    for _, schema, task, value in values:
        clean = schema.validate_annotation(value, task)
        assert set(clean) == set(value)


def test_documented_normalisations_hold():
    examples = [e for e in _examples() if e[0] == "value"]
    spans = next(e for e in examples if "entities" in e[3])
    clean = spans[1].validate_annotation(spans[3], spans[2])
    assert [s["text"] for s in clean["entities"]] == ["Ada Lovelace", "London"]
    chat = next(e for e in examples if "fix" in e[3])
    clean = chat[1].validate_annotation(chat[3], chat[2])
    assert clean["code"][0]["text"] == "s[::-1]"
    assert clean["fix"]["changed"] is True
    assert clean["fix"]["ops"] == [
        ["=", 11],
        ["-", " in Python"],
        ["+", "; it works on any sequence"],
        ["=", 1],
    ]
    ranking = next(e for e in examples if "order" in e[3])
    assert ranking[1].validate_annotation({"order": [1, 3, 3]}, ranking[2])["order"] == [1, 2, 2]
    rubric = next(e for e in examples if "grade" in e[3])
    clean = rubric[1].validate_annotation(rubric[3], rubric[2])["grade"]
    assert (clean["aggregate"], clean["failed_critical"]) == (0.625, True)
    assert clean["failed_criteria"] == ["correctness"]
