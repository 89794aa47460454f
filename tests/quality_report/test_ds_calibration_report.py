"""The quality report and page show how the Dawid–Skene fit converged, say when it is not
identifiable, and calibrate the consensus confidence on gold tasks (issue 17). Answers
come in through the annotation import, as a lab's existing crowd labels would."""

from __future__ import annotations

from labelhouse.annotations.imports import import_annotations
from labelhouse.quality_report import service
from tests.factories import add_tasks, login, make_org, make_project

N_GOLD, N_SHARED_MISTAKES = 40, 10


def _import(db, owner, pid, rows):
    with db.session() as s:
        result = import_annotations(s, owner.actor, pid, rows)
    assert not result.problems, result.problems


def _field(db, owner, pid, method="dawid_skene"):
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, method=method)
    (label,) = report.fields
    return label


def test_consensus_confidence_is_calibrated_on_gold_and_convergence_reported(db, app):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    truth = {f"g{i}": ("pos" if i % 2 else "neg") for i in range(N_GOLD)}
    add_tasks(
        db,
        owner,
        pid,
        [{"data": {"text": k}, "external_id": k, "gold": {"label": v}} for k, v in truth.items()]
        + [{"data": {"text": f"o{i}"}, "external_id": f"o{i}"} for i in range(20)],
    )
    flip = {"pos": "neg", "neg": "pos"}
    rows = []
    for i, (task, right) in enumerate(truth.items()):
        shared_mistake = i >= N_GOLD - N_SHARED_MISTAKES  # the whole crowd errs together
        for w in ("w1", "w2", "w3"):
            wrong = shared_mistake or (w == "w3" and i % 5 == 0)
            rows.append(
                {
                    "external_id": task,
                    "annotator": w,
                    "value": {"label": flip[right] if wrong else right},
                }
            )
    for i in range(20):
        for w in ("w1", "w2", "w3"):
            rows.append({"external_id": f"o{i}", "annotator": w, "value": {"label": "neu"}})
    _import(db, owner, pid, rows)

    label = _field(db, owner, pid)
    assert label.consensus_method == "dawid_skene"
    assert label.convergence is not None
    assert label.convergence["converged"] and label.convergence["identifiable"]
    assert 1 <= label.convergence["iterations"] < 200
    cal = label.calibration
    assert cal.status == "calibrated" and cal.n_gold == N_GOLD
    assert cal.accuracy == (N_GOLD - N_SHARED_MISTAKES) / N_GOLD
    assert cal.mean_confidence > 0.95  # the model's own confidence...
    assert cal.ece_after < cal.ece_before  # ... and after calibration, out of fold
    # the confidence shown is the calibrated one: close to the accuracy on gold
    assert abs(label.consensus_mean_confidence - 0.75) < 0.1
    assert service.as_json(label)["calibration"]["status"] == "calibrated"

    page = login(app, owner).get(f"/projects/{pid}/quality?method=dawid_skene")
    assert page.status_code == 200
    assert f"Calibrated on {N_GOLD} gold tasks" in page.text
    assert 'class="chart scatter reliability"' in page.text
    assert "Dawid–Skene:\nconverged in" in page.text or "converged in" in page.text


def test_overlap_one_is_flagged_and_lone_answers_kept(db, app):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    add_tasks(
        db, owner, pid, [{"data": {"text": f"t{i}"}, "external_id": f"t{i}"} for i in range(6)]
    )
    given = ["pos", "neg", "neu", "pos", "pos", "neg"]
    _import(
        db,
        owner,
        pid,
        [
            {"external_id": f"t{i}", "annotator": f"w{i % 2}", "value": {"label": v}}
            for i, v in enumerate(given)
        ],
    )
    label = _field(db, owner, pid)
    assert label.convergence == {
        "converged": True,
        "iterations": 0,
        "final_change": 0.0,
        "identifiable": False,
        "kept_single": 0,
    }
    assert label.calibration.status == "uncalibrated"
    with db.read_session() as s:
        rows = service.consensus_page(s, owner.actor, pid, method="dawid_skene")
    assert [r.fields["label"]["value"] for r in rows] == given
    page = login(app, owner).get(f"/projects/{pid}/quality?method=dawid_skene")
    assert "not identifiable" in page.text and "Uncalibrated" in page.text
