"""The audit log: what writes events, the per-organization hash chain, the database's refusal
to change past events, and the owner-only API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.audit import service as audit
from labelhouse.audit.models import AuditEvent
from tests.factories import (
    CHOICE_SCHEMA,
    add_member,
    add_tasks,
    jsonl,
    login,
    make_org,
    make_project,
    text_rows,
)

SCHEMA_V2 = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "yes"}, {"value": "no"}],
        }
    ]
}


def events(db, org_id: int) -> list[AuditEvent]:
    with db.session() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org_id)
                .order_by(AuditEvent.id)
            )
        )


def assert_chained(rows: list[AuditEvent]) -> None:
    prev = audit.GENESIS
    for e in rows:
        assert e.prev_hash == prev
        assert len(e.hash) == 64 and e.hash != prev
        prev = e.hash


def _activity(app, db, owner) -> int:
    """Create a project, change its schema, import and export through the API."""
    c = login(app, owner)
    r = c.post("/api/projects", json={"name": "Audited", "schema": CHOICE_SCHEMA})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert c.put(f"/api/projects/{pid}/schema", json={"schema": SCHEMA_V2}).json()["version"] == 2
    r = c.post(f"/api/projects/{pid}/import?filename=batch.jsonl", content=jsonl(text_rows(3)))
    assert r.status_code == 200, r.text
    r = c.get(f"/api/projects/{pid}/export?format=csv")
    assert r.status_code == 200, r.text
    return pid


def test_project_lifecycle_writes_hash_chained_events(app, db, owner):
    pid = _activity(app, db, owner)
    everything = events(db, owner.actor.organization_id)
    assert everything[0].action == "auth.login"  # signing in is an event too
    rows = [e for e in everything if e.object_type == "project"]
    assert [e.action for e in rows] == [
        "project.create",
        "project.schema",
        "tasks.import",
        "project.export",
        "project.export_finished",
    ]
    for e in rows:
        assert e.actor_id == owner.actor.user_id
        assert (e.object_type, e.object_id) == ("project", str(pid))
        assert e.created_at.tzinfo is not None
    assert rows[0].details == {"name": "Audited"}
    assert rows[1].details == {"version": 2}
    assert rows[2].details["created"] == 3
    assert rows[2].details["filename"] == "batch.jsonl"
    assert rows[3].details == {"format": "csv"}
    assert rows[4].details == {"format": "csv", "records": 3}
    assert_chained(everything)
    with db.session() as s:
        assert audit.verify_chain(s, owner.actor.organization_id) == (len(everything), None)


def test_identical_schema_and_failed_actions_write_no_event(app, db, owner):
    c = login(app, owner)
    pid = make_project(db, owner)
    before = len(events(db, owner.actor.organization_id))
    assert (
        c.put(f"/api/projects/{pid}/schema", json={"schema": CHOICE_SCHEMA}).json()["version"] == 1
    )
    # a rejected import and a rejected export leave no trace either
    assert c.post(f"/api/projects/{pid}/import", content=b'{"nope": 1}\n').status_code == 422
    assert c.get(f"/api/projects/{pid}/export?format=xml").status_code == 422
    assert len(events(db, owner.actor.organization_id)) == before


def test_settings_change_is_audited_without_instructions_text(app, db, owner):
    pid = make_project(db, owner)
    c = login(app, owner)
    r = c.patch(f"/api/projects/{pid}", json={"overlap": 3, "instructions": "secret rubric"})
    assert r.status_code == 200
    last = events(db, owner.actor.organization_id)[-1]
    assert last.action == "project.update"
    assert last.details == {"overlap": 3}


def test_each_organization_has_its_own_chain(app, db, owner):
    other = make_org(db, "Other")
    make_project(db, owner)
    make_project(db, other)
    make_project(db, owner)
    mine, theirs = events(db, owner.actor.organization_id), events(db, other.actor.organization_id)
    assert len(mine) == 2 and len(theirs) == 1
    assert_chained(mine)
    assert_chained(theirs)
    with db.session() as s:
        assert audit.verify_chain(s, owner.actor.organization_id) == (2, None)
        assert audit.verify_chain(s, other.actor.organization_id) == (1, None)


def test_empty_chain_verifies(db, owner):
    with db.session() as s:
        assert audit.verify_chain(s, owner.actor.organization_id) == (0, None)


# -- the database refuses changes -----------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'project.delete' WHERE id = :id",
        "UPDATE audit_event SET details = '{}' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
        "DELETE FROM audit_event",
    ],
)
def test_database_refuses_update_and_delete(db, owner, statement):
    make_project(db, owner)
    make_project(db, owner)
    before = events(db, owner.actor.organization_id)
    with pytest.raises(DBAPIError) as info, db.engine.begin() as conn:
        conn.execute(text(statement), {"id": before[0].id})
    assert "append-only" in str(info.value)
    after = events(db, owner.actor.organization_id)
    assert [(e.id, e.action, e.details, e.hash) for e in after] == [
        (e.id, e.action, e.details, e.hash) for e in before
    ]
    with db.session() as s:
        assert audit.verify_chain(s, owner.actor.organization_id) == (2, None)


def test_inserting_more_events_is_allowed(db, owner):
    with db.session() as s:
        audit.record(
            s,
            organization_id=owner.actor.organization_id,
            actor_id=None,
            action="system.note",
            object_type="system",
            object_id="x",
        )
    rows = events(db, owner.actor.organization_id)
    assert rows[-1].action == "system.note"
    assert rows[-1].actor_id is None


def _without_triggers(conn: Any, dialect: str) -> None:
    """Inside the caller's transaction only (rolled back after): lift the protection."""
    if dialect == "postgresql":
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
    else:
        conn.execute(text("DROP TRIGGER audit_event_no_update"))
        conn.execute(text("DROP TRIGGER audit_event_no_delete"))


