"""Small factories for tests: organizations with users, projects, imported tasks, API clients."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import (
    PROJECT_ROLES,
    Membership,
    Organization,
    ProjectMember,
    Role,
)
from labelhouse.accounts.policy import Actor
from labelhouse.db.engine import Database
from labelhouse.errors import Busy
from labelhouse.projects.models import Project
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
    """A person in an organization. ``actor`` is resolved afresh from the database on every
    use, so it always carries the person's current project memberships and roles."""

    db: Database
    user_id: int
    organization_id: int
    email: str
    password: str = PASSWORD

    @property
    def actor(self) -> Actor:
        with self.db.read_session() as s:
            return accounts.actor_for(s, user_id=self.user_id, organization_id=self.organization_id)


def make_org(db: Database, name: str = "Lab", *, one_time_password: bool = False) -> Member:
    """A new organization and its owner. The bootstrap password is one-time; tests get an
    owner who has already changed it unless ``one_time_password``."""
    email = f"owner{next(_counter)}@example.com"
    with db.session() as s:
        user, _ = accounts.bootstrap_owner(
            s, email=email, organization_name=name, password=PASSWORD
        )
        user.must_change_password = one_time_password
        org_id = s.scalar(select(Membership.organization_id).where(Membership.user_id == user.id))
    return Member(db, user.id, org_id, email)


def add_member(
    db: Database, org: Member | int, role: Role = Role.annotator, *, join_projects: bool = True
) -> Member:
    """A new member of the organization. ``join_projects``: also a member of every existing
    project of it with the same role (what the tests of everything but access need)."""
    org_id = org if isinstance(org, int) else org.organization_id
    email = f"{role.value}{next(_counter)}@example.com"
    with db.session() as s:
        assert s.get(Organization, org_id) is not None
        user = accounts.create_user(
            s, email=email, password=PASSWORD, organization_id=org_id, role=role
        )
        if join_projects and role in PROJECT_ROLES:
            for project_id in s.scalars(
                select(Project.id).where(Project.organization_id == org_id)
            ):
                s.add(ProjectMember(project_id=project_id, user_id=user.id, role=role.value))
    return Member(db, user.id, org_id, email)


def make_project(
    db: Database, owner: Member, schema: Any = None, *, open_to_all: bool = True, **settings: Any
) -> int:
    """A new project. ``open_to_all``: every current reviewer and annotator of the
    organization becomes a member with their organization role (as the migration did for
    projects that existed before membership)."""
    with db.session() as s:
        project = create_project(
            s,
            owner.actor,
            name=settings.pop("name", f"P{next(_counter)}"),
            schema=schema or CHOICE_SCHEMA,
            **settings,
        )
        if open_to_all:
            open_project_to_all(s, project.id)
        return project.id


def open_project_to_all(s: Session, project_id: int) -> None:
    """Make every reviewer and annotator of the project's organization a member of it, with
    their organization role (what the migration did for projects made before membership)."""
    org_id = s.scalar(select(Project.organization_id).where(Project.id == project_id))
    members = select(ProjectMember.user_id).where(
        ProjectMember.project_id == project_id, ProjectMember.user_id.is_not(None)
    )
    for user_id, role in s.execute(
        select(Membership.user_id, Membership.role).where(
            Membership.organization_id == org_id,
            Membership.role.in_([Role.reviewer.value, Role.annotator.value]),
            Membership.user_id.not_in(members),
        )
    ):
        s.add(ProjectMember(project_id=project_id, user_id=user_id, role=role))
    s.flush()


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


BUSY_RETRIES = 20


def retry_busy(step: Callable[[], Any]) -> Any:
    """``step()``, retried after a "busy, try again" (a lock wait past the lock timeout, as
    on a loaded machine) the way the API tells clients to: for concurrency tests, which
    check the queue's rules, not how long its waits are. The last try's Busy is raised."""
    for _ in range(BUSY_RETRIES):
        try:
            return step()
        except Busy:
            time.sleep(0.05)
    return step()


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
