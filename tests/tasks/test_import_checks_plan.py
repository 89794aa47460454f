"""The per-row fast paths of the importer give the answers of the slow ones: the compiled
data checks (``import_rows.compile_data_checks``) say what ``check_task_data`` says, word
for word and in order; NULs in predictions and gold are still found; the staged import's
batch length stays between its bounds, in whole multiples of its first batch."""

from __future__ import annotations

from typing import Any

import pytest

from labelhouse.kinds.registry import LabelSchema
from labelhouse.storable import PROBLEM as NUL_PROBLEM
from labelhouse.tasks.import_rows import Prepared, RowChecker, compile_data_checks, run_data_checks
from labelhouse.tasks.staged_import import (
    BATCH_ROWS,
    BATCH_SECONDS,
    MAX_BATCH_ROWS,
    next_batch_rows,
)

SCHEMAS: list[dict[str, Any]] = [
    {
        "fields": [
            {
                "name": "label",
                "kind": "choice",
                "reads": ["text"],
                "options": [{"value": "a"}, {"value": "b"}],
            }
        ]
    },
    {
        "fields": [
            {"name": "pref", "kind": "pairwise", "prompt": "chat", "responses": "candidates"},
            {"name": "quality", "kind": "rating", "reads": ["chat", "text"], "required": False},
            {"name": "fix", "kind": "edit", "source": "reply", "reads": ["chat"]},
        ]
    },
    {"fields": [{"name": "ents", "kind": "spans", "source": "text", "labels": [{"value": "PER"}]}]},
    {"fields": [{"name": "box", "kind": "boxes", "image": "image", "labels": [{"value": "car"}]}]},
]
CHAT = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
DATA: list[dict[str, Any]] = [
    {},
    {"text": "plain"},
    {"text": None, "chat": None},
    {"text": "", "chat": "a string"},
    {"chat": CHAT, "text": "t", "reply": "r", "candidates": ["x", "y"]},
    {"chat": [{"role": "robot", "content": 3}], "text": 5},
    {"chat": [], "text": ["not", "text"]},
    {"chat": [1, 2], "reply": CHAT},
    {"chat": {"role": "user"}, "candidates": "nope", "image": 7, "image_width": -1},
    {"chat": [{"content": "no role"}], "text": {"nested": True}, "image": " "},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_compiled_data_checks_say_what_check_task_data_says(schema):
    label_schema = LabelSchema.model_validate(schema)
    plan = compile_data_checks(label_schema)
    for data in DATA:
        problems: list[str] = []
        run_data_checks(plan, data, problems)
        assert problems == label_schema.check_task_data(data), data


class _Project:
    id = 1


@pytest.fixture
def checker():
    return RowChecker(None, _Project(), LabelSchema.model_validate(SCHEMAS[0]))  # type: ignore[arg-type]


def test_nul_in_gold_or_predictions_is_still_found(checker):
    gold = checker.check({"data": {"text": "a"}, "gold": {"label": "a\x00"}})
    assert f"gold.label {NUL_PROBLEM}" in gold
    flat = checker.check({"text": "a", "predictions": [{"value": {"label": "\x00"}}]})
    assert f"predictions[0].value.label {NUL_PROBLEM}" in flat
    assert checker.check({"text": "a\x00"}) == [f"'text' {NUL_PROBLEM}"]


def test_plain_rows_without_reserved_keys_are_stored_as_before(checker):
    row = {"text": "b", "extra": 1}
    prepared = checker.check(row)
    assert isinstance(prepared, Prepared)
    assert prepared.data == row and prepared.data is not row
    assert (prepared.predictions, prepared.gold, prepared.needs_orm) == ([], None, False)
    assert prepared.encoded == b'{"text":"b","extra":1}'
    assert prepared.dedup_key.startswith("h:")


def test_staged_batches_double_while_quick_and_halve_when_slow():
    quick, slow = BATCH_SECONDS / 4, BATCH_SECONDS * 2
    sizes, rows = [], BATCH_ROWS
    for _ in range(6):
        sizes.append(rows)
        rows = next_batch_rows(rows, rows, quick)
    assert sizes == [BATCH_ROWS, 2 * BATCH_ROWS, 4 * BATCH_ROWS, 8 * BATCH_ROWS, 8000, 8000]
    assert rows == MAX_BATCH_ROWS
    for _ in range(5):
        rows = next_batch_rows(rows, rows, slow)
        assert rows % BATCH_ROWS == 0
    assert rows == BATCH_ROWS
    assert next_batch_rows(4000, 10, quick) == 4000  # a short last batch says nothing
    assert next_batch_rows(4000, 4000, BATCH_SECONDS * 0.75) == 4000


def _demo_schemas() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """Every demo project's schema (one per field kind) and its rows; the rubric one has
    no rubric to name here, so its grade field is left out."""
    from labelhouse import demo

    out = []
    for spec in [*demo.DEMO_PROJECTS, demo.BOXES_PROJECT]:
        fields = [f for f in spec["schema"]["fields"] if f.get("kind") != "rubric"]
        if not fields:
            continue
        rows = spec.get("rows") or []
        if spec is demo.CHAT_PREFERENCE:
            rows = demo.demo_conversations()
        datas = [r.get("data", r) if isinstance(r, dict) else {} for r in rows]
        out.append((spec["name"], {**spec["schema"], "fields": fields}, datas))
    return out


@pytest.mark.parametrize(
    ("name", "schema", "rows"), [pytest.param(*d, id=d[0]) for d in _demo_schemas()]
)
def test_every_demo_kind_is_checked_as_check_task_data_checks(name, schema, rows):
    """The compiled plan against ``check_task_data`` for every kind the demo has, on the
    demo's own rows and on the malformed data above."""
    label_schema = LabelSchema.model_validate(schema)
    plan = compile_data_checks(label_schema)
    for data in [*rows, *DATA]:
        problems: list[str] = []
        run_data_checks(plan, data, problems)
        assert problems == label_schema.check_task_data(data), (name, data)
