"""TRL exports in the column shapes TRL's trainers take (checked against TRL's dataset
formats without installing TRL, which pulls in torch): preference pairs
(``prompt``/``chosen``/``rejected``, plain text or chat messages), unpaired preference
(``prompt``/``completion``/``label``), SFT (``messages``), for raw and consensus values."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelhouse.exports.formats import trl_preference
from labelhouse.kinds.registry import parse_schema
from tests.exports.formats.world import build, export, jsonl
from tests.factories import add_member, add_tasks, login, make_project
from tests.quality_report.helpers import annotate

MESSAGE = {"role", "content"}


@pytest.fixture
def world(db, owner):
    return build(db, owner)


def rows(app, owner, pid, fmt, **options):
    r = export(app, owner, pid, fmt, **options)
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return jsonl(r.content)


def is_chat(value) -> bool:
    return isinstance(value, list) and all(set(m) == MESSAGE for m in value)


def test_preference_pairs_from_a_pairwise_field(app, owner, world):
    pairs = rows(app, owner, world["pid"], "trl_preference", field="pref", provenance="none")
    assert all(list(p) == ["prompt", "chosen", "rejected"] for p in pairs)
    assert all(isinstance(p[k], str) for p in pairs for k in p)
    # t0: both chose B; t1 and t2: one B, one tie (ties dropped by default)
    assert [(p["prompt"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("Question 0?", "B0", "A0"),
        ("Question 0?", "B0", "A0"),
        ("Question 1?", "B1", "A1"),
        ("Question 2?", "B2", "A2"),
    ]
    kept = rows(app, owner, world["pid"], "trl_preference", field="pref", ties="keep")
    assert len(kept) == 6 and sum(p["tie"] for p in kept) == 2
    assert all(
        set(p) == {"prompt", "chosen", "rejected", "tie", "task_id", "provenance"} for p in kept
    )


def test_preference_pairs_from_consensus(app, owner, world):
    pairs = rows(app, owner, world["pid"], "trl_preference", field="pref", values="consensus")
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [
        ("B0", "A0"),
        ("A1", "B1"),
        ("B2", "A2"),
    ]
    assert pairs[1]["provenance"]["consensus_method"] == "review"


def test_preference_pairs_from_a_ranking(app, owner, world):
    best = rows(app, owner, world["pid"], "trl_preference", field="order", provenance="none")
    t0 = [(p["chosen"], p["rejected"]) for p in best if p["prompt"] == "Question 0?"]
    # ranks [2, 1, 3] and [3, 1, 2]: candidate 1 is best for both
    assert t0 == [("C0-1", "C0-0"), ("C0-1", "C0-2"), ("C0-1", "C0-0"), ("C0-1", "C0-2")]
    every = rows(app, owner, world["pid"], "trl_preference", field="order", pairs="all")
    t0 = [(p["chosen"], p["rejected"]) for p in every if p["prompt"] == "Question 0?"]
    first = [("C0-1", "C0-0"), ("C0-1", "C0-2"), ("C0-0", "C0-2")]  # ranks 2, 1, 3
    second = [("C0-1", "C0-0"), ("C0-1", "C0-2"), ("C0-2", "C0-0")]  # ranks 3, 1, 2
    assert sorted(t0) == sorted([*first, *second])


def test_preference_needs_the_field_named_when_there_are_several(app, owner, world):
    r = login(app, owner).get(
        f"/api/projects/{world['pid']}/export", params={"format": "trl_preference"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [
        {"field": "field", "problem": "use one of: pref, order"}
    ]


def test_chat_prompts_make_conversational_pairs(app, db, owner):
    schema = {"fields": [{"name": "pref", "kind": "pairwise"}]}
    pid = make_project(db, owner, schema=schema)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}]
    data = {"prompt": "Sky?", "chat": chat, "responses": ["Blue.", "Green."]}
    add_tasks(db, owner, pid, [{"external_id": "c", "data": data}])
    annotate(db, add_member(db, owner), pid, {"c": {"pref": {"choice": "A"}}})
    [pair] = rows(app, owner, pid, "trl_preference", prompt="chat", provenance="none")
    assert pair == {
        "prompt": chat,
        "chosen": [{"role": "assistant", "content": "Blue."}],
        "rejected": [{"role": "assistant", "content": "Green."}],
    }
    assert is_chat(pair["prompt"]) and is_chat(pair["chosen"])


def test_a_field_without_a_prompt_gives_implicit_prompt_rows():
    schema = parse_schema({"fields": [{"name": "pref", "kind": "pairwise", "prompt": None}]})
    options = trl_preference.parse_options(schema, {"provenance": "none"})
    record = {
        "id": 1,
        "data": {"responses": ["Blue.", "Green."]},
        "annotations": [{"value": {"pref": {"choice": "B", "strength": None}}}],
    }
    body = b"".join(
        trl_preference.SPEC["write"]([record], schema=schema, field_names=["pref"], options=options)
    )
    assert jsonl(body) == [{"chosen": "Green.", "rejected": "Blue."}]


def test_kto_labels_from_a_rating_threshold(app, owner, world):
    out = rows(app, owner, world["pid"], "trl_kto", provenance="none")
    assert all(list(r) == ["prompt", "completion", "label"] for r in out)
    assert all(type(r["label"]) is bool and isinstance(r["completion"], str) for r in out)
    # ratings 4,4 / 5,2 / 5,2 with the default threshold 4
    assert [r["label"] for r in out] == [True, True, True, False, True, False]
    assert out[0]["completion"] == "Ada went to Paris 0"
    strict = rows(app, owner, world["pid"], "trl_kto", threshold="5")
    assert [r["label"] for r in strict] == [False, False, True, False, True, False]
    merged = rows(app, owner, world["pid"], "trl_kto", values="consensus")
    assert [r["label"] for r in merged] == [True, False, False]  # 4, reviewed 3, median 2


def test_sft_messages_from_demonstrations(app, owner, world):
    out = rows(app, owner, world["pid"], "trl_sft", provenance="none")
    assert all(list(r) == ["messages"] and is_chat(r["messages"]) for r in out)
    assert len(out) == 4  # empty answers give no row
    assert out[0]["messages"] == [
        {"role": "user", "content": "Question 0?"},
        {"role": "assistant", "content": "A demonstration 0 by 0"},
    ]
    merged = rows(app, owner, world["pid"], "trl_sft", values="consensus")
    # free text has no consensus rule: only the reviewed task has a merged answer
    assert [r["messages"][-1]["content"] for r in merged] == ["Reviewed answer"]


def test_parquet_layout(app, owner, world):
    r = export(app, owner, world["pid"], "trl_preference", field="pref", layout="parquet")
    assert r.headers["content-disposition"].endswith('.dpo.parquet"')
    table = pq.read_table(io.BytesIO(r.content))
    assert table.schema.field("prompt").type == pa.string()
    assert table.schema.field("chosen").type == pa.string()
    assert table.num_rows == 4
    r = export(app, owner, world["pid"], "trl_sft", layout="parquet", provenance="none")
    table = pq.read_table(io.BytesIO(r.content))
    assert table.schema.names == ["messages"]
    assert table.schema.field("messages").type == pa.list_(
        pa.struct([("role", pa.string()), ("content", pa.string())])
    )
