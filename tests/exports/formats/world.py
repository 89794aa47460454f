"""A small project with a field of every kind but boxes (which needs uploaded images; the
pure writer tests cover it): three tasks with a prompt, a completion, two responses and
three candidates; two annotators; a model's prediction on the first task; a reviewer's
correction of the second. Exported through the API like a user would."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import orjson

from labelhouse.accounts.models import Role
from labelhouse.review import service as review
from tests.factories import add_member, add_tasks, login, make_project
from tests.quality_report.helpers import annotate

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["prompt"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        },
        {
            "name": "tags",
            "kind": "choices",
            "reads": ["prompt"],
            "required": False,
            "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
        },
        {"name": "score", "kind": "rating", "reads": ["prompt", "completion"], "min": 1, "max": 5},
        {
            "name": "ents",
            "kind": "spans",
            "source": "completion",
            "required": False,
            "labels": [{"value": "PER"}, {"value": "LOC"}],
        },
        {"name": "pref", "kind": "pairwise", "strengths": ["slightly", "much"]},
        {"name": "order", "kind": "ranking", "responses": "candidates"},
        {"name": "note", "kind": "text", "reads": ["prompt"], "required": False},
    ]
}
TASKS = [
    {
        "external_id": f"t{i}",
        "data": {
            "prompt": f"Question {i}?",
            "completion": f"Ada went to Paris {i}",
            "responses": [f"A{i}", {"text": f"B{i}", "model": "m2"}],
            "candidates": [f"C{i}-0", f"C{i}-1", f"C{i}-2"],
        },
    }
    for i in range(3)
]
TASKS[0]["predictions"] = [
    {"value": {"label": "pos", "score": 2}, "model_version": "clf-1", "score": 0.4},
    {"value": {"label": "neg", "score": 4}, "model_version": "clf-2", "score": 0.9},
]


def answer(i: int, who: int) -> dict[str, Any]:
    """Annotator ``who`` (0 or 1) on task ``t<i>``: they agree on t0, disagree elsewhere."""
    agree = i == 0
    return {
        "label": "neg" if agree or who == 0 else "neu",
        "tags": ["a", "c"] if who == 0 else ["b"],
        "score": 4 if agree else (5 if who == 0 else 2),
        "ents": [{"start": 0, "end": 3, "label": "PER"}]
        + ([{"start": 12, "end": 17, "label": "LOC"}] if who == 0 else []),
        "pref": {"choice": "B", "strength": "much"}
        if agree or who == 0
        else {"choice": "tie", "strength": None},
        "order": [2, 1, 3] if who == 0 else [3, 1, 2],
        "note": f"A demonstration {i} by {who}" if who == 0 or agree else "",
    }


CORRECTION = {
    "label": "pos",
    "tags": ["a"],
    "score": 3,
    "ents": [],
    "pref": {"choice": "A", "strength": None},
    "order": [1, 2, 3],
    "note": "Reviewed answer",
}


def build(db: Any, owner: Any) -> dict[str, Any]:
    pid = make_project(db, owner, schema=SCHEMA, overlap=2, name="Training")
    add_tasks(db, owner, pid, TASKS)
    people = [add_member(db, owner) for _ in range(2)]
    ids: dict[str, int] = {}
    for who, member in enumerate(people):
        ids = annotate(db, member, pid, {f"t{i}": answer(i, who) for i in range(3)})
    reviewer = add_member(db, owner, Role.reviewer)
    with db.session() as s:
        review.decide(s, reviewer.actor, ids["t1"], decision="correct", value=CORRECTION)
    return {"pid": pid, "ids": ids, "people": [p.user_id for p in people]}


def export(app: Any, owner: Any, pid: int, fmt: str, **options: str) -> Any:
    r = login(app, owner).get(f"/api/projects/{pid}/export", params={"format": fmt, **options})
    assert r.status_code == 200, r.text
    return r


def jsonl(body: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in body.splitlines()]


def unzip(body: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        z.extractall(into)
    return into
