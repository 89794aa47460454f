"""The acceptance section is part of the stored analysis: read (not recomputed) while
fresh, by the quality report and by its own read alike, and stale once a prediction is
added or an answer submitted — never shown as fresh then."""

from __future__ import annotations

from sqlalchemy import select

from labelhouse.quality_report import service
from labelhouse.quality_report.acceptance import acceptance_report
from labelhouse.tasks.models import Prediction, Task
from tests.factories import add_member, add_tasks, make_org, make_project
from tests.quality_report.helpers import annotate

ROWS = [
    {
        "text": f"p{i}",
        "external_id": f"p{i}",
        "predictions": [{"value": {"label": "pos"}, "model_version": "m1", "score": 0.9}],
    }
    for i in range(6)
] + [{"text": f"u{i}", "external_id": f"u{i}"} for i in range(4)]


def _section(db, owner, pid, **kw):
    with db.read_session() as s:
        return service.acceptance_section(s, owner.actor, pid, db=db, **kw)


def _without_age(report):
    doc = service.as_json(report)
    doc.pop("analysis")
    return doc


def test_acceptance_is_stored_with_the_analysis_and_goes_stale(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, ROWS)
    for keep in (True, False):
        answers = {r["external_id"]: {"label": "pos" if keep else "neg"} for r in ROWS}
        del answers["p5"], answers["u3"]  # answered later
        annotate(db, add_member(db, owner), pid, answers)

    first = _section(db, owner, pid)  # nothing stored yet: computed and stored
    assert first.analysis.fresh and first.analysis.age_seconds == 0.0
    with db.read_session() as s:
        direct = acceptance_report(s, owner.actor, pid)
    assert _without_age(first) == _without_age(direct)
    [row] = first.rows
    assert (first.answers, first.prefilled_answers) == (16, 10)
    assert (row.model_version, row.prefilled, row.kept, row.changed) == ("m1", 10, 5, 5)

    again = _section(db, owner, pid)  # read from the stored row: not recomputed
    assert again.analysis.computed_at == first.analysis.computed_at and again.analysis.fresh
    assert _without_age(again) == _without_age(first)
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, db=db)
    assert report.analysis.computed_at == first.analysis.computed_at  # the same row
    assert report.acceptance.analysis == report.analysis
    assert _without_age(report.acceptance) == _without_age(first)

    # a new prediction: stale (shown with its age when too large to recompute now)
    with db.session() as s:
        task_id = s.scalar(select(Task.id).where(Task.project_id == pid, Task.external_id == "u0"))
        s.add(Prediction(project_id=pid, task_id=task_id, model_version="m2", value={}))
    stale = _section(db, owner, pid, sync_limit=0)
    assert not stale.analysis.fresh and stale.analysis.new_answers == 0
    assert stale.analysis.computed_at == first.analysis.computed_at
    now = _section(db, owner, pid)  # a small project: recomputed in the request
    assert now.analysis.fresh and now.analysis.computed_at > first.analysis.computed_at

    # submitted answers (on the tasks no one answered yet; m1 pre-fills p5)
    annotate(db, add_member(db, owner), pid, {"p5": {"label": "pos"}, "u3": {"label": "neu"}})
    stale = _section(db, owner, pid, sync_limit=0)
    assert not stale.analysis.fresh and stale.analysis.new_answers == 2
    assert stale.prefilled_answers == 10  # what it was computed from
    recomputed = _section(db, owner, pid)
    assert recomputed.analysis.fresh and recomputed.prefilled_answers == 11
    with db.read_session() as s:
        assert _without_age(recomputed) == _without_age(acceptance_report(s, owner.actor, pid))
