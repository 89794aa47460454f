"""Importing conversations: a prompt that is a list of chat messages is accepted, and a
malformed one is refused with the line, the message index and the fix."""

from __future__ import annotations

import orjson
import pytest

from tests.factories import make_project, token_client
from tests.helpers_data import count_tasks, error_of, json_bytes, jsonl_bytes, tasks_of

SCHEMA = {
    "fields": [
        {"name": "pref", "kind": "pairwise", "prompt": "chat", "responses": "candidates"},
        {"name": "quality", "kind": "rating", "reads": ["chat"], "required": False},
        {
            "name": "fix",
            "kind": "edit",
            "source": "candidates_0",
            "required": False,
        },
    ]
}
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3+3?"},
]
ROW = {
    "chat": CHAT,
    "candidates": [{"role": "assistant", "content": "6"}, "Six."],
    "candidates_0": "6",
}


@pytest.fixture
def project(db, owner):
    return make_project(db, owner, SCHEMA)


@pytest.fixture
def api(app, db, owner):
    return token_client(app, db, owner)


@pytest.mark.parametrize("encode", [jsonl_bytes, json_bytes])
def test_a_conversation_prompt_is_imported_as_is(db, api, project, encode):
    r = api.post(
        f"/api/projects/{project}/import",
        params={"format": "jsonl" if encode is jsonl_bytes else "json"},
        content=encode([ROW]),
    )
    assert r.status_code == 200, r.text
    [task] = tasks_of(db, project)
    assert task.data == ROW


def test_a_malformed_conversation_names_line_and_message(db, api, project):
    bad_role = {**ROW, "chat": [*CHAT[:2], {"role": "human", "content": "hi"}]}
    bad_part = {**ROW, "chat": [{"role": "user", "content": [{"type": "image_url"}]}]}
    r = api.post(
        f"/api/projects/{project}/import",
        params={"format": "jsonl"},
        content=jsonl_bytes([ROW, bad_role, bad_part]),
    )
    assert r.status_code == 422
    details = error_of(r)["details"]
    role_problem = "'chat' message [2] has role 'human'; use one of: system, user, assistant, tool"
    assert {"field": "line 2", "problem": role_problem} in details
    assert any(
        d["field"] == "line 3"
        and d["problem"].startswith("'chat' message [0] content part [0] has type 'image_url'")
        for d in details
    )
    assert count_tasks(db, project) == 0


def test_a_prompt_that_is_neither_text_nor_chat_is_refused(db, api, project):
    r = api.post(
        f"/api/projects/{project}/import",
        params={"format": "jsonl"},
        content=jsonl_bytes([{**ROW, "chat": {"role": "user"}}]),
    )
    assert r.status_code == 422
    problem = error_of(r)["details"][0]["problem"]
    assert problem.startswith("'chat' (the prompt) must be a string or a conversation")


def test_next_task_carries_the_rendered_chat(db, api, project):
    api.post(
        f"/api/projects/{project}/import", params={"format": "jsonl"}, content=jsonl_bytes([ROW])
    )
    task = api.post(f"/api/projects/{project}/next?render=1").json()["task"]
    rendered = task["rendered"]
    assert rendered["pref"]["conversation"].startswith('<div class="lh-chat">')
    assert 'data-index="3"' in rendered["pref"]["conversation"]
    assert rendered["quality"]["data"]["chat"] == rendered["pref"]["conversation"]
    assert rendered["fix"]["original"] == "<p>6</p>\n"
    body = api.post(
        f"/api/tasks/{task['id']}/annotations",
        json={"value": {"pref": {"choice": "B", "strength": None}, "fix": {"text": "It is 6."}}},
    )
    assert body.status_code in (200, 201), body.text
    stored = body.json()["value"]["fix"]
    assert stored["changed"] is True and stored["text"] == "It is 6."
    assert stored["ops"] == [["+", "It is "], ["=", 1], ["+", "."]]


def test_jsonl_export_carries_the_conversation_and_the_edit_diff(db, api, project):
    from labelhouse.kinds.edit import original_of

    api.post(
        f"/api/projects/{project}/import", params={"format": "jsonl"}, content=jsonl_bytes([ROW])
    )
    task = api.post(f"/api/projects/{project}/next").json()["task"]
    value = {"pref": {"choice": "A", "strength": None}, "fix": {"text": "Six (6)."}}
    r = api.post(f"/api/tasks/{task['id']}/annotations", json={"value": value})
    assert r.status_code in (200, 201), r.text
    r = api.get(f"/api/projects/{project}/export", params={"format": "jsonl"})
    assert r.status_code == 200, r.text
    [record] = [orjson.loads(line) for line in r.content.splitlines()]
    assert record["data"]["chat"] == CHAT
    fix = record["annotations"][0]["value"]["fix"]
    assert fix["text"] == "Six (6)." and fix["changed"] is True
    assert original_of(fix) == "6"  # the diff in the export rebuilds the original reply


def test_every_export_format_writes_or_refuses_a_conversation_project(db, api, project):
    """Formats and kinds were built side by side: each registered format, given a project
    of conversations with an edit field, writes its file or refuses the schema with a
    sentence (422) — never a 500 or a broken stream."""
    from labelhouse.exports.writers import FORMATS

    api.post(
        f"/api/projects/{project}/import", params={"format": "jsonl"}, content=jsonl_bytes([ROW])
    )
    task = api.post(f"/api/projects/{project}/next").json()["task"]
    value = {"pref": {"choice": "B", "strength": None}, "fix": {"text": "Six (6)."}}
    assert api.post(f"/api/tasks/{task['id']}/annotations", json={"value": value}).is_success
    written, refused = [], []
    for name in FORMATS:
        r = api.get(f"/api/projects/{project}/export", params={"format": name})
        if r.status_code == 422:
            assert r.json()["error"]["message"], name
            refused.append(name)
        else:
            assert r.status_code == 200 and r.content, (name, r.status_code, r.text[:300])
            written.append(name)
    assert {"jsonl", "json", "csv", "parquet", "trl_preference", "label_studio"} <= set(written)
    assert {"coco", "yolo", "voc", "spacy", "conll"} <= set(refused)  # no boxes, no spans
    # the rewritten reply goes to Label Studio as its final text (a TextArea result)
    [ls_task] = api.get(f"/api/projects/{project}/export", params={"format": "label_studio"}).json()
    texts = [
        r["value"]["text"] for r in ls_task["annotations"][0]["result"] if "text" in r["value"]
    ]
    assert texts == [["Six (6)."]]
    trl = api.get(f"/api/projects/{project}/export", params={"format": "trl_preference"})
    [pair] = [orjson.loads(line) for line in trl.content.splitlines()]
    assert pair["prompt"][1] == {"role": "user", "content": "What is 2+2?"}  # content parts read
    assert pair["chosen"] == [{"role": "assistant", "content": "Six."}]
