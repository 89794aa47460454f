"""The acceptance report on a real database: kept / changed / cleared counts per model
version and field, the prediction each answer was pre-filled with (the one the annotate
page shows, existing when the answer was started), and the anchoring warning."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from labelhouse.db.base import utcnow
from labelhouse.quality_report.acceptance import AnchoringRule, acceptance_report
from labelhouse.quality_report.prefill_loading import load_prefilled
from labelhouse.tasks.models import Prediction, Task
from labelhouse.tasks.prefill import shown_prediction
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        },
        {"name": "note", "kind": "text", "required": False},
    ]
}
PREFILLED, PLAIN = 16, 12  # tasks with a prediction of model m1, tasks without
SMALL = AnchoringRule(min_prefilled=10, min_unprefilled_tasks=5)  # for the smaller controls


def _project(db, owner, prefilled=PREFILLED, plain=PLAIN):
    pid = make_project(db, owner, schema=SCHEMA, overlap=2)
    rows = [
        {
            "text": f"p{i}",
            "external_id": f"p{i}",
            "predictions": [
                {"value": {"label": "neu"}, "model_version": "m0", "score": 0.2},
                {"value": {"label": "pos", "note": "fine"}, "model_version": "m1", "score": 0.9},
                {"value": {"label": "neg"}, "model_version": "m2"},  # no score: lowest
            ],
        }
        for i in range(prefilled)
    ]
    plain_rows = [{"text": f"u{i}", "external_id": f"u{i}"} for i in range(plain)]
    add_tasks(db, owner, pid, rows + plain_rows)
    return pid


def _answer(db, owner, pid, first, second):
    """Two annotators answer every task: ``first``/``second`` map an external id to a value."""
    for pick in (first, second):
        annotate(
            db,
            add_member(db, owner),
            pid,
            {f"{c}{i}": pick(f"{c}{i}") for c in "pu" for i in range(PREFILLED)},
        )


def _row(report, model, field):
    [row] = [r for r in report.rows if r.model_version == model and r.field == field]
    return row


def test_anchored_annotators_raise_the_warning_and_agreeing_ones_do_not(app, db):
    owner = make_org(db)
    anchored = _project(db, owner)
    # pre-filled: both keep the model's label (one clears its note on half the tasks);
    # without pre-fill they agree on only half of the tasks
    _answer(
        db,
        owner,
        anchored,
        lambda ext: {"label": "pos", "note": "fine"},
        lambda ext: (
            {"label": "pos" if ext.startswith("p") or int(ext[1:]) % 2 else "neg"}
            | ({"note": "fine"} if ext.startswith("p") and int(ext[1:]) % 2 else {})
        ),
    )
    with db.read_session() as s:
        report = acceptance_report(s, owner.actor, anchored)
    assert report.answers == 2 * (PREFILLED + PLAIN)
    assert report.prefilled_answers == 2 * PREFILLED
    assert {r.model_version for r in report.rows} == {"m1"}  # the one shown: highest score
    label, note = _row(report, "m1", "label"), _row(report, "m1", "note")
    assert (label.prefilled, label.kept, label.changed, label.cleared) == (32, 32, 0, 0)
    assert label.kept_rate == 1.0 and label.prediction_agreement == 1.0
    assert label.agreement_prefilled == 1.0 and label.prefilled_tasks == PREFILLED
    assert label.agreement_unprefilled == 0.5 and label.unprefilled_tasks == PLAIN
    assert label.anchoring is True
    assert (note.prefilled, note.kept, note.cleared) == (32, 24, 8)
    assert note.cleared_rate == 0.25 and note.anchoring is False
    [warning] = report.warnings
    assert "'label'" in warning and "m1" in warning and "100%" in warning and "50%" in warning
    page = login(app, owner).get(f"/projects/{anchored}/quality").text  # shown on the page
    section = page.split('id="acceptance"', 1)[1].split("</section>", 1)[0]
    assert 'role="alert"' in section and "anchored on the model&#39;s answers" in section
    assert section.count("anchoring?") == 1  # the label row, not the note row

    calibrated = _project(db, owner, 10, 6)  # everybody agrees with or without pre-fill
    _answer(db, owner, calibrated, lambda ext: {"label": "pos"}, lambda ext: {"label": "pos"})
    contrarian = _project(db, owner, 10, 6)  # annotators overrule the model on every other task
    _answer(
        db,
        owner,
        contrarian,
        lambda ext: {"label": "neg" if int(ext[1:]) % 2 else "pos"},
        lambda ext: {"label": "neg" if int(ext[1:]) % 2 else "pos"},
    )
    with db.read_session() as s:
        calm = acceptance_report(s, owner.actor, calibrated, rule=SMALL)
        changed = acceptance_report(s, owner.actor, contrarian, rule=SMALL)
        strict = acceptance_report(s, owner.actor, anchored, rule=AnchoringRule(min_prefilled=40))
    row = _row(calm, "m1", "label")
    assert row.kept_rate == 1.0 and row.agreement_unprefilled == 1.0 and not calm.warnings
    assert _row(calm, "m1", "note").cleared == 20  # pre-filled "fine", submitted without
    row = _row(changed, "m1", "label")
    assert (row.kept, row.changed, row.cleared) == (10, 10, 0) and row.kept_rate == 0.5
    assert row.prediction_agreement == 0.5 and not changed.warnings
    assert not strict.warnings  # too few pre-filled answers for the rule


def test_the_sql_pick_is_the_shown_prediction_and_later_predictions_do_not_count(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=1)
    preds = [
        {"value": {"label": "neu"}, "model_version": "none"},
        {"value": {"label": "pos"}, "model_version": "first-of-equals", "score": 0.5},
        {"value": {"label": "neg"}, "model_version": "second-of-equals", "score": 0.5},
        {"value": {"label": "neg"}, "model_version": "lower", "score": -1},
    ]
    add_tasks(db, owner, pid, [{"text": "a", "external_id": "a", "predictions": preds}])
    add_tasks(db, owner, pid, [{"text": "b", "external_id": "b"}])
    annotate(db, add_member(db, owner), pid, {"a": {"label": "pos"}, "b": {"label": "pos"}})
    with db.session() as s:  # a model asked after the answers: it pre-filled nothing
        late = utcnow() + timedelta(seconds=5)
        for task_id in s.scalars(select(Task.id).where(Task.project_id == pid)):
            s.add(
                Prediction(
                    project_id=pid,
                    task_id=task_id,
                    model_version="late",
                    score=9.0,
                    value={"label": "pos"},
                    created_at=late,
                )
            )
    with db.read_session() as s:
        data = load_prefilled(s, pid)
        report = acceptance_report(s, owner.actor, pid, rule=AnchoringRule(min_prefilled=1))
    assert shown_prediction(preds)["model_version"] == "first-of-equals"
    assert data.models == ["first-of-equals"]
    assert data.model.tolist() == [0, -1] and data.predicted[0] == {"label": "pos"}
    assert [(r.model_version, r.field, r.kept) for r in report.rows] == [
        ("first-of-equals", "label", 1)
    ]
