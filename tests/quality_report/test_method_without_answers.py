"""A project without answers reports the consensus method that was asked for (issue 17,
item 13): nothing to aggregate is no reason to claim a majority vote."""

from __future__ import annotations

import pytest

from labelhouse.quality_report import service
from tests.factories import add_tasks, make_org, make_project


@pytest.mark.parametrize("method", ["majority", "dawid_skene", "gold_weighted"])
def test_item13_no_answers_reports_the_requested_method(db, method):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": "one"}, {"text": "two"}])
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, method=method)
        (field,) = report.fields
        assert (report.method, field.consensus_method) == (method, method)
        assert field.answers == 0 and field.consensus_mean_confidence is None
        assert service.consensus_page(s, owner.actor, pid, method=method, limit=10) == []
