"""Exports compute consensus without the report's statistics (``statistics=False``): the
consensus must be exactly what the full analysis gives, for every kind and method."""

from __future__ import annotations

import random

import pytest

from labelhouse.projects.service import get_project, load_schema
from labelhouse.quality_report import service
from tests.factories import add_member, add_tasks, make_org, make_project
from tests.quality_report.helpers import annotate

TEXT = "Ada Lovelace lived in London with Babbage."
SCHEMA = {
    "fields": [
        {"name": "label", "kind": "choice", "reads": ["text"],
         "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}]},
        {"name": "tags", "kind": "choices", "reads": ["text"], "min_selected": 0,
         "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
        {"name": "quality", "kind": "rating", "min": 1, "max": 5, "reads": ["text"]},
        {"name": "entities", "kind": "spans", "source": "text", "allow_overlap": False,
         "labels": [{"value": "PER"}, {"value": "LOC"}]},
    ]
}  # fmt: skip
SPANS = [
    [{"start": 0, "end": 12, "label": "PER"}, {"start": 22, "end": 28, "label": "LOC"}],
    [{"start": 0, "end": 3, "label": "PER"}],
    [{"start": 34, "end": 41, "label": "PER"}, {"start": 22, "end": 28, "label": "PER"}],
]


@pytest.fixture
def mixed_project(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=3)
    add_tasks(db, owner, pid, [{"text": TEXT, "external_id": f"t{i}"} for i in range(12)])
    rng = random.Random(3)
    for _ in range(3):
        answers = {
            f"t{i}": {
                "label": rng.choice(["pos", "neg", "neu"]),
                "tags": sorted(rng.sample(["a", "b", "c"], rng.randint(0, 2))),
                "quality": rng.randint(1, 5),
                "entities": rng.choice(SPANS),
            }
            for i in range(12)
        }
        annotate(db, add_member(db, owner), pid, answers)
    return owner, pid


@pytest.mark.parametrize("method", ["majority", "dawid_skene", "gold_weighted"])
def test_consensus_without_statistics_equals_the_full_analysis(db, mixed_project, method):
    owner, pid = mixed_project
    with db.read_session() as s:
        full = {
            r.task_id: r.fields
            for r in service.consensus_page(s, owner.actor, pid, method=method, limit=1000)
        }
        schema = load_schema(s, get_project(s, owner.actor, pid))
        lean = service.consensus_by_task(s, pid, schema, method=method)
    assert len(full) == 12
    assert dict(lean) == full
    assert all(lean[task_id] == fields for task_id, fields in full.items())
    fields = {name for task in full.values() for name in task}
    assert fields == {"label", "tags", "quality", "entities"}
