"""What a review decision changes downstream: rejected annotations stop counting in the
quality report, and exports say how each annotation was reviewed."""

from __future__ import annotations

import orjson

from labelhouse.quality_report.service import project_report
from labelhouse.review import service as review
from tests.factories import login
from tests.review.test_review import annotate_all, next_id, project, team  # noqa: F401


def test_rejected_annotations_leave_the_report_and_exports_show_review_status(app, db, team):  # noqa: F811
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, n=2)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    with db.session() as s:
        before = project_report(s, owner.actor, pid).annotations
    first = next_id(db, reviewer, pid)
    with db.session() as s:
        review.decide(s, reviewer.actor, first, decision="reject", reason="both wrong")
    with db.session() as s:
        after = project_report(s, owner.actor, pid).annotations
    assert (before, after) == (4, 2)

    lines = login(app, owner).get(f"/api/projects/{pid}/export?format=jsonl").content.splitlines()
    statuses = {
        r["id"]: sorted(str(a["review_status"]) for a in r["annotations"])
        for r in map(orjson.loads, lines)
    }
    assert statuses[first] == ["rejected", "rejected"]
    assert all(v == ["None", "None"] for k, v in statuses.items() if k != first)
