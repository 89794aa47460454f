"""Small projects the vision and NLP format tests export: a boxes project with uploaded
images (two tasks show the same file) and a spans project over short texts, each answered
by two annotators so that raw and consensus values differ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.factories import Member, add_member, add_tasks, make_project, token_client
from tests.helpers_data import jsonl_bytes, png_bytes
from tests.quality_report.helpers import annotate

BOXES = {
    "fields": [
        {
            "name": "objects",
            "kind": "boxes",
            "image": "image",
            "labels": [{"value": "cat"}, {"value": 'dog & "friend"'}],
        },
        {
            "name": "quality",
            "kind": "choice",
            "reads": ["image"],
            "required": False,
            "options": [{"value": "ok"}, {"value": "blurry"}],
        },
    ]
}
SIZES = {"a.png": (40, 30), "b.png": (20, 10)}
# (task, image): i0 and i2 show the same file; i3 is never answered.
TASKS = [("i0", "a.png"), ("i1", "b.png"), ("i2", "a.png"), ("i3", "b.png")]
CAT, DOG = "cat", 'dog & "friend"'
FIRST = {  # the first annotator's boxes
    "i0": [
        {"x": 0, "y": 0, "width": 10, "height": 8, "label": CAT},
        {"x": 20.5, "y": 10.25, "width": 19.9, "height": 20, "label": DOG},  # 0.4 px past
    ],
    "i1": [],  # nothing to box: a negative image
    "i2": [{"x": 5, "y": 5, "width": 10, "height": 10, "label": DOG}],
}
SECOND = {
    "i0": [{"x": 1, "y": 1, "width": 10, "height": 8, "label": CAT}],
    "i1": [],
    "i2": [{"x": 5, "y": 6, "width": 10, "height": 10, "label": DOG}],
}


@dataclass
class World:
    owner: Member
    pid: int
    task_ids: dict[str, int]  # external id → task id
    answers: dict[int, dict[str, Any]]  # annotator id → {external id: value}


def boxes_world(app: Any, db: Any, owner: Member) -> World:
    pid = make_project(db, owner, schema=BOXES, overlap=2)
    rows = [{"data": {"image": image}, "external_id": ext} for ext, image in TASKS]
    files = [("file", ("t.jsonl", jsonl_bytes(rows), "application/octet-stream"))]
    files += [
        ("files", (name, png_bytes(*size), "application/octet-stream"))
        for name, size in SIZES.items()
    ]
    r = token_client(app, db, owner).post(f"/api/projects/{pid}/import", files=files)
    assert r.status_code == 200, r.text
    answers = {}
    for given in (FIRST, SECOND):
        person = add_member(db, owner)
        annotate(db, person, pid, {k: {"objects": v} for k, v in given.items()})
        answers[person.user_id] = given
    return World(owner, pid, _task_ids(db, pid), answers)


SPANS = {
    "fields": [
        {
            "name": "entities",
            "kind": "spans",
            "source": "text",
            "labels": [{"value": "PER"}, {"value": "LOC"}, {"value": "ORG"}],
            "allow_overlap": True,
        }
    ]
}
TEXTS = {
    "s0": "Alice moved to New York. She likes it.",
    "s1": "Bob works at Acme Corp in Paris.",
    "s2": "Nothing to see here.",
    "s3": "Nobody answers this one.",
}
SPAN_FIRST = {
    "s0": [(0, 5, "PER"), (15, 23, "LOC"), (15, 18, "ORG"), (1, 5, "PER")],
    "s1": [(0, 3, "PER"), (13, 22, "ORG"), (26, 31, "LOC")],
    "s2": [],
}
SPAN_SECOND = {
    "s0": [(0, 5, "PER"), (15, 23, "LOC")],
    "s1": [(0, 3, "PER"), (13, 17, "ORG"), (26, 31, "LOC")],
    "s2": [],
}


def spans_value(spans: list[tuple[int, int, str]]) -> dict[str, Any]:
    return {"entities": [{"start": s, "end": e, "label": label} for s, e, label in spans]}


def spans_world(db: Any, owner: Member) -> World:
    """Every answer goes to review (``review_mode=all``); nothing is reviewed yet."""
    pid = make_project(db, owner, schema=SPANS, overlap=2)
    add_tasks(db, owner, pid, [{"text": t, "external_id": k} for k, t in TEXTS.items()])
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    answers = {}
    for given in (SPAN_FIRST, SPAN_SECOND):
        person = add_member(db, owner)
        annotate(db, person, pid, {k: spans_value(v) for k, v in given.items()})
        answers[person.user_id] = given
    return World(owner, pid, _task_ids(db, pid), answers)


def _task_ids(db: Any, pid: int) -> dict[str, int]:
    with db.read_session() as s:
        return {t.external_id: t.id for t in s.query(Task).filter(Task.project_id == pid).all()}
