"""A project without answers reports the consensus method that was asked for (issue 17,
item 13): nothing to aggregate is no reason to claim a majority vote."""

from __future__ import annotations

import pytest

from labelhouse.quality_report import service
from tests.factories import add_member, add_tasks, make_org, make_project
from tests.quality_report.helpers import annotate

SCHEMA = {
    "fields": [
        {"name": "label", "kind": "choice", "reads": ["text"],
         "options": [{"value": "pos"}, {"value": "neg"}]},
        {"name": "tags", "kind": "choices", "reads": ["text"], "min_selected": 0,
         "options": [{"value": "a"}, {"value": "b"}]},
        {"name": "quality", "kind": "rating", "min": 1, "max": 5, "reads": ["text"]},
        {"name": "entities", "kind": "spans", "source": "text", "allow_overlap": False,
         "labels": [{"value": "PER"}]},
    ]
}  # fmt: skip
ANSWER = {"label": "pos", "tags": ["a"], "quality": 4, "entities": []}


def _methods(db, owner, pid, method):
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, method=method)
        assert report.method == method
        return {f.name: f.consensus_method for f in report.fields}


@pytest.mark.parametrize("method", ["majority", "dawid_skene", "gold_weighted"])
def test_item13_no_answers_reports_the_requested_method(db, method):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA)
    add_tasks(db, owner, pid, [{"text": "Ada met Babbage.", "external_id": "t1"}])
    before = _methods(db, owner, pid, method)
    if method != "majority":
        assert before["label"] == before["tags"] == method
    with db.read_session() as s:
        assert service.consensus_page(s, owner.actor, pid, method=method, limit=10) == []
    annotate(db, add_member(db, owner), pid, {"t1": ANSWER})
    assert _methods(db, owner, pid, method) == before  # answers do not change the method
