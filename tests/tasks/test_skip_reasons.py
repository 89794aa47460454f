"""Skip reasons (issue 13 item 9b): a project's list in its settings (defaults until set),
a skip's reason and note kept, a "(write it)" reason needing the note, and the task page
listing who skipped and why."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.projects.skip_reasons import DEFAULT_SKIP_REASONS
from labelhouse.tasks.models import Assignment
from tests.factories import add_member, add_tasks, login, make_project, text_rows
from tests.helpers_data import detached, error_of


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(3))
    return pid


def skips(db, project_id):
    rows = detached(
        db,
        select(Assignment)
        .where(Assignment.project_id == project_id, Assignment.status == "skipped")
        .order_by(Assignment.id),
    )
    return [(a.task_id, a.skip_reason, a.skip_note) for a in rows]


def test_projects_offer_the_default_reasons_until_they_set_their_own(app, owner, project):
    c = login(app, owner)
    assert c.get(f"/api/projects/{project}").json()["skip_reasons"] == list(DEFAULT_SKIP_REASONS)
    mine = ["Offensive content", "Not English, sorry", "Other (write it)"]
    r = c.patch(
        f"/api/projects/{project}", json={"skip_reasons": [" Offensive content ", *mine[1:]]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["skip_reasons"] == mine  # trimmed; commas are fine
    assert c.get(f"/api/projects/{project}").json()["skip_reasons"] == mine
    # other settings leave them alone
    assert c.patch(f"/api/projects/{project}", json={"overlap": 3}).json()["skip_reasons"] == mine
    # [] offers only the note; null restores the defaults
    assert (
        c.patch(f"/api/projects/{project}", json={"skip_reasons": []}).json()["skip_reasons"] == []
    )
    back = c.patch(f"/api/projects/{project}", json={"skip_reasons": None}).json()
    assert back["skip_reasons"] == list(DEFAULT_SKIP_REASONS)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["Same", "same"], "'same' is listed twice"),
        (["x" * 101], "longer than 100 characters"),
        ([f"r{i}" for i in range(13)], "at most 12 reasons"),
        ("Unclear", "valid list"),
    ],
)
def test_bad_reason_lists_are_refused_with_a_sentence(app, owner, project, value, problem):
    c = login(app, owner)
    r = c.patch(f"/api/projects/{project}", json={"skip_reasons": value})
    assert r.status_code == 422
    error = error_of(r)
    assert problem in " ".join(d["problem"] for d in error["details"]) + error["message"]
    assert c.get(f"/api/projects/{project}").json()["skip_reasons"] == list(DEFAULT_SKIP_REASONS)


def test_only_managers_change_the_reasons(app, db, owner, project):
    reviewer = add_member(db, owner, Role.reviewer)
    r = login(app, reviewer).patch(f"/api/projects/{project}", json={"skip_reasons": ["x"]})
    assert r.status_code == 403


def test_a_skip_keeps_its_reason_and_note(app, db, annotator, project):
    c = login(app, annotator)
    first = c.post(f"/api/projects/{project}/next").json()["task"]["id"]
    body = {"reason": "Broken media/data", "note": "  the text is cut off  "}
    r = c.post(f"/api/tasks/{first}/skip", json=body, headers={"Idempotency-Key": "k1"})
    assert r.status_code == 204, r.text
    # a retry of the same skip answers the same, and writes nothing more
    again = c.post(f"/api/tasks/{first}/skip", json=body, headers={"Idempotency-Key": "k1"})
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (204, "true")
    second = c.post(f"/api/projects/{project}/next").json()["task"]["id"]
    assert c.post(f"/api/tasks/{second}/skip", json={"note": "just a note"}).status_code == 204
    third = c.post(f"/api/projects/{project}/next").json()["task"]["id"]
    assert c.post(f"/api/tasks/{third}/skip").status_code == 204  # no body: no reason
    assert skips(db, project) == [
        (first, "Broken media/data", "the text is cut off"),
        (second, None, "just a note"),
        (third, None, None),
    ]


def test_a_write_it_reason_needs_a_note(app, db, annotator, project):
    c = login(app, annotator)
    task = c.post(f"/api/projects/{project}/next").json()["task"]["id"]
    for note in (None, "   "):
        r = c.post(f"/api/tasks/{task}/skip", json={"reason": "Other (write it)", "note": note})
        assert r.status_code == 422
        error = error_of(r)
        assert error["message"] == (
            "The reason 'Other (write it)' needs a few words: write why you skip this task."
        )
        assert [d["field"] for d in error["details"]] == ["note"]
    assert skips(db, project) == []  # the lease is still held: nothing was skipped
    assert c.post(f"/api/projects/{project}/next").json()["task"]["id"] == task
    r = c.post(f"/api/tasks/{task}/skip", json={"reason": "Other (write it)", "note": "sarcasm?"})
    assert r.status_code == 204
    assert skips(db, project) == [(task, "Other (write it)", "sarcasm?")]


def test_the_task_page_lists_skips_with_reason_and_note(app, db, owner, project):
    a, b = add_member(db, owner), add_member(db, owner)
    ca, cb = login(app, a), login(app, b)
    task = ca.post(f"/api/projects/{project}/next").json()["task"]["id"]
    assert cb.post(f"/api/projects/{project}/next").json()["task"]["id"] == task  # overlap 2
    ca.post(f"/api/tasks/{task}/skip", json={"reason": "Unclear instructions"})
    cb.post(f"/api/tasks/{task}/skip", json={"note": "<b>not</b> my language"})
    page = login(app, owner).get(f"/tasks/{task}")
    assert page.status_code == 200
    html = page.text
    section = html[html.index('id="skips-heading"') :]
    assert 'Skips <span class="muted">(2)</span>' in section
    assert a.email in section and b.email in section
    assert "Unclear instructions" in section and "none given" in section
    assert "&lt;b&gt;not&lt;/b&gt; my language" in section  # escaped
    assert "<b>not</b>" not in html
    # a task nobody skipped has no such section
    other = login(app, owner).get(f"/tasks/{task + 1}").text
    assert 'id="skips-heading"' not in other