@pytest.mark.parametrize("tamper", ["edit", "delete", "forge_hash"])
def test_hash_chain_detects_tampering_that_bypasses_the_triggers(db, owner, tamper):
    for _ in range(3):
        make_project(db, owner)
    rows = events(db, owner.actor.organization_id)
    org = owner.actor.organization_id
    with db.engine.connect() as conn:
        trans = conn.begin()
        try:
            _without_triggers(conn, db.dialect)
            if tamper == "edit":
                conn.execute(
                    text("UPDATE audit_event SET object_id = '999' WHERE id = :id"),
                    {"id": rows[1].id},
                )
                expected_broken = rows[1].id
            elif tamper == "delete":
                conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": rows[1].id})
                expected_broken = rows[2].id
            else:
                conn.execute(
                    text("UPDATE audit_event SET hash = :h WHERE id = :id"),
                    {"h": rows[2].hash, "id": rows[1].id},
                )
                expected_broken = rows[1].id
            with Session(bind=conn) as s:
                checked, broken = audit.verify_chain(s, org)
            assert broken == expected_broken
            assert checked <= len(rows)
        finally:
            trans.rollback()
    # rolled back: protection and chain intact again
    with db.session() as s:
        assert audit.verify_chain(s, org) == (3, None)
    with pytest.raises(DBAPIError), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))


# -- the API --------------------------------------------------------------------------------


def test_audit_api_lists_events_for_owners(app, db, owner):
    pid = _activity(app, db, owner)
    c = login(app, owner)
    r = c.get("/api/audit", params={"object_type": "project"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    assert [e["action"] for e in body["items"]] == [
        "project.create",
        "project.schema",
        "tasks.import",
        "project.export",
        "project.export_finished",
    ]
    stored = [e for e in events(db, owner.actor.organization_id) if e.object_type == "project"]
    assert [e["hash"] for e in body["items"]] == [e.hash for e in stored]
    first = body["items"][0]
    assert set(first) == {
        "id",
        "actor_id",
        "action",
        "object_type",
        "object_id",
        "details",
        "created_at",
        "hash",
    }
    assert (first["actor_id"], first["object_id"]) == (owner.actor.user_id, str(pid))

    r = c.get("/api/audit/verify")
    assert r.status_code == 200
    total = len(events(db, owner.actor.organization_id))
    assert r.json() == {"events": total, "intact": True, "first_broken_id": None}


def test_audit_api_pages_with_cursor(app, db, owner):
    for _ in range(5):
        make_project(db, owner)
    c = login(app, owner)
    only = {"action": "project."}
    page1 = c.get("/api/audit", params={"limit": 3, **only}).json()
    assert len(page1["items"]) == 3
    assert page1["next_cursor"] == page1["items"][-1]["id"]
    page2 = c.get("/api/audit", params={"limit": 3, "cursor": page1["next_cursor"], **only}).json()
    assert len(page2["items"]) == 2
    assert page2["next_cursor"] is None
    ids = [e["id"] for e in page1["items"] + page2["items"]]
    assert ids == sorted(set(ids)) and len(ids) == 5


@pytest.mark.parametrize("role", [Role.manager, Role.reviewer, Role.annotator])
def test_audit_api_requires_owner(app, db, owner, role):
    make_project(db, owner)
    c = login(app, add_member(db, owner, role))
    for path in ("/api/audit", "/api/audit/verify"):
        r = c.get(path)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "permission_denied"
        assert "owner" in r.json()["error"]["message"]


def test_audit_api_requires_login(client):
    for path in ("/api/audit", "/api/audit/verify"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "not_authenticated"


def test_audit_api_shows_only_own_organization(app, db, owner):
    other = make_org(db, "Other")
    make_project(db, other)
    add_tasks(db, other, make_project(db, other), text_rows(1))
    c = login(app, owner)
    # only the owner's own sign-in: nothing of the other organization
    assert [e["action"] for e in c.get("/api/audit").json()["items"]] == ["auth.login"]
    assert c.get("/api/audit/verify").json() == {
        "events": 1,
        "intact": True,
        "first_broken_id": None,
    }
    theirs = login(app, other).get("/api/audit/verify").json()
    assert theirs == {"events": 4, "intact": True, "first_broken_id": None}
