"""A rubric field in every export format: each writes per-criterion scores, the aggregate
and the critical failure, or refuses the schema with a sentence (422), never a 500."""

from __future__ import annotations

import csv
import io

import orjson

from labelhouse.rubrics import service as rubrics
from tests.factories import make_project, token_client
from tests.helpers_data import jsonl_bytes

CRITERIA = [
    {"name": "helpfulness", "min": 1, "max": 5, "weight": 3},
    {"name": "correctness", "scale": "pass_fail", "critical": True},
]
CHAT = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "5"},
]


def test_every_export_format_writes_or_refuses_a_rubric_project(app, db, owner):
    from labelhouse.exports.writers import FORMATS

    with db.session() as s:
        rid = rubrics.create_rubric(s, owner.actor, name="R", criteria=CRITERIA).rubric.id
    schema = {
        "fields": [
            {"name": "grade", "kind": "rubric", "rubric_id": rid, "version": 1, "reads": ["chat"]}
        ]
    }
    project = make_project(db, owner, schema)
    api = token_client(app, db, owner)
    r = api.post(
        f"/api/projects/{project}/import",
        params={"format": "jsonl"},
        content=jsonl_bytes([{"external_id": "c1", "chat": CHAT}]),
    )
    assert r.is_success, r.text
    task = api.post(f"/api/projects/{project}/next").json()["task"]
    value = {"grade": {"scores": {"helpfulness": 4, "correctness": 0}}}
    assert api.post(f"/api/tasks/{task['id']}/annotations", json={"value": value}).is_success
    written, refused = [], {}
    for name in FORMATS:
        r = api.get(f"/api/projects/{project}/export", params={"format": name})
        if r.status_code == 422:
            refused[name] = r.json()["error"]["message"]
            assert refused[name], name
        else:
            assert r.status_code == 200 and r.content, (name, r.status_code, r.text[:300])
            written.append(name)
    assert {"jsonl", "json", "csv"} <= set(written), (written, refused)
    assert refused["label_studio"] == "Label Studio cannot show every field of this schema."
    [record] = [
        orjson.loads(line)
        for line in api.get(
            f"/api/projects/{project}/export", params={"format": "jsonl"}
        ).content.splitlines()
    ]
    grade = record["annotations"][0]["value"]["grade"]
    assert grade == {
        "scores": {"helpfulness": 4, "correctness": 0},
        "justifications": {},
        "aggregate": 0.5625,  # (3 * 3/4 + 0) / 4
        "failed_critical": True,
        "failed_criteria": ["correctness"],
        "rubric_id": rid,
        "rubric_version": 1,
    }
    text = api.get(f"/api/projects/{project}/export", params={"format": "csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    cells = " ".join(str(v) for v in rows[0].values())
    assert "0.5625" in cells and "correctness" in cells, rows[0]
