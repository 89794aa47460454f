"""``GET /api/projects/{id}/quality/acceptance`` over real HTTP: annotators answer through
the annotate API (which hands them the predictions), the report counts what they did with
the pre-filled answers; annotators are refused and other organizations see nothing."""

from __future__ import annotations

from labelhouse.accounts.models import Role
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

MODEL = "v1 <b>bold</b>"
ROWS = [
    {
        "text": f"t{i}",
        "external_id": f"t{i}",
        "predictions": [{"value": {"label": "pos"}, "model_version": MODEL, "score": 0.8}],
    }
    for i in range(3)
] + [{"text": "plain", "external_id": "plain"}]


def test_acceptance_counts_what_annotators_did_with_the_prefill(app, db, owner, annotator):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, ROWS)
    c = login(app, annotator)
    answers = {"t0": {"label": "pos"}, "t1": {"label": "neg"}, "t2": {"label": "pos"}}
    while (nxt := c.post(f"/api/projects/{pid}/next").json()).get("task"):
        task = nxt["task"]
        ext = task["external_id"]
        if ext != "plain":  # the annotate page pre-fills this one
            assert task["predictions"][0]["value"] == {"label": "pos"}
        value = answers.get(ext, {"label": "neu"})
        r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": value})
        assert r.status_code == 200, r.text

    manager = login(app, owner)
    r = manager.get(f"/api/projects/{pid}/quality/acceptance")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["answers"], body["prefilled_answers"], body["warnings"]) == (4, 3, [])
    [row] = body["rows"]
    assert row["model_version"] == MODEL and row["field"] == "label" and row["kind"] == "choice"
    assert (row["prefilled"], row["kept"], row["changed"], row["cleared"]) == (3, 2, 1, 0)
    assert abs(row["kept_rate"] - 2 / 3) < 1e-9 and row["cleared_rate"] == 0
    assert row["agreement_unprefilled"] is None and row["unprefilled_tasks"] == 0  # overlap 1
    assert row["anchoring"] is False and body["rule"]["min_acceptance"] == 0.9
    assert body["analysis"]["fresh"] is True  # part of the stored analysis, read when fresh
    again = manager.get(f"/api/projects/{pid}/quality/acceptance").json()
    assert again["analysis"]["computed_at"] == body["analysis"]["computed_at"]
    assert again["rows"] == body["rows"]

    page = manager.get(f"/projects/{pid}/quality")  # the quality page's section
    assert page.status_code == 200
    section = page.text.split('id="acceptance"', 1)[1].split("</section>", 1)[0]
    assert "v1 &lt;b&gt;bold&lt;/b&gt;" in section and "<b>bold" not in page.text
    assert 'aria-label="Pre-filled answers kept' in section and "67%" in section
    assert 'role="alert"' not in section and "anchoring?" not in section
    assert 'class="muted small acceptance-age" data-fresh="true">Computed' in section

    # annotators do not see quality reports; another organization sees no such project
    assert c.get(f"/api/projects/{pid}/quality/acceptance").status_code == 403
    stranger = make_org(db, "Elsewhere")
    other = login(app, stranger)
    missing = other.get(f"/api/projects/{pid}/quality/acceptance")
    assert missing.status_code == 404
    nothing = other.get("/api/projects/999999/quality/acceptance").json()  # as a missing id
    assert missing.json()["error"] == nothing["error"] | {
        "message": f"Project {pid} does not exist."
    }
    their_manager = login(app, add_member(db, stranger, Role.manager))
    assert their_manager.get(f"/api/projects/{pid}/quality/acceptance").status_code == 404
    # their own project (no predictions) answers, with nothing of ours in it
    theirs = make_project(db, stranger)
    add_tasks(db, stranger, theirs, [{"text": "x", "external_id": "x"}])
    annotate(db, stranger, theirs, {"x": {"label": "pos"}})
    r = other.get(f"/api/projects/{theirs}/quality/acceptance")
    assert r.status_code == 200, r.text
    assert (r.json()["rows"], r.json()["answers"], r.json()["prefilled_answers"]) == ([], 1, 0)
