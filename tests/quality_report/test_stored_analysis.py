"""The stored analysis (quality_report/stored.py): read when fresh, never shown as fresh
once answers changed (a submission, an import, a review), equal to the direct computation."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from labelhouse.accounts.models import Role
from labelhouse.annotations.imports import import_annotations
from labelhouse.projects.service import get_project, load_schema
from labelhouse.quality_report import service, stored
from labelhouse.quality_report.models import AnalysisResult
from labelhouse.review import service as review
from tests.factories import add_member, add_tasks, make_org, make_project
from tests.quality_report.helpers import annotate

SCHEMA = {
    "fields": [
        {"name": "label", "kind": "choice", "reads": ["text"],
         "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}]},
        {"name": "tags", "kind": "choices", "reads": ["text"], "min_selected": 0,
         "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
        {"name": "quality", "kind": "rating", "min": 1, "max": 5, "reads": ["text"]},
        {"name": "note", "kind": "text", "reads": ["text"]},
    ]
}  # fmt: skip


def _random_project(db, n_tasks=30, overlap=3, answered=None, seed=5, annotators=None):
    """Returns (owner, project id, members, {external id: task id})."""
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=overlap)
    add_tasks(db, owner, pid, [{"text": f"t {i}", "external_id": f"t{i}"} for i in range(n_tasks)])
    rng = random.Random(seed)
    members, ids = [], {}
    for _ in range(annotators or overlap):
        member = add_member(db, owner)
        members.append(member)
        answers = {
            f"t{i}": {
                "label": rng.choice(["pos", "neg", "neu"]),
                "tags": sorted(rng.sample(["a", "b", "c"], rng.randint(0, 2))),
                "quality": rng.randint(1, 5),
                "note": rng.choice(["fine", "unsure", "typo"]),
            }
            for i in range(answered if answered is not None else n_tasks)
        }
        ids.update(annotate(db, member, pid, answers))
    return owner, pid, members, ids


def _report(db, owner, pid, **kw):
    with db.read_session() as s:
        return service.project_report(s, owner.actor, pid, db=db, **kw)


def _rows(db, pid):
    with db.read_session() as s:
        rows = s.scalars(select(AnalysisResult).where(AnalysisResult.project_id == pid)).all()
        for row in rows:
            s.expunge(row)
        return rows


def test_fresh_result_is_read_not_recomputed_and_changes_make_it_stale(db):
    owner, pid, _, _ = _random_project(db, n_tasks=12, answered=10)
    first = _report(db, owner, pid)
    assert first.analysis.fresh and first.analysis.age_seconds == 0.0
    (row,) = _rows(db, pid)
    assert row.key == stored.key_of("majority") and row.answers == 30
    again = _report(db, owner, pid)
    # read from the row: same computed_at, an age, the same report
    assert again.analysis.computed_at == first.analysis.computed_at == row.computed_at
    assert again.analysis.fresh and again.analysis.age_seconds >= 0.0
    assert service.as_json(again.fields) == service.as_json(first.fields)
    assert service.as_json(again.scorecards) == service.as_json(first.scorecards)
    assert service.as_json(again.hotspots) == service.as_json(first.hotspots)

    # a submission: the stored result is stale, never presented as fresh
    late = add_member(db, owner)  # (the others skipped t10 already)
    annotate(db, late, pid, {"t10": {"label": "pos", "tags": [], "quality": 3, "note": "ok"}})
    stale = _report(db, owner, pid, sync_limit=0)
    assert not stale.analysis.fresh and stale.analysis.new_answers == 1
    assert stale.analysis.computed_at == first.analysis.computed_at
    assert stale.annotations == 30  # what it was computed from, said by its age line
    # a small project is recomputed in the request instead
    now = _report(db, owner, pid)
    assert now.analysis.fresh and now.annotations == 31
    assert now.analysis.computed_at > first.analysis.computed_at
    assert _report(db, owner, pid).analysis.computed_at == now.analysis.computed_at
    # ?fresh=1 recomputes even a fresh result
    forced = _report(db, owner, pid, fresh=True)
    assert forced.analysis.computed_at > now.analysis.computed_at
    assert len(_rows(db, pid)) == 1  # replaced, not added


def test_import_review_and_method_keys(db):
    owner, pid, _, ids = _random_project(db, n_tasks=6, overlap=3, annotators=2)
    _report(db, owner, pid)
    # an import of answers by an outside annotator completes task t0
    with db.session() as s:
        value = {"label": "neg", "tags": ["a"], "quality": 2, "note": "ok"}
        rows = [{"external_id": "t0", "annotator": "w9", "value": value}]
        assert import_annotations(s, owner.actor, pid, rows).imported == 1
    after_import = _report(db, owner, pid, sync_limit=0).analysis
    assert not after_import.fresh and after_import.new_answers == 1
    recomputed = _report(db, owner, pid)  # a small project: recomputed in the request
    assert recomputed.analysis.fresh and recomputed.annotations == 13
    # a review: rejecting t0's answers takes them out of the analysis
    reviewer = add_member(db, owner, Role.reviewer)
    with db.session() as s:
        review.decide(s, reviewer.actor, ids["t0"], decision="reject", reason="sloppy")
    after_review = _report(db, owner, pid, sync_limit=0).analysis
    assert not after_review.fresh
    assert after_review.computed_at == recomputed.analysis.computed_at
    assert _report(db, owner, pid).annotations == 10
    # results are kept per method
    ds = _report(db, owner, pid, method="dawid_skene")
    assert ds.method == "dawid_skene" and ds.analysis.fresh
    assert {r.key for r in _rows(db, pid)} == {
        stored.key_of("majority"),
        stored.key_of("dawid_skene"),
    }


@pytest.mark.parametrize("method", ["majority", "dawid_skene", "gold_weighted"])
def test_stored_consensus_equals_the_direct_computation(db, method):
    owner, pid, _, _ = _random_project(db, n_tasks=40, seed=11)
    with db.read_session() as s:
        project = get_project(s, owner.actor, pid)
        computed = service._compute(s, pid, load_schema(s, project), method)
    direct = {}
    for t, task_id in enumerate(computed.answers.task_ids.tolist()):
        fields = {}
        for fa in computed.analyses:
            c = fa.consensus[t]
            if c is not None:
                fields[fa.name] = {"value": c.value, "confidence": c.confidence, "method": c.method}
        direct[task_id] = service.as_json(fields)
    with db.read_session() as s:  # computes and stores
        service.consensus_page(s, owner.actor, pid, method=method, limit=1, db=db)
    stored_rows = []
    cursor = 0
    while True:
        with db.read_session() as s:
            page = service.consensus_page(
                s, owner.actor, pid, method=method, after_id=cursor, limit=7, db=db
            )
        assert page.analysis.fresh and page.analysis.age_seconds > 0.0  # read, not computed
        stored_rows += page
        if len(page) < 7:
            break
        cursor = page[-1].task_id
    assert {r.task_id: service.as_json(r.fields) for r in stored_rows} == direct
    assert {r.task_id: r.annotations for r in stored_rows} == {
        int(task_id): int(n)
        for task_id, n in zip(
            computed.answers.task_ids, computed.answers.bounds[1:] - computed.answers.bounds[:-1]
        )
    }
    # exports read the same columns
    with db.read_session() as s:
        schema = load_schema(s, get_project(s, owner.actor, pid))
        by_task = service.consensus_by_task(s, pid, schema, method=method)
        assert {k: service.as_json(v) for k, v in by_task.items()} == direct


def test_exports_never_read_a_stale_result(db):
    owner, pid, _, ids = _random_project(db, n_tasks=8, overlap=2, answered=7)
    with db.read_session() as s:
        service.consensus_page(s, owner.actor, pid, db=db)
        schema = load_schema(s, get_project(s, owner.actor, pid))
    late = {"t7": {"label": "neu", "tags": [], "quality": 2, "note": "ok"}}
    ids.update(annotate(db, add_member(db, owner), pid, late))
    with db.read_session() as s:
        by_task = service.consensus_by_task(s, pid, schema)
        count = s.scalar(select(func.count()).select_from(AnalysisResult))
    assert count == 1 and len(by_task) == 8
    assert by_task[ids["t7"]]["label"] == {"value": "neu", "confidence": 1.0, "method": "majority"}
