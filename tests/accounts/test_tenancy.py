"""Tenant isolation: another organization's objects are indistinguishable from missing ones,
and annotators only reach tasks and annotations that are theirs."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from labelhouse.accounts.models import Membership, Role
from labelhouse.annotations.models import Annotation
from labelhouse.projects.models import Project
from labelhouse.tasks.models import StoredFile, Task
from tests.factories import (
    CHOICE_SCHEMA,
    Member,
    add_member,
    add_tasks,
    jsonl,
    login,
    make_org,
    make_project,
    text_rows,
    token_client,
)

MISSING = 987_654_321


def png_bytes(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), color).save(buf, format="PNG")
    return buf.getvalue()


def normalised(r: Any, object_id: int) -> tuple[int, Any]:
    """Status and body with the requested id blanked out of the message."""
    body = r.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"]["message"] = re.sub(rf"\b{object_id}\b", "<id>", body["error"]["message"])
    return r.status_code, body


def assert_same_as_missing(
    c: TestClient, method: str, template: str, foreign_id: int, **kwargs: Any
) -> None:
    foreign = c.request(method, template.format(id=foreign_id), **kwargs)
    missing = c.request(method, template.format(id=MISSING), **kwargs)
    assert foreign.status_code == 404, (template, foreign.text)
    body = foreign.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "not_found"
    # a foreign object looks exactly like one that does not exist
    assert normalised(foreign, foreign_id) == normalised(missing, MISSING), template
    assert foreign.headers["content-type"] == missing.headers["content-type"]


@dataclass
class World:
    a_owner: Member
    a_client: TestClient
    b_owner: Member
    b_annotator: Member
    b_project: int
    b_task: int
    b_annotation: int
    b_file: int
    b_token_id: int
    b_token_client: TestClient


@pytest.fixture
def world(app, db) -> World:
    a_owner = make_org(db, "A")
    b_owner = make_org(db, "B")
    b_annotator = add_member(db, b_owner, Role.annotator)
    b_project = make_project(db, b_owner, name="B secret project")
    add_tasks(db, b_owner, b_project, text_rows(3))
    b = login(app, b_annotator)
    task = b.post(f"/api/projects/{b_project}/next").json()["task"]
    r = b.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}})
    assert r.status_code == 200, r.text
    annotation_id = r.json()["id"]
    # B's annotator now holds a lease on the next task too
    assert b.post(f"/api/projects/{b_project}/next").json()["task"] is not None
    b_admin = login(app, b_owner)
    r = b_admin.post(
        f"/api/projects/{b_project}/files", files={"files": ("cat.png", png_bytes(), "image/png")}
    )
    assert r.status_code == 201, r.text
    file_id = r.json()["items"][0]["id"]
    token = b_admin.post("/api/me/tokens", json={"name": "b"}).json()
    return World(
        a_owner=a_owner,
        a_client=login(app, a_owner),
        b_owner=b_owner,
        b_annotator=b_annotator,
        b_project=b_project,
        b_task=task["id"],
        b_annotation=annotation_id,
        b_file=file_id,
        b_token_id=token["id"],
        b_token_client=TestClient(app, headers={"Authorization": f"Bearer {token['token']}"}),
    )


SCHEMA_V2 = {
    "fields": [{"name": "label", "kind": "choice", "reads": ["text"], "options": [{"value": "x"}]}]
}

PROJECT_ENDPOINTS = [
    ("GET", "/api/projects/{id}", {}),
    ("PATCH", "/api/projects/{id}", {"json": {"name": "hijacked"}}),
    ("GET", "/api/projects/{id}/schema", {}),
    ("PUT", "/api/projects/{id}/schema", {"json": {"schema": SCHEMA_V2}}),
    ("GET", "/api/projects/{id}/schema/versions", {}),
    ("GET", "/api/projects/{id}/tasks", {}),
    ("GET", "/api/projects/{id}/tasks?status=done", {}),
    ("POST", "/api/projects/{id}/next", {}),
    ("GET", "/api/projects/{id}/export", {}),
    ("GET", "/api/projects/{id}/export?format=csv", {}),
    (
        "POST",
        "/api/projects/{id}/import",
        {
            "content": jsonl(text_rows(2, start=100)),
            "headers": {"content-type": "application/x-ndjson"},
        },
    ),
    ("POST", "/api/projects/{id}/import?filename=t.csv", {"content": b"text\nhello\n"}),
]

TASK_ENDPOINTS = [
    ("GET", "/api/tasks/{id}", {}),
    ("POST", "/api/tasks/{id}/skip", {}),
    ("POST", "/api/tasks/{id}/skip", {"json": {"reason": "nope"}}),
    ("DELETE", "/api/tasks/{id}/lease", {}),
    ("POST", "/api/tasks/{id}/annotations", {"json": {"value": {"label": "neg"}}}),
    ("POST", "/api/tasks/{id}/annotations", {"json": {"value": {"label": "neg"}, "draft": True}}),
    ("GET", "/api/tasks/{id}/annotations", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), PROJECT_ENDPOINTS)
def test_foreign_project_endpoints_look_missing(world, method, path, kwargs):
    assert_same_as_missing(world.a_client, method, path, world.b_project, **kwargs)


def test_foreign_project_file_upload_looks_missing(world, db):
    upload = {"files": ("dog.png", png_bytes("blue"), "image/png")}
    assert_same_as_missing(
        world.a_client, "POST", "/api/projects/{id}/files", world.b_project, files=upload
    )
    with db.session() as s:
        assert s.scalars(select(StoredFile.name)).all() == ["cat.png"]


@pytest.mark.parametrize(("method", "path", "kwargs"), TASK_ENDPOINTS)
def test_foreign_task_endpoints_look_missing(world, method, path, kwargs):
    assert_same_as_missing(world.a_client, method, path, world.b_task, **kwargs)


def test_foreign_annotation_history_looks_missing(world):
    assert_same_as_missing(
        world.a_client, "GET", "/api/annotations/{id}/history", world.b_annotation
    )


def test_foreign_file_download_looks_missing(world):
    assert_same_as_missing(world.a_client, "GET", "/api/files/{id}", world.b_file)


def test_foreign_member_role_change_and_removal_look_missing(world):
    uid = world.b_annotator.actor.user_id
    assert_same_as_missing(
        world.a_client, "PATCH", "/api/members/{id}", uid, json={"role": "manager"}
    )
    assert_same_as_missing(world.a_client, "DELETE", "/api/members/{id}", uid)
    assert_same_as_missing(
        world.a_client,
        "PATCH",
        "/api/members/{id}",
        world.b_owner.actor.user_id,
        json={"role": "annotator"},
    )


def test_foreign_api_token_revocation_looks_missing(world):
    assert_same_as_missing(world.a_client, "DELETE", "/api/me/tokens/{id}", world.b_token_id)
    assert world.b_token_client.get("/api/me").status_code == 200


def test_foreign_objects_work_for_their_own_organization(world, app):
    """The 404s above are about tenancy, not broken fixtures: B reaches all of them."""
    b = login(app, world.b_owner)
    assert b.get(f"/api/projects/{world.b_project}").status_code == 200
    assert b.get(f"/api/tasks/{world.b_task}").status_code == 200
    assert b.get(f"/api/annotations/{world.b_annotation}/history").status_code == 200
    assert b.get(f"/api/files/{world.b_file}").content == png_bytes()
    assert b.get(f"/api/projects/{world.b_project}/export").status_code == 200


def test_foreign_requests_changed_nothing(world, app, db):
    c = world.a_client
    for method, path, kwargs in PROJECT_ENDPOINTS:
        c.request(method, path.format(id=world.b_project), **kwargs)
    for method, path, kwargs in TASK_ENDPOINTS:
        c.request(method, path.format(id=world.b_task), **kwargs)
    c.patch(f"/api/members/{world.b_annotator.actor.user_id}", json={"role": "owner"})
    c.delete(f"/api/members/{world.b_annotator.actor.user_id}")
    with db.session() as s:
        project = s.get(Project, world.b_project)
        assert project.name == "B secret project"
        assert project.schema_version == 1
        assert (
            s.scalar(
                select(func.count()).select_from(Task).where(Task.project_id == world.b_project)
            )
            == 3
        )
        assert s.scalar(select(func.count()).select_from(Annotation)) == 1
        assert s.get(Annotation, world.b_annotation).value == {"label": "pos"}
        assert s.scalar(select(func.count()).select_from(StoredFile)) == 1
        role = s.scalar(
            select(Membership.role).where(Membership.user_id == world.b_annotator.actor.user_id)
        )
        assert role == "annotator"
    # B's annotator still holds the lease A tried to skip/release
    b = login(app, world.b_annotator)
    assert b.post(f"/api/projects/{world.b_project}/next").json()["lease"]["new"] is False


def test_lists_show_only_own_organization(world, app, db):
    a_project = make_project(db, world.a_owner, name="A project")
    c = world.a_client
    assert [p["id"] for p in c.get("/api/projects").json()["items"]] == [a_project]
    assert [p["id"] for p in c.get("/api/projects?include_archived=true").json()["items"]] == [
        a_project
    ]
    emails = {m["email"] for m in c.get("/api/members").json()["items"]}
    assert emails == {world.a_owner.email}
    events = c.get("/api/audit?object_type=project").json()["items"]
    assert events and all(e["object_id"] == str(a_project) for e in events)
    # and B's owner does not see A's project
    b = login(app, world.b_owner)
    assert [p["id"] for p in b.get("/api/projects").json()["items"]] == [world.b_project]


def test_api_token_is_bound_to_its_organization(world, app, db):
    c = token_client(app, db, world.a_owner)
    assert_same_as_missing(c, "GET", "/api/projects/{id}", world.b_project)
    assert_same_as_missing(c, "GET", "/api/tasks/{id}", world.b_task)


def test_user_in_two_organizations_sees_each_only_from_its_session(world, app, db):
    with db.session() as s:
        s.add(
            Membership(
                organization_id=world.b_owner.actor.organization_id,
                user_id=world.a_owner.actor.user_id,
                role=Role.manager.value,
            )
        )
    a_session = world.a_client
    assert a_session.get(f"/api/projects/{world.b_project}").status_code == 404
    b_session = TestClient(app)
    r = b_session.post(
        "/api/auth/login",
        json={
            "email": world.a_owner.email,
            "password": world.a_owner.password,
            "organization_id": world.b_owner.actor.organization_id,
        },
    )
    assert r.status_code == 200
    assert b_session.get(f"/api/projects/{world.b_project}").status_code == 200


# -- annotators inside one organization ----------------------------------------------------


@pytest.fixture
def team(app, db) -> dict[str, Any]:
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(4))
    return {
        "owner": owner,
        "pid": pid,
        "ann1": add_member(db, owner, Role.annotator),
        "ann2": add_member(db, owner, Role.annotator),
        "reviewer": add_member(db, owner, Role.reviewer),
    }


def _all_task_ids(db, pid: int) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)))


def test_annotator_only_sees_assigned_tasks(app, db, team):
    pid = team["pid"]
    ids = _all_task_ids(db, pid)
    c = login(app, team["ann1"])
    # nothing assigned yet: every task looks missing
    assert c.get(f"/api/projects/{pid}/tasks").json() == {"items": [], "next_cursor": None}
    for tid in ids:
        assert_same_as_missing(c, "GET", "/api/tasks/{id}", tid)
        assert_same_as_missing(c, "GET", "/api/tasks/{id}/annotations", tid)
    got = c.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert c.get(f"/api/tasks/{got}").status_code == 200
    assert [t["id"] for t in c.get(f"/api/projects/{pid}/tasks").json()["items"]] == [got]
    for tid in ids:
        if tid != got:
            assert_same_as_missing(c, "GET", "/api/tasks/{id}", tid)
    # a reviewer sees every task
    r = login(app, team["reviewer"]).get(f"/api/projects/{pid}/tasks")
    assert [t["id"] for t in r.json()["items"]] == ids


def test_annotator_cannot_annotate_an_unassigned_task(app, db, team):
    ids = _all_task_ids(db, team["pid"])
    c = login(app, team["ann1"])
    assert_same_as_missing(
        c, "POST", "/api/tasks/{id}/annotations", ids[-1], json={"value": {"label": "pos"}}
    )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Annotation)) == 0


def test_annotators_see_only_their_own_annotations(app, db, team):
    pid = team["pid"]
    c1, c2 = login(app, team["ann1"]), login(app, team["ann2"])
    t1 = c1.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    t2 = c2.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert t1 == t2  # overlap 2: both get the first task
    a1 = c1.post(f"/api/tasks/{t1}/annotations", json={"value": {"label": "pos"}}).json()
    a2 = c2.post(f"/api/tasks/{t2}/annotations", json={"value": {"label": "neg"}}).json()

    mine = c1.get(f"/api/tasks/{t1}/annotations").json()["items"]
    assert [(a["id"], a["value"]) for a in mine] == [(a1["id"], {"label": "pos"})]
    task = c1.get(f"/api/tasks/{t1}").json()
    assert [a["id"] for a in task["annotations"]] == [a1["id"]]
    assert [a["id"] for a in c2.get(f"/api/tasks/{t2}/annotations").json()["items"]] == [a2["id"]]

    # another annotator's revision history looks missing
    assert c1.get(f"/api/annotations/{a1['id']}/history").status_code == 200
    assert_same_as_missing(c1, "GET", "/api/annotations/{id}/history", a2["id"])

    # reviewers see both
    rv = login(app, team["reviewer"])
    assert {a["id"] for a in rv.get(f"/api/tasks/{t1}/annotations").json()["items"]} == {
        a1["id"],
        a2["id"],
    }
    assert rv.get(f"/api/annotations/{a2['id']}/history").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/api/projects", {"json": {"name": "mine", "schema": CHOICE_SCHEMA}}),
        ("POST", "/api/projects/{pid}/import", {"content": jsonl(text_rows(1, start=50))}),
        ("GET", "/api/projects/{pid}/export", {}),
        ("PATCH", "/api/projects/{pid}", {"json": {"overlap": 3}}),
        ("PUT", "/api/projects/{pid}/schema", {"json": {"schema": SCHEMA_V2}}),
        (
            "POST",
            "/api/projects/{pid}/files",
            {"files": {"files": ("a.png", png_bytes(), "image/png")}},
        ),
        ("POST", "/api/invitations", {"json": {"email": "x@example.com"}}),
        ("GET", "/api/audit", {}),
    ],
)
@pytest.mark.parametrize("role", ["ann1", "reviewer"])
def test_annotators_and_reviewers_cannot_manage(app, db, team, role, method, path, kwargs):
    c = login(app, team[role])
    r = c.request(method, path.format(pid=team["pid"]), **kwargs)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "permission_denied"
    assert r.json()["error"]["details"] == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Project)) == 1
        assert s.scalar(select(func.count()).select_from(Task)) == 4
        assert s.get(Project, team["pid"]).overlap == 2
        assert s.get(Project, team["pid"]).schema_version == 1
