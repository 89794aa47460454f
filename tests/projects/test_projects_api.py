"""Projects over the JSON API: creation, schema validation and versions, settings, and how
overlap changes reopen or close tasks in the queue."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.projects.models import SchemaVersion
from tests.factories import (
    CHOICE_SCHEMA,
    add_member,
    add_tasks,
    login,
    make_project,
    text_rows,
)

TEXT_SCHEMA = {"fields": [{"name": "note", "kind": "text", "reads": ["text"]}]}

YAML_SCHEMA = """
fields:
  - name: sentiment
    kind: choice
    reads: [text]
    options:
      - value: pos
        label: Positive
      - value: neg
        label: Negative
  - name: comment
    kind: text
    required: false
"""

CHOICE_V2 = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}, {"value": "mixed"}],
        }
    ]
}


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def problems(err: dict[str, Any]) -> dict[str, str]:
    return {d["field"]: d["problem"] for d in err["details"]}


@pytest.fixture
def c(app, owner):
    return login(app, owner)


# -- creation -------------------------------------------------------------------------------


def test_create_project_with_a_valid_schema(c):
    r = c.post(
        "/api/projects",
        json={
            "name": "  Sentiment  ",
            "schema": CHOICE_SCHEMA,
            "description": "tweets",
            "instructions": "# Read carefully",
            "overlap": 3,
            "lease_seconds": 600,
        },
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["name"] == "Sentiment"
    assert p["description"] == "tweets"
    assert p["instructions"] == "# Read carefully"
    assert (p["overlap"], p["lease_seconds"], p["schema_version"], p["archived"]) == (
        3,
        600,
        1,
        False,
    )
    assert p["created_at"]

    got = c.get(f"/api/projects/{p['id']}").json()
    assert got["schema"]["fields"][0]["name"] == "label"
    assert [o["value"] for o in got["schema"]["fields"][0]["options"]] == ["pos", "neg", "neu"]
    assert got["schema_version"] == 1

    schema = c.get(f"/api/projects/{p['id']}/schema").json()
    assert schema["version"] == 1
    assert schema["schema"] == got["schema"]

    assert [x["id"] for x in c.get("/api/projects").json()["items"]] == [p["id"]]


def test_create_project_defaults(c):
    r = c.post("/api/projects", json={"name": "Defaults", "schema": TEXT_SCHEMA})
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["overlap"], p["lease_seconds"], p["description"], p["instructions"]) == (
        1,
        600,  # ten minutes: open pages renew their lease, closing pages give it back
        "",
        "",
    )


def test_create_project_accepts_a_bare_field_list(c):
    r = c.post("/api/projects", json={"name": "Short", "schema": TEXT_SCHEMA["fields"]})
    assert r.status_code == 201, r.text
    assert (
        c.get(f"/api/projects/{r.json()['id']}/schema").json()["schema"]["fields"][0]["name"]
        == "note"
    )


def test_create_project_accepts_yaml_schema_text(c):
    r = c.post("/api/projects", json={"name": "YAML", "schema": YAML_SCHEMA})
    assert r.status_code == 201, r.text
    schema = c.get(f"/api/projects/{r.json()['id']}/schema").json()["schema"]
    assert [f["name"] for f in schema["fields"]] == ["sentiment", "comment"]
    assert [f["kind"] for f in schema["fields"]] == ["choice", "text"]
    assert schema["fields"][0]["options"][0] == {"value": "pos", "label": "Positive"}
    assert schema["fields"][1]["required"] is False


def test_invalid_schema_lists_every_problem_with_its_location(c):
    bad = {
        "fields": [
            {"name": "a", "kind": "nope"},
            {"name": "b", "kind": "choice", "reads": ["text"], "options": []},
            {"kind": "choice", "reads": ["text"], "options": [{"value": "x"}]},
            {"name": "bad name!", "kind": "text"},
            {"name": "e", "kind": "choice", "options": [{"value": "x", "colour": "red"}]},
        ]
    }
    r = c.post("/api/projects", json={"name": "Broken", "schema": bad})
    err = assert_error(r, 422, "invalid_input")
    got = problems(err)
    assert set(got) == {
        "fields[0]",
        "fields[1].options",
        "fields[2].name",
        "fields[3].name",
        "fields[4].options[0].colour",
    }
    assert "unknown kind" in got["fields[0]"]
    assert "choice" in got["fields[0]"]
    assert "at least 1" in got["fields[1].options"]
    assert "required" in got["fields[2].name"].lower()
    # nothing was stored
    assert c.get("/api/projects").json()["items"] == []


def test_invalid_yaml_names_line_and_column(c):
    r = c.post("/api/projects", json={"name": "Y", "schema": "fields:\n  - name: [unclosed\n"})
    err = assert_error(r, 422, "invalid_input")
    assert len(err["details"]) == 1
    assert err["details"][0]["field"].startswith("line ")
    assert "column" in err["details"][0]["field"]


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"fields": []}, "fields"),
        ({}, "fields"),
        (42, "schema"),
        ({"fields": [{"name": "t", "kind": "text"}], "extra": 1}, "extra"),
        ({"fields": [{"name": "t", "kind": "text"}, {"name": "t", "kind": "text"}]}, "schema"),
    ],
)
def test_schema_shape_problems(c, schema, field):
    err = assert_error(
        c.post("/api/projects", json={"name": "X", "schema": schema}), 422, "invalid_input"
    )
    assert field in problems(err)


def test_create_project_settings_are_validated_together(c):
    r = c.post(
        "/api/projects",
        json={"name": "", "schema": TEXT_SCHEMA, "overlap": 0, "lease_seconds": 5},
    )
    err = assert_error(r, 422, "invalid_input")
    assert set(problems(err)) == {"name", "overlap", "lease_seconds"}


def test_whitespace_only_name_is_rejected(c):
    err = assert_error(
        c.post("/api/projects", json={"name": "   ", "schema": TEXT_SCHEMA}), 422, "invalid_input"
    )
    assert set(problems(err)) == {"name"}


def test_missing_schema_is_422(c):
    err = assert_error(c.post("/api/projects", json={"name": "No schema"}), 422, "invalid_input")
    assert "schema" in problems(err)


# -- schema versions ------------------------------------------------------------------------


def test_schema_put_creates_version_2_and_identical_put_does_not(app, db, owner, c):
    pid = make_project(db, owner)
    r = c.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_V2})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert [o["value"] for o in r.json()["schema"]["fields"][0]["options"]][-1] == "mixed"
    assert c.get(f"/api/projects/{pid}").json()["schema_version"] == 2

    versions = c.get(f"/api/projects/{pid}/schema/versions").json()
    assert versions["next_cursor"] is None
    assert [v["version"] for v in versions["items"]] == [1, 2]
    assert len(versions["items"][0]["schema"]["fields"][0]["options"]) == 3
    assert len(versions["items"][1]["schema"]["fields"][0]["options"]) == 4

    # the identical schema again (even written as YAML, or as a bare list) is no new version
    yaml_v2 = "fields:\n  - name: label\n    kind: choice\n    reads: [text]\n    options: [{value: pos}, {value: neg}, {value: neu}, {value: mixed}]\n"
    for same in (CHOICE_V2, yaml_v2, CHOICE_V2["fields"]):
        r = c.put(f"/api/projects/{pid}/schema", json={"schema": same})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2
    assert [
        v["version"] for v in c.get(f"/api/projects/{pid}/schema/versions").json()["items"]
    ] == [1, 2]
    with db.session() as s:
        assert (
            len(s.scalars(select(SchemaVersion).where(SchemaVersion.project_id == pid)).all()) == 2
        )

    # going back to the first schema is a new version 3 (old versions are never edited)
    r = c.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_SCHEMA})
    assert r.json()["version"] == 3
    assert c.get(f"/api/projects/{pid}/schema").json()["version"] == 3


def test_invalid_schema_put_keeps_the_current_version(db, owner, c):
    pid = make_project(db, owner)
    r = c.put(
        f"/api/projects/{pid}/schema", json={"schema": {"fields": [{"name": "x", "kind": "bogus"}]}}
    )
    err = assert_error(r, 422, "invalid_input")
    assert "fields[0]" in problems(err)
    assert c.get(f"/api/projects/{pid}/schema").json()["version"] == 1


def test_only_managers_change_the_schema(app, db, owner):
    pid = make_project(db, owner)
    manager = login(app, add_member(db, owner, Role.manager))
    reviewer = login(app, add_member(db, owner, Role.reviewer))
    assert_error(
        reviewer.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_V2}),
        403,
        "permission_denied",
    )
    assert (
        manager.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_V2}).json()["version"]
        == 2
    )
    # everyone in the organization may read the schema and its versions
    assert reviewer.get(f"/api/projects/{pid}/schema").json()["version"] == 2
    assert len(reviewer.get(f"/api/projects/{pid}/schema/versions").json()["items"]) == 2


def test_annotations_record_the_schema_version_they_were_made_under(app, db, owner, c):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    ann = login(app, add_member(db, owner, Role.annotator))

    first = ann.post(f"/api/projects/{pid}/next").json()
    assert first["schema_version"] == 1
    t1 = first["task"]["id"]
    a1 = ann.post(f"/api/tasks/{t1}/annotations", json={"value": {"label": "pos"}}).json()
    assert a1["schema_version"] == 1

    assert c.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_V2}).json()["version"] == 2

    second = ann.post(f"/api/projects/{pid}/next").json()
    assert second["schema_version"] == 2
    assert "mixed" in [o["value"] for o in second["schema"]["fields"][0]["options"]]
    t2 = second["task"]["id"]
    assert t2 != t1
    a2 = ann.post(f"/api/tasks/{t2}/annotations", json={"value": {"label": "mixed"}}).json()
    assert a2["schema_version"] == 2

    # as stored
    by_task = {
        t: c.get(f"/api/tasks/{t}/annotations").json()["items"][0]["schema_version"]
        for t in (t1, t2)
    }
    assert by_task == {t1: 1, t2: 2}
    hist = c.get(f"/api/annotations/{a1['id']}/history").json()["items"]
    assert [(h["revision"], h["schema_version"]) for h in hist] == [(1, 1)]

    # re-submitting the old annotation now records it under version 2, keeping the history
    r = ann.post(f"/api/tasks/{t1}/annotations", json={"value": {"label": "mixed"}})
    assert r.status_code == 200, r.text
    assert (r.json()["schema_version"], r.json()["revision"]) == (2, 2)
    hist = c.get(f"/api/annotations/{a1['id']}/history").json()["items"]
    assert [(h["revision"], h["schema_version"], h["value"]) for h in hist] == [
        (1, 1, {"label": "pos"}),
        (2, 2, {"label": "mixed"}),
    ]


def test_new_schema_applies_to_validation_immediately(app, db, owner, c):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    task = c.post(f"/api/projects/{pid}/next").json()["task"]
    err = assert_error(
        c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "mixed"}}),
        422,
        "invalid_input",
    )
    assert "label" in problems(err)
    c.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_V2})
    r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "mixed"}})
    assert r.status_code == 200, r.text


# -- settings -------------------------------------------------------------------------------


def test_settings_patch_updates_only_given_fields(db, owner, c):
    pid = make_project(db, owner, description="old", overlap=1)
    r = c.patch(f"/api/projects/{pid}", json={"name": " Renamed ", "lease_seconds": 120})
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["name"], p["lease_seconds"], p["description"], p["overlap"]) == (
        "Renamed",
        120,
        "old",
        1,
    )
    assert c.get(f"/api/projects/{pid}").json()["name"] == "Renamed"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"overlap": 0}, "overlap"),
        ({"overlap": 51}, "overlap"),
        ({"overlap": "two"}, "overlap"),
        ({"lease_seconds": 10}, "lease_seconds"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"archived": "maybe"}, "archived"),
        ({"color": "blue"}, "color"),
        ({"schema_version": 7}, "schema_version"),
        ({"organization_id": 2}, "organization_id"),
    ],
)
def test_settings_patch_validation(db, owner, c, patch, field):
    pid = make_project(db, owner, overlap=2)
    err = assert_error(c.patch(f"/api/projects/{pid}", json=patch), 422, "invalid_input")
    assert field in problems(err)
    p = c.get(f"/api/projects/{pid}").json()
    assert (p["overlap"], p["lease_seconds"], p["schema_version"]) == (2, 600, 1)


def test_settings_patch_needs_manager(app, db, owner):
    pid = make_project(db, owner)
    ann = login(app, add_member(db, owner, Role.annotator))
    assert_error(ann.patch(f"/api/projects/{pid}", json={"name": "mine"}), 403, "permission_denied")


def test_archiving_hides_the_project_and_stops_the_queue(app, db, owner, c):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    assert c.patch(f"/api/projects/{pid}", json={"archived": True}).json()["archived"] is True
    assert c.get("/api/projects").json()["items"] == []
    assert [p["id"] for p in c.get("/api/projects?include_archived=true").json()["items"]] == [pid]
    assert_error(c.post(f"/api/projects/{pid}/next"), 409, "conflict")
    c.patch(f"/api/projects/{pid}", json={"archived": False})
    assert c.post(f"/api/projects/{pid}/next").json()["task"] is not None


def test_raising_overlap_reopens_annotated_tasks(app, db, owner, c):
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, text_rows(1))
    a1 = login(app, add_member(db, owner, Role.annotator))
    a2 = login(app, add_member(db, owner, Role.annotator))
    tid = a1.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert (
        a1.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "pos"}}).status_code
        == 200
    )
    assert a2.post(f"/api/projects/{pid}/next").json()["task"] is None
    assert c.get(f"/api/tasks/{tid}").json()["status"] == "done"

    assert c.patch(f"/api/projects/{pid}", json={"overlap": 2}).json()["overlap"] == 2
    assert c.get(f"/api/tasks/{tid}").json()["status"] == "in_progress"
    got = a2.post(f"/api/projects/{pid}/next").json()["task"]
    assert got is not None and got["id"] == tid
    # the first annotator does not get their own task again
    assert a1.post(f"/api/projects/{pid}/next").json()["task"] is None
    assert (
        a2.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neg"}}).status_code
        == 200
    )
    assert c.get(f"/api/tasks/{tid}").json()["status"] == "done"
    assert c.get(f"/api/tasks/{tid}").json()["annotations_done"] == 2


def test_lowering_overlap_closes_tasks(app, db, owner, c):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(1))
    a1 = login(app, add_member(db, owner, Role.annotator))
    a2 = login(app, add_member(db, owner, Role.annotator))
    tid = a1.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert (
        a1.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "pos"}}).status_code
        == 200
    )
    assert c.get(f"/api/tasks/{tid}").json()["status"] == "in_progress"

    c.patch(f"/api/projects/{pid}", json={"overlap": 1})
    assert a2.post(f"/api/projects/{pid}/next").json()["task"] is None
    assert c.get(f"/api/tasks/{tid}").json()["status"] == "done"
    done = c.get(f"/api/projects/{pid}/tasks", params={"status": "done"}).json()["items"]
    assert [t["id"] for t in done] == [tid]

    # and raising it again reopens it
    c.patch(f"/api/projects/{pid}", json={"overlap": 2})
    assert a2.post(f"/api/projects/{pid}/next").json()["task"]["id"] == tid


# -- /api/schemas/validate ------------------------------------------------------------------


def test_validate_schema_returns_the_normalised_schema(c):
    r = c.post("/api/schemas/validate", json={"schema": YAML_SCHEMA})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is True
    assert [f["name"] for f in body["schema"]["fields"]] == ["sentiment", "comment"]
    # defaults are filled in, so the editor shows what will be stored
    assert body["schema"]["fields"][0]["required"] is True


def test_validate_schema_reports_every_problem_and_stores_nothing(db, c):
    r = c.post(
        "/api/schemas/validate",
        json={
            "schema": [{"name": "a", "kind": "nope"}, {"name": "b", "kind": "rating", "max": True}]
        },
    )
    err = assert_error(r, 422, "invalid_input")
    assert len(err["details"]) >= 2
    assert "fields[0]" in problems(err)
    assert any(f.startswith("fields[1]") for f in problems(err))
    with db.session() as s:
        assert s.scalars(select(SchemaVersion)).all() == []


def test_validate_schema_needs_login_but_no_particular_role(app, db, owner):
    from fastapi.testclient import TestClient

    assert_error(
        TestClient(app).post("/api/schemas/validate", json={"schema": TEXT_SCHEMA}),
        401,
        "not_authenticated",
    )
    ann = login(app, add_member(db, owner, Role.annotator))
    assert ann.post("/api/schemas/validate", json={"schema": TEXT_SCHEMA}).json()["valid"] is True


def test_validate_schema_rejects_unknown_body_fields(c):
    err = assert_error(
        c.post("/api/schemas/validate", json={"schema": TEXT_SCHEMA, "x": 1}), 422, "invalid_input"
    )
    assert "x" in problems(err)
