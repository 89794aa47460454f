"""Small factories for tests: organizations with users, projects, imported tasks, API clients."""

from __future__ import annotations

import io
import itertools
import threading
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.testclient import TestClient

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Organization, Role
from labelhouse.accounts.policy import Actor
from labelhouse.db.engine import Database
from labelhouse.projects.service import create_project
from labelhouse.tasks.importer import import_tasks

PASSWORD = "correct horse battery"
_counter = itertools.count(1)

CHOICE_SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        }
    ]
}


@dataclass
class Member:
    actor: Actor
    email: str
    password: str = PASSWORD


def make_org(db: Database, name: str = "Lab") -> Member:
    """A new organization and its owner."""
    email = f"owner{next(_counter)}@example.com"
    with db.session() as s:
        user, _ = accounts.bootstrap_owner(
            s, email=email, organization_name=name, password=PASSWORD
        )
        actor = accounts.actor_for(s, user_id=user.id)
    return Member(actor, email)


def add_member(db: Database, org: Member | int, role: Role = Role.annotator) -> Member:
    org_id = org if isinstance(org, int) else org.actor.organization_id
    email = f"{role.value}{next(_counter)}@example.com"
    with db.session() as s:
        assert s.get(Organization, org_id) is not None
        user = accounts.create_user(
            s, email=email, password=PASSWORD, organization_id=org_id, role=role
        )
        actor = accounts.actor_for(s, user_id=user.id, organization_id=org_id)
    return Member(actor, email)


def make_project(db: Database, owner: Member, schema: Any = None, **settings: Any) -> int:
    with db.session() as s:
        project = create_project(
            s,
            owner.actor,
            name=settings.pop("name", f"P{next(_counter)}"),
            schema=schema or CHOICE_SCHEMA,
            **settings,
        )
        return project.id


def jsonl(rows: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)


def add_tasks(db: Database, owner: Member, project_id: int, rows: list[Any]) -> None:
    with db.session() as s:
        import_tasks(s, owner.actor, project_id, io.BytesIO(jsonl(rows)), filename="t.jsonl")


def text_rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"text": f"item {i}", "external_id": f"t{i}"} for i in range(start, start + n)]


def login(app: Any, member: Member) -> TestClient:
    """A separate client (own cookie jar) logged in as ``member``, sending its CSRF token."""
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"email": member.email, "password": member.password})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def token_client(app: Any, db: Database, member: Member) -> TestClient:
    with db.session() as s:
        _, secret = accounts.create_api_token(s, member.actor, name="test")
    c = TestClient(app)
    c.headers["Authorization"] = f"Bearer {secret}"
    return c


def run_in_threads(target: Any, args: list[Any], timeout: float = 120) -> list[BaseException]:
    """Run ``target(arg)`` for each arg on its own thread; the errors they raised."""
    errors: list[BaseException] = []

    def run(arg: Any) -> None:
        try:
            target(arg)
        except BaseException as exc:  # returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors
