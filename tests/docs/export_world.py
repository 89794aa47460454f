"""A small reviewed project whose exports docs/export.md shows: three tasks, two annotators,
a model's prediction, a reviewer's correction."""

from __future__ import annotations

from typing import Any

from labelhouse.accounts.models import Role
from labelhouse.review import service as review
from labelhouse.tasks import queue
from tests.factories import add_member, add_tasks, make_project
from tests.quality_report.helpers import annotate

SCHEMA = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "positive"}, {"value": "negative"}, {"value": "neutral"}],
        },
        {
            "name": "topics",
            "kind": "choices",
            "reads": ["text"],
            "required": False,
            "options": [{"value": "shipping"}, {"value": "support"}, {"value": "price"}],
        },
    ]
}
TASKS = [
    {
        "external_id": "r-1",
        "data": {"text": "Fast delivery, rude support."},
        "predictions": [
            {
                "value": {"sentiment": "negative", "topics": ["support"]},
                "model_version": "clf-3",
                "score": 0.92,
            }
        ],
    },
    {"external_id": "r-2", "data": {"text": "Arrived broken.", "lang": "en"}},
    {"external_id": "r-3", "data": {"text": "Cheaper than the shop."}},
]
ANSWERS = [
    {
        "r-1": {"sentiment": "neutral", "topics": ["shipping", "support"]},
        "r-2": {"sentiment": "negative"},
    },
    {"r-1": {"sentiment": "negative", "topics": ["support"]}, "r-2": {"sentiment": "negative"}},
]
CORRECTION = {"sentiment": "neutral", "topics": ["shipping", "support"]}


def build(db: Any, owner: Any) -> int:
    pid = make_project(db, owner, schema=SCHEMA, overlap=2, name="Reviews")
    add_tasks(db, owner, pid, TASKS)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    ids: dict[str, int] = {}
    for answers in ANSWERS:
        ids = annotate(db, add_member(db, owner), pid, answers, seconds=12.5)
    reviewer = add_member(db, owner, Role.reviewer)
    with db.session() as s:
        review.decide(s, reviewer.actor, ids["r-1"], decision="correct", value=CORRECTION)
    return pid
