"""What the annotate page needs from the API: submit-and-next in one round trip, rendered
(sanitized) Markdown for the widgets, and the page shell itself."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelhouse.tasks.models import Assignment
from tests.factories import add_tasks, login, make_org, make_project, text_rows
from tests.helpers_data import detached, error_of

PAIRWISE = {
    "fields": [{"name": "preference", "kind": "pairwise", "strengths": ["slightly", "much"]}]
}
PAIR_ROW = {
    "external_id": "p1",
    "prompt": "Reverse `s` <script>alert(1)</script>",
    "responses": ["```python\ns[::-1]\n```", "<img src=x onerror=alert(2)>"],
}


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    return pid


def leases(db, user_id):
    return {
        (a.task_id, a.status)
        for a in detached(db, select(Assignment).where(Assignment.user_id == user_id))
    }


def test_submit_with_next_returns_the_annotation_and_the_next_lease(app, db, annotator, project):
    c = login(app, annotator)
    first = c.post(f"/api/projects/{project}/next").json()["task"]
    r = c.post(f"/api/tasks/{first['id']}/annotations?next=1", json={"value": {"label": "pos"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"annotation", "next"}
    ann = body["annotation"]
    assert (ann["task_id"], ann["status"], ann["value"], ann["created"]) == (
        first["id"],
        "submitted",
        {"label": "pos"},
        True,
    )
    nxt = body["next"]
    assert set(nxt) == {"task", "lease", "schema_version", "schema"}
    second = nxt["task"]
    assert second["id"] != first["id"]
    assert nxt["lease"]["new"] is True
    assert nxt["schema"]["fields"][0]["name"] == "label"
    assert "rendered" not in second
    # exactly what /next now answers: the same lease, not a second one
    assert c.post(f"/api/projects/{project}/next").json()["task"]["id"] == second["id"]
    assert leases(db, annotator.actor.user_id) == {
        (first["id"], "submitted"),
        (second["id"], "leased"),
    }


def test_submit_with_next_reports_the_end_of_the_queue(app, annotator, project):
    c = login(app, annotator)
    task = c.post(f"/api/projects/{project}/next").json()["task"]
    for _ in range(3):
        body = c.post(
            f"/api/tasks/{task['id']}/annotations?next=1", json={"value": {"label": "neg"}}
        ).json()
        task = body["next"]["task"]
    assert body["next"] == {"task": None, "lease": None, "schema_version": 1}


def test_resubmitting_an_old_task_with_next_returns_the_lease_already_held(app, annotator, project):
    c = login(app, annotator)
    first = c.post(f"/api/projects/{project}/next").json()["task"]
    second = c.post(
        f"/api/tasks/{first['id']}/annotations?next=1", json={"value": {"label": "pos"}}
    ).json()["next"]["task"]
    body = c.post(
        f"/api/tasks/{first['id']}/annotations?next=1", json={"value": {"label": "neu"}}
    ).json()
    assert (body["annotation"]["revision"], body["annotation"]["created"]) == (2, False)
    assert body["next"]["task"]["id"] == second["id"]
    assert body["next"]["lease"]["new"] is False


def test_an_invalid_submission_with_next_changes_nothing(app, db, annotator, project):
    c = login(app, annotator)
    task = c.post(f"/api/projects/{project}/next").json()["task"]
    r = c.post(f"/api/tasks/{task['id']}/annotations?next=1", json={"value": {"label": "nope"}})
    assert r.status_code == 422
    assert [d["field"] for d in error_of(r)["details"]] == ["label"]
    assert leases(db, annotator.actor.user_id) == {(task["id"], "leased")}


def test_next_is_refused_with_a_draft(app, annotator, project):
    c = login(app, annotator)
    task = c.post(f"/api/projects/{project}/next").json()["task"]
    r = c.post(f"/api/tasks/{task['id']}/annotations?next=1", json={"value": {}, "draft": True})
    assert r.status_code == 422
    assert error_of(r)["details"] == [
        {"field": "next", "problem": "send next=1 only with a submission (draft: false)"}
    ]


def test_without_next_the_answer_keeps_its_shape(app, annotator, project):
    c = login(app, annotator)
    task = c.post(f"/api/projects/{project}/next").json()["task"]
    body = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}}).json()
    assert body["value"] == {"label": "pos"} and body["created"] is True
    assert "next" not in body


@pytest.fixture
def pair_project(db, owner):
    pid = make_project(db, owner, schema=PAIRWISE)
    add_tasks(db, owner, pid, [PAIR_ROW, {**PAIR_ROW, "external_id": "p2"}])
    return pid


EXPECTED_RENDERED = {
    "preference": {
        "prompt": "<p>Reverse <code>s</code> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
        "responses": [
            # highlighted on the server: Pygments token classes, no inline style
            '<pre><code class="language-python"><span class="n">s</span><span class="p">[::</span>'
            '<span class="o">-</span><span class="mi">1</span><span class="p">]</span>\n'
            "</code></pre>\n",
            "<p>&lt;img src=x onerror=alert(2)&gt;</p>\n",
        ],
    }
}


def test_render_adds_sanitized_markdown_per_field(app, annotator, pair_project):
    c = login(app, annotator)
    plain = c.post(f"/api/projects/{pair_project}/next").json()["task"]
    assert "rendered" not in plain
    task = c.post(f"/api/projects/{pair_project}/next?render=1").json()["task"]
    assert task["id"] == plain["id"]
    assert task["rendered"] == EXPECTED_RENDERED
    assert task["data"]["prompt"] == PAIR_ROW["prompt"]  # the raw data is untouched
    body = c.post(
        f"/api/tasks/{task['id']}/annotations?next=1&render=1",
        json={"value": {"preference": {"choice": "B", "strength": "much"}}},
    ).json()
    assert body["next"]["task"]["rendered"] == EXPECTED_RENDERED
    got = c.get(f"/api/tasks/{task['id']}?render=1").json()
    assert got["rendered"] == EXPECTED_RENDERED
    assert got["annotations"][0]["value"] == {"preference": {"choice": "B", "strength": "much"}}
    assert "rendered" not in c.get(f"/api/tasks/{task['id']}").json()


def config_of(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="lh-annotate-config">(.*?)</script>', html, re.S
    )
    assert match, html[:500]
    return json.loads(match.group(1))


def test_annotate_page_shell(app, db, owner, annotator):
    pid = make_project(
        db,
        owner,
        name="</script><b>x</b>",
        instructions="Be **careful** <img src=x onerror=alert(1)>",
    )
    c = login(app, annotator)
    r = c.get(f"/projects/{pid}/annotate?task=7")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    html = r.text
    assert '<script type="module" src="/static/js/annotate.js"></script>' in html
    assert "<strong>careful</strong> &lt;img src=x onerror=alert(1)&gt;" in html
    assert "</script><b>x</b>" not in html  # the name is escaped in the title and the JSON
    config = config_of(html)
    assert config["project"] == {"id": pid, "name": "</script><b>x</b>"}
    assert config["user"] == {"id": annotator.actor.user_id, "role": "annotator"}
    assert config["open_task"] == 7
    assert config["schema"]["fields"][0]["name"] == "label"
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)
    assert not [t for t in tags if re.search(r"\s(on[a-z]+|style)=", t)], "no handlers or styles"


def test_annotate_page_needs_a_login_and_hides_other_organizations(app, db, owner):
    pid = make_project(db, owner)
    anonymous = TestClient(app)
    r = anonymous.get(f"/projects/{pid}/annotate", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/projects/{pid}/annotate"
    stranger = login(app, make_org(db, "Other lab"))
    assert stranger.get(f"/projects/{pid}/annotate").status_code == 404
