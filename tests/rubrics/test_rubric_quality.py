"""The quality report over a rubric field on a real database: whole answers compared and
merged criterion by criterion, and a row per criterion with α ordinal/interval, the share
of pairs giving the same point, the mean score and the failure rate."""

from __future__ import annotations

import pytest

from labelhouse.quality import Labels, krippendorff_alpha, krippendorff_alpha_interval
from labelhouse.quality_report import service
from labelhouse.rubrics import service as rubrics
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

CRITERIA = [
    {"name": "helpfulness", "min": 1, "max": 5},
    {"name": "safety", "scale": "pass_fail", "critical": True},
]
# three annotators × two tasks: (helpfulness, safety)
SCORES = {
    "t0": [(5, 1), (4, 1), (5, 1)],
    "t1": [(2, 0), (1, 0), (2, 1)],
}


def test_per_criterion_agreement_and_consensus(app, db):
    owner = make_org(db)
    with db.session() as s:
        rid = rubrics.create_rubric(s, owner.actor, name="R", criteria=CRITERIA).rubric.id
    schema = {"fields": [{"name": "grade", "kind": "rubric", "rubric_id": rid, "version": 1}]}
    pid = make_project(db, owner, schema=schema, overlap=3)
    add_tasks(db, owner, pid, [{"external_id": t} for t in SCORES])
    members = [add_member(db, owner) for _ in range(3)]
    for i, member in enumerate(members):
        answers = {
            t: {"grade": {"scores": {"helpfulness": s[i][0], "safety": s[i][1]}}}
            for t, s in SCORES.items()
        }
        annotate(db, member, pid, answers)
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
        consensus = {
            r.external_id: r.fields["grade"] for r in service.consensus_page(s, owner.actor, pid)
        }
    [field] = report.fields
    assert (field.kind, field.agreement_kind, field.consensus_method) == (
        "rubric",
        "rubric",
        "merge",
    )
    assert consensus["t0"]["value"]["scores"] == {"helpfulness": 5, "safety": 1}
    assert consensus["t1"]["value"]["scores"] == {"helpfulness": 2, "safety": 0}
    assert consensus["t1"]["value"]["failed_critical"] is True
    help_row, safety_row = report.rubric_criteria
    assert (help_row.criterion, help_row.scale, help_row.answers) == ("helpfulness", "1-5", 6)
    assert help_row.overlapping_tasks == 2
    # the same α the quality package computes from the raw points
    items = [0, 0, 0, 1, 1, 1]
    points = [5, 4, 5, 2, 1, 2]
    labels = Labels.from_arrays(items, [0, 1, 2] * 2, [p - 1 for p in points], n_classes=5)
    assert help_row.alpha_ordinal == pytest.approx(
        krippendorff_alpha(labels, "ordinal", values=[1, 2, 3, 4, 5])
    )
    assert help_row.alpha_interval == pytest.approx(krippendorff_alpha_interval(items, points))
    assert help_row.percent_agreement == pytest.approx(2 / 6)  # one same pair per task
    assert help_row.mean_score == pytest.approx(sum((p - 1) / 4 for p in points) / 6)
    assert help_row.fail_rate == pytest.approx(1 / 6)  # a single 1
    assert (safety_row.critical, safety_row.scale) == (True, "pass/fail")
    assert safety_row.percent_agreement == pytest.approx(4 / 6)
    assert safety_row.fail_rate == pytest.approx(2 / 6)
    shown = service.as_json(report)["rubric_criteria"]
    assert [r["criterion"] for r in shown] == ["helpfulness", "safety"]
    page = login(app, owner).get(f"/projects/{pid}/quality")
    assert page.status_code == 200
    assert 'id="criteria-table"' in page.text and 'data-criterion="safety"' in page.text
