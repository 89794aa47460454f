"""``POST /api/projects/{id}/annotations/import``: a file (raw or multipart) or a JSON body
of rows; a 422 names every refused row and field and stores nothing; project managers only.
Both databases."""

from __future__ import annotations

import orjson
import pytest

from labelhouse.accounts.models import Role
from tests.factories import add_member, add_tasks, jsonl, login, make_project, text_rows


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(3))
    return pid


def url(pid, query=""):
    return f"/api/projects/{pid}/annotations/import{query}"


def test_a_jsonl_upload_imports_and_again_changes_nothing(app, owner, project):
    c = login(app, owner)
    rows = [
        {"external_id": "t0", "annotator": "w1", "value": {"label": "pos"}},
        {"external_id": "t1", "annotator": owner.email, "value": {"label": "neg"}},
    ]
    files = {"file": ("old.jsonl", jsonl(rows), "application/x-ndjson")}
    r = c.post(url(project), files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["imported"], body["external_annotators_created"], body["problems"]) == (2, 1, [])
    again = c.post(url(project), files=files).json()
    assert (again["imported"], again["unchanged"]) == (0, 2)
    people = c.get("/api/people").json()
    assert [e["identity"] for e in people["external_annotators"]] == ["w1"]
    assert people["external_annotators"][0]["role"] == "external"
    assert "w1" not in {p["email"] for p in people["items"]}


def test_a_json_body_of_rows_and_a_422_naming_rows_and_fields(app, owner, project):
    c = login(app, owner)
    good = {"external_id": "t2", "annotator": "w9", "value": {"label": "pos"}}
    bad = {"external_id": "t2", "annotator": "w8", "value": {"label": "nope"}}
    r = c.post(url(project), json={"rows": [good, bad]})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["message"].startswith("Nothing was imported: rows[1]: value.label: unknown option")
    assert [d["field"] for d in error["details"]] == ["rows[1]"]
    r = c.post(url(project), json={"rows": [good]})
    assert r.status_code == 200 and r.json()["imported"] == 1
    assert c.post(url(project), json={"nope": 1}).status_code == 422


def test_the_long_format_by_query_and_the_overlap_refusal(app, owner, project):
    c = login(app, owner)
    data = b"item,worker,label\nt0,a,pos\nt0,b,neg\nt0,c,pos\n"
    r = c.post(url(project, "?format=long&filename=crowd.csv"), content=data)
    assert r.status_code == 422
    assert "raise the overlap to at least 3" in r.json()["error"]["message"]
    assert c.patch(f"/api/projects/{project}", json={"overlap": 3}).status_code == 200
    r = c.post(url(project, "?format=long&filename=crowd.csv"), content=data)
    assert r.status_code == 200 and r.json()["imported"] == 3


def test_only_project_managers_import(app, db, owner, project):
    annotator = add_member(db, owner, Role.annotator)
    c = login(app, annotator)
    r = c.post(url(project), json={"rows": []})
    assert r.status_code == 403
    assert orjson.loads(r.content)["error"]["message"]
