"""The access matrix: every route of the app, sent as every kind of person, on objects in
their project, in another project of their organization and in another organization,
checked against the table in :mod:`labelhouse.web.access_rules`.

Outcome classes: ``ok`` (2xx, 3xx, or a 4xx other than 401/403/404 — a 409 or 422 means
the request got past access control), ``401`` (pages: the redirect to ``/login?next=``),
``403`` and ``404``. A 404 from the JSON API must also be indistinguishable from the answer
for an id that names nothing.

The world is built once for the module on SQLite. Requests that change the database are
undone by copying a snapshot back (SQLite's backup API; ``PRAGMA data_version`` says when
anything was committed), so the order of the cases does not matter.
"""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from starlette.routing import Mount

from labelhouse.accounts import invitations
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ROLE_RANK, Membership, Role, User
from labelhouse.annotations import service as annotations
from labelhouse.config import Settings
from labelhouse.db.engine import open_database
from labelhouse.errors import NotFound
from labelhouse.jobs.exports import request_snapshot
from labelhouse.media.sources import MediaSources
from labelhouse.models_loop import endpoints as model_endpoints
from labelhouse.models_loop import policy as model_policy
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import FetchPolicy, SafeFetcher
from labelhouse.people import my_workforce, project_members, teams, workforces
from labelhouse.projects.service import set_schema
from labelhouse.rubrics import service as rubrics
from labelhouse.storage import LocalStorage
from labelhouse.tasks import queue
from labelhouse.tasks import service as tasks
from labelhouse.tasks.models import Task, TaskImport
from labelhouse.web.access_rules import RULE_KINDS, RULES
from labelhouse.web.app import create_app
from tests.factories import (
    CHOICE_SCHEMA,
    PASSWORD,
    Member,
    add_member,
    add_tasks,
    jsonl,
    login,
    make_org,
    make_project,
    text_rows,
)
from tests.media_server import media_server

MISSING = 987_654_321
SAFE = {"GET", "HEAD", "OPTIONS"}
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
STATIC_FILE = "css/app.css"
OK, UNAUTH, DENIED, HIDDEN = "ok", "401", "403", "404"
API_CODES = {UNAUTH: "not_authenticated", DENIED: "permission_denied", HIDDEN: "not_found"}


# -- the route table -------------------------------------------------------------------------


def route_table(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every route, included routers flattened; a mount is
    (GET, "<mount>/{path}"). HEAD is left out: it answers like GET."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept whole
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    found: set[tuple[str, str]] = set()
    for rc in contexts:
        if isinstance(getattr(rc, "original_route", rc), Mount):
            found.add(("GET", rc.path.rstrip("/") + "/{path}"))
            continue
        for method in rc.methods or ():
            if method != "HEAD":
                found.add((method, rc.path))
    return found


# -- who, and on what --------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """One kind of person. ``org`` is "A" or "B" (None: signed out); ``projects`` are their
    project roles by project key, for people who do not see every project."""

    name: str
    org: str | None
    role: Role | None = None
    projects: dict[str, Role] = field(default_factory=dict)
    workforce: str | None = None  # "VA": vendor A, whose team annotates P
    workforce_manager: bool = False

    def role_in(self, org: str, project: str) -> Role | None:
        if self.org != org or self.role is None:
            return None
        if ROLE_RANK[self.role] >= ROLE_RANK[Role.manager]:
            return self.role
        return self.projects.get(project)


ACTORS = (
    Who("org owner", "A", Role.owner),
    Who("org manager", "A", Role.manager),
    Who("project manager", "A", Role.annotator, {"P": Role.manager}),
    Who("project reviewer", "A", Role.annotator, {"P": Role.reviewer}),  # through a team
    Who("project annotator", "A", Role.annotator, {"P": Role.annotator}),
    Who("member outside the project", "A", Role.annotator),
    Who("vendor manager", "A", Role.annotator, {"P": Role.annotator}, "VA", True),
    Who("vendor annotator", "A", Role.annotator, {"P": Role.annotator}, "VA"),
    # In vendor A (whose team annotates P) and, directly, a reviewer of P.
    Who("vendor reviewer", "A", Role.annotator, {"P": Role.reviewer}, "VA"),
    Who("owner of another organization", "B", Role.owner),
    Who("anonymous", None),
)
ANNOTATOR = "project annotator"


@dataclass(frozen=True)
class Scope:
    """Where the objects named in the path live. The project annotator holds the lease on
    the "project" task and wrote the "project" annotation; the "unassigned" task and
    annotation are in the same project but not theirs."""

    name: str
    org: str
    project: str
    theirs: bool = False  # the task is assigned to / the annotation is by the annotator


SCOPES = {
    "project": Scope("project", "A", "P", theirs=True),
    "unassigned": Scope("unassigned", "A", "P"),
    "other project": Scope("other project", "A", "Q"),
    "other organization": Scope("other organization", "B", "R"),
}


def rank(role: Role | str) -> int:
    return ROLE_RANK[Role(role)]


def expected(rule: str, who: Who, scope: Scope | None, path: str = "") -> set[str]:
    """The outcome classes the rule allows for this person on objects of this scope."""
    if rule == "public":
        return {OK}
    if who.org is None:
        return {UNAUTH}
    assert who.role is not None
    if rule in ("self", "member"):
        # Objects in the path are the caller's own in the "project" scope only (tokens).
        return {OK} if scope is None or scope.name == "project" else {HIDDEN}
    if rule == "workforce:manager":
        if not who.workforce_manager:
            return {DENIED}  # refused before any lookup
        if "{user_id}" in path:  # the scopes' people are none of theirs
            return {HIDDEN}
        if scope is None or ("{project_id}" in path and scope.name == "project"):
            return {OK}  # their workforce; P is one of its projects
        return {HIDDEN}  # the lab's staff, another project, another organization
    kind, _, level = rule.partition(":")
    if kind == "org":
        allowed = rank(who.role) >= rank(level)
        if scope is not None and scope.org != who.org:
            return {HIDDEN} if allowed else {DENIED, HIDDEN}
        return {OK} if allowed else {DENIED}
    assert scope is not None, f"rule {rule} needs an object in the path"
    role = who.role_in(scope.org, scope.project)
    if role is None:
        return {HIDDEN}
    mine = scope.theirs and who.name == ANNOTATOR
    if level == "own-lease":
        return {OK} if mine else {HIDDEN}
    if level == "lab-reviewer":  # project-wide views: never a vendor's people
        return {OK} if rank(role) >= rank(Role.reviewer) and who.workforce is None else {DENIED}
    if kind in ("task", "annotation"):
        # Only the lab's reviewers and up see the whole project; a vendor's people, in any
        # role, reach only what was given to them (none of the matrix's tasks).
        if (rank(role) < rank(Role.reviewer) or who.workforce is not None) and not mine:
            return {HIDDEN}
        if level in ("assigned-or-reviewer", "own-or-reviewer"):
            level = Role.annotator.value
    return {OK} if rank(role) >= rank(level) else {DENIED}


# -- the world ---------------------------------------------------------------------------------


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), "purple").save(buf, format="PNG")
    return buf.getvalue()


class Snapshot:
    """The database as built, copied back after any request that committed something."""

    def __init__(self, path: Path) -> None:
        self.live = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.live.execute("PRAGMA busy_timeout=30000")
        self.copy = sqlite3.connect(":memory:", check_same_thread=False)
        self.live.backup(self.copy)
        self.version = self._version()
        self.restores = 0

    def _version(self) -> int:
        return int(self.live.execute("PRAGMA data_version").fetchone()[0])

    def restore_if_changed(self) -> bool:
        if self._version() == self.version:
            return False
        self.copy.backup(self.live)
        self.version = self._version()
        self.restores += 1
        return True

    def close(self) -> None:
        self.copy.close()
        self.live.close()


@dataclass
class World:
    app: Any
    client: TestClient
    snapshot: Snapshot
    sessions: dict[str, tuple[str, str]]  # actor name -> (session secret, CSRF token)
    ids: dict[str, dict[str, int]]  # scope name -> path parameter -> id
    own_tokens: dict[str, int]  # actor name -> one of their API tokens
    spare_email: str  # an organization A member in no project and no team (and no actor)
    invitation_secret: str
    # Text that only some people may ever be shown: (marker, who may see it).
    markers: list[tuple[str, Callable[[Who], bool]]]

    def object_id(self, param: str, scope: str, who: Who) -> int:
        if param == "token_id" and scope == "project":
            return self.own_tokens.get(who.name, self.own_tokens["org owner"])
        return self.ids[scope][param]


def _token(db: Any, member: Member) -> int:
    actor = member.actor
    with db.session() as s:
        row, _ = accounts.create_api_token(s, actor, name="matrix")
        return row.id


def _work(db: Any, member: Member, project_id: int, submit: int) -> tuple[list[int], int, int]:
    """``member`` submits ``submit`` tasks, then leases one more: (submitted task ids, their
    last annotation id, the leased task id)."""
    actor = member.actor
    done: list[int] = []
    annotation_id = 0
    with db.session() as s:
        for _ in range(submit):
            lease = queue.claim_next(s, actor, project_id)
            assert lease is not None
            result = annotations.save(s, actor, lease.task.id, value={"label": "pos"})
            done.append(lease.task.id)
            annotation_id = result.annotation.id
        lease = queue.claim_next(s, actor, project_id)
        assert lease is not None
        return done, annotation_id, lease.task.id


MATRIX_MODEL = "matrix model"


def _project_objects(
    db: Any, app: Any, owner: Member, project_id: int, file_name: str = "cat.png"
) -> dict[str, int]:
    """A file (named ``file_name``: name a task's image to make it that task's media) and the
    project's first import."""
    actor = owner.actor
    with db.session() as s:
        row, _ = tasks.store_file(
            s,
            actor,
            project_id,
            name=file_name,
            source=io.BytesIO(png_bytes()),
            storage=app.state.storage,
            max_bytes=1 << 20,
        )
        import_id = s.scalar(select(TaskImport.id).where(TaskImport.project_id == project_id))
        assert import_id is not None
        # A finished snapshot (its job a finished export job too), run here in this thread.
        snapshot, job = request_snapshot(s, actor, project_id, formats=["jsonl"])
    assert app.state.jobs.run(job.id) == "succeeded"
    with db.session() as s:  # the organization's model endpoint; the project may send "text"
        try:
            endpoint = model_endpoints.find_endpoint(s, actor.organization_id, MATRIX_MODEL)
        except NotFound:
            endpoint = model_endpoints.create_endpoint(
                s,
                actor,
                app.state.settings,
                name=MATRIX_MODEL,
                kind="openai",
                url="https://models.example.org/v1",
                model="m",
            )
        rule = model_policy.allow(
            s, actor, endpoint=endpoint.id, project_id=project_id, fields=["text"]
        )
    return {
        "project_id": project_id,
        "file_id": row.id,
        "import_id": import_id,
        "job_id": job.id,
        "snapshot_id": snapshot.id,
        "endpoint_id": endpoint.id,
        "rule_id": rule.id,
    }


def _team(db: Any, owner: Member, name: str, project_id: int, role: str, emails: list[str]) -> int:
    actor = owner.actor
    with db.session() as s:
        team = teams.create_team(s, actor, name=name)
        teams.add_members(s, actor, team.id, emails=emails)
        project_members.add_team(s, actor, project_id, team_id=team.id, role=role)
        return team.id


def _workforce(db: Any, owner: Member, name: str, project_id: int, *people: Member) -> int:
    """A vendor of these people, annotating the project."""
    actor = owner.actor
    with db.session() as s:
        team = teams.create_team(s, actor, name=name)
        teams.add_members(s, actor, team.id, emails=[p.email for p in people])
        workforces.update_workforce(s, actor, team.id, kind="vendor")
        project_members.add_team(s, actor, project_id, team_id=team.id, role="annotator")
        return team.id


def _rubric(db: Any, owner: Member, name: str) -> int:
    with db.session() as s:
        return rubrics.create_rubric(s, owner.actor, name=name, criteria=RUBRIC).rubric.id


def _invitation(db: Any, owner: Member, email: str) -> tuple[int, str]:
    actor = owner.actor
    with db.session() as s:
        row, secret = invitations.invite(s, actor, email=email, role=Role.annotator)
        return row.id, secret


def _add_people(db: Any, owner: Member, project_id: int, role: str, *people: Member) -> None:
    actor = owner.actor
    with db.session() as s:
        project_members.add_people(
            s, actor, project_id, emails=[p.email for p in people], role=role
        )


RUBRIC = [{"name": "clarity", "min": 1, "max": 3}]
PHOTO_SCHEMA = {
    "fields": [
        *CHOICE_SCHEMA["fields"],
        {"name": "objects", "kind": "boxes", "image": "photo", "labels": [{"value": "cat"}]},
    ]
}


def marked_rows(project: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "text": f"marker-task-{project}{i}",
            "image": f"img-{project}{i}.png",
            "external_id": f"{project}{i}",
        }
        for i in range(n)
    ]


def _runs_the_lab_side(w: Who) -> bool:
    """The lab's own people overseeing P (organization owners/managers, P's project manager
    and reviewers): they see the names of the workforces working on it."""
    role = w.role_in("A", "P")
    return w.workforce is None and role is not None and rank(role) >= rank(Role.reviewer)


def markers(
    db: Any,
    owners: dict[str, Member],
    annotators_tasks: set[int],
    vendor_emails: dict[str, str],
) -> list[tuple[str, Callable[[Who], bool]]]:
    """Organization names, e-mail addresses, project names, workforce names and task
    texts, each with who may be shown it. ``annotators_tasks``: the tasks assigned to the
    project annotator; ``vendor_emails``: vendor A's people's addresses by actor name (a
    vendor's people see no address but their own, and its manager their workforce's)."""
    found: list[tuple[str, Callable[[Who], bool]]] = []
    projects = {"P": ("A", "P"), "Q": ("A", "Q"), "R": ("B", "R")}
    for org in ("A", "B"):
        found.append((f"marker-org-{org}", lambda w, org=org: w.org == org))
    found.append(("marker-vendor-A", lambda w: _runs_the_lab_side(w) or w.workforce == "VA"))
    found.append(("marker-vendor-B", _runs_the_lab_side))

    def sees_address(w: Who, org: str, email: str) -> bool:
        if w.org != org:
            return False
        if w.workforce is None:
            return True
        if w.workforce_manager:
            return email in vendor_emails.values()
        return vendor_emails.get(w.name) == email

    with db.read_session() as s:
        for org, owner in owners.items():
            org_id = owner.organization_id
            for email in s.scalars(
                select(User.email)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == org_id)
            ):
                found.append((email, lambda w, org=org, e=email: sees_address(w, org, e)))
        for key, (org, project) in projects.items():

            def sees(w: Who, org: str = org, project: str = project) -> bool:
                return w.role_in(org, project) is not None

            found.append((f"marker-project-{key}", sees))
        for task_id, data in s.execute(select(Task.id, Task.data)):
            text = data["text"]
            org, project = projects[text.removeprefix("marker-task-")[0]]

            def sees_task(
                w: Who, org: str = org, project: str = project, tid: int = task_id
            ) -> bool:
                role = w.role_in(org, project)
                if role is None:
                    return False
                return (rank(role) >= rank(Role.reviewer) and w.workforce is None) or (
                    w.name == ANNOTATOR and tid in annotators_tasks
                )

            found.append((text, sees_task))
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("access-matrix")
    path = tmp / "labelhouse.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{path}",
        password_hash_profile="cheapest",
        max_request_bytes=256 * 1024,
        max_upload_bytes=20 * 1024 * 1024,
    )
    db = open_database(settings.resolved_database_url)
    # Media by URL: the tasks' "photo" comes from a server on loopback (allow-listed).
    web = media_server("127.0.0.1")
    photo = web.__enter__().url("/img.png")
    fetch = FetchPolicy(addresses=AddressPolicy(parse_networks("127.0.0.1/32")), allow_http=True)
    app = create_app(
        settings,
        database=db,
        storage=LocalStorage(settings.resolved_storage_dir),
        media=MediaSources(SafeFetcher(fetch)),
    )

    # Organization A: P (the actors' project) and Q (another project of theirs).
    owner = make_org(db, "marker-org-A")
    people = {
        "org owner": owner,
        "org manager": add_member(db, owner, Role.manager, join_projects=False),
        "project manager": add_member(db, owner, Role.annotator, join_projects=False),
        "project reviewer": add_member(db, owner, Role.annotator, join_projects=False),
        ANNOTATOR: add_member(db, owner, Role.annotator, join_projects=False),
        "member outside the project": add_member(db, owner, Role.annotator, join_projects=False),
    }
    people["vendor manager"] = add_member(db, owner, Role.annotator, join_projects=False)
    people["vendor annotator"] = add_member(db, owner, Role.annotator, join_projects=False)
    people["vendor reviewer"] = add_member(db, owner, Role.annotator, join_projects=False)
    vendor_b_person = add_member(db, owner, Role.annotator, join_projects=False)
    victim_p = add_member(db, owner, Role.annotator, join_projects=False)
    victim_q = add_member(db, owner, Role.annotator, join_projects=False)
    spare = add_member(db, owner, Role.annotator, join_projects=False)
    p = make_project(db, owner, open_to_all=False, name="marker-project-P")
    q = make_project(db, owner, open_to_all=False, name="marker-project-Q")
    add_tasks(db, owner, p, marked_rows("P", 6))
    add_tasks(db, owner, q, marked_rows("Q", 3))
    _add_people(db, owner, p, "manager", people["project manager"])
    _add_people(db, owner, p, "annotator", people[ANNOTATOR], victim_p)
    _add_people(db, owner, q, "annotator", victim_q)
    team_p = _team(db, owner, "P reviewers", p, "reviewer", [people["project reviewer"].email])
    with db.session() as s:  # victim_p too, so removing a team member has someone to remove
        teams.add_members(s, owner.actor, team_p, emails=[victim_p.email])
    team_q = _team(db, owner, "Q annotators", q, "annotator", [victim_q.email])
    # Vendors A (the two vendor actors, one its manager) and B, both annotating P.
    vendor_a = _workforce(
        db,
        owner,
        "marker-vendor-A",
        p,
        people["vendor manager"],
        people["vendor annotator"],
        people["vendor reviewer"],
    )
    _add_people(db, owner, p, "reviewer", people["vendor reviewer"])
    _workforce(db, owner, "marker-vendor-B", p, vendor_b_person)
    with db.session() as s:
        my_workforce.set_manager(
            s, owner.actor, vendor_a, user_id=people["vendor manager"].user_id, manager=True
        )
        # vendor A may export its (empty) slice of P
        project_members.set_team_export(s, owner.actor, p, team_id=vendor_a, allowed=True)
    # Work: victim_p's annotation is on a task the project annotator never had.
    (p_other_task,), p_other_annotation, _ = _work(db, victim_p, p, submit=1)
    (p_done,), p_annotation, p_leased = _work(db, people[ANNOTATOR], p, submit=1)
    _, q_annotation, q_leased = _work(db, victim_q, q, submit=1)
    with db.read_session() as s:
        p_free = tasks.list_tasks(s, owner.actor, p, status="new", limit=1).items[0].id

    # Organization B: R.
    owner_b = make_org(db, "marker-org-B")
    people["owner of another organization"] = owner_b
    victim_b = add_member(db, owner_b, Role.annotator, join_projects=False)
    r = make_project(db, owner_b, open_to_all=False, name="marker-project-R")
    add_tasks(db, owner_b, r, marked_rows("R", 3))
    _add_people(db, owner_b, r, "annotator", victim_b)
    team_r = _team(db, owner_b, "R annotators", r, "annotator", [victim_b.email])
    _, r_annotation, r_leased = _work(db, victim_b, r, submit=1)

    inv_p, _ = _invitation(db, owner, "pending-1@example.com")
    inv_q, _ = _invitation(db, owner, "pending-2@example.com")
    inv_r, _ = _invitation(db, owner_b, "pending-3@example.com")
    _, accept_secret = _invitation(db, owner, "newcomer@example.com")

    with db.read_session() as s:
        leased_image = s.scalar(select(Task.data).where(Task.id == p_leased))["image"]
    in_p = _project_objects(db, app, owner, p, file_name=leased_image)
    unassigned_file = _project_objects(db, app, owner, p)["file_id"]  # no task names it
    ids = {
        "project": {
            **in_p,
            "task_id": p_leased,
            "annotation_id": p_annotation,
            "user_id": victim_p.user_id,
            "rubric_id": _rubric(db, owner, "rubric P"),
            "team_id": team_p,
            "invitation_id": inv_p,
        },
        "other project": {
            **_project_objects(db, app, owner, q),
            "task_id": q_leased,
            "annotation_id": q_annotation,
            "user_id": victim_q.user_id,
            "rubric_id": _rubric(db, owner, "rubric Q"),
            "team_id": team_q,
            "invitation_id": inv_q,
            "token_id": _token(db, victim_p),
        },
        "other organization": {
            **_project_objects(db, app, owner_b, r),
            "task_id": r_leased,
            "annotation_id": r_annotation,
            "user_id": victim_b.user_id,
            "rubric_id": _rubric(db, owner_b, "rubric R"),
            "team_id": team_r,
            "invitation_id": inv_r,
            "token_id": _token(db, victim_b),
        },
    }
    # The tasks in the path also show an image by URL (the media route's "photo" key).
    for project_id, its_owner in ((p, owner), (q, owner), (r, owner_b)):
        with db.session() as s:
            set_schema(s, its_owner.actor, project_id, PHOTO_SCHEMA)
    with db.session() as s:
        for task_id in (p_leased, p_free, q_leased, r_leased):
            task = s.get(Task, task_id)
            assert task is not None
            task.data = {**task.data, "photo": photo, "image_width": 37, "image_height": 21}
    for scope_ids in ids.values():
        scope_ids["key"] = "photo"  # type: ignore[assignment]
    ids["unassigned"] = {
        **ids["project"],
        "task_id": p_free,
        "annotation_id": p_other_annotation,
        "file_id": unassigned_file,
    }
    assert p_other_task not in (p_leased, p_free)
    own_tokens = {name: _token(db, m) for name, m in people.items()}
    sessions = {}
    for name, member in people.items():
        c = login(app, member)
        sessions[name] = (c.cookies["lh_session"], c.headers["X-CSRF-Token"])
        c.close()
    snapshot = Snapshot(path)
    with TestClient(app, follow_redirects=False) as client:  # one event loop for every case
        yield World(
            app=app,
            client=client,
            snapshot=snapshot,
            sessions=sessions,
            ids=ids,
            own_tokens=own_tokens,
            spare_email=spare.email,
            invitation_secret=accept_secret,
            markers=markers(
                db,
                {"A": owner, "B": owner_b},
                {p_done, p_leased},
                {
                    n: people[n].email
                    for n in ("vendor manager", "vendor annotator", "vendor reviewer")
                },
            ),
        )
    snapshot.close()
    db.dispose()
    web.__exit__(None, None, None)


# -- what each route is sent -----------------------------------------------------------------

Body = Callable[[World, Who], dict[str, Any]]
NEW_PASSWORD = "another correct horse battery"


def _json(value: Any) -> Body:
    return lambda _w, _a: {"json": value}


BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/api/auth/login"): lambda w, _: {
        "json": {"email": w.spare_email, "password": PASSWORD}
    },
    ("POST", "/api/invitations/accept"): lambda w, _: {
        "json": {"token": w.invitation_secret, "password": NEW_PASSWORD, "name": "New"}
    },
    ("POST", "/api/me/password"): _json(
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    ),
    ("POST", "/api/me/tokens"): _json({"name": "matrix"}),
    ("PATCH", "/api/members/{user_id}"): _json({"role": "reviewer"}),
    ("POST", "/api/invitations"): _json({"email": "invitee@example.com", "role": "annotator"}),
    ("POST", "/api/invitations/bulk"): _json({"emails": ["bulk@example.com"]}),
    ("POST", "/api/teams"): _json({"name": "Matrix team"}),
    ("PATCH", "/api/teams/{team_id}"): _json({"description": "changed"}),
    ("POST", "/api/rubrics"): _json({"name": "matrix rubric", "criteria": RUBRIC}),
    ("POST", "/api/rubrics/{rubric_id}/versions"): _json({"criteria": RUBRIC}),
    ("POST", "/api/teams/{team_id}/members"): lambda w, _: {"json": {"emails": [w.spare_email]}},
    ("PUT", "/api/teams/{team_id}/workforce"): _json({"contact": "ops@example.com"}),
    ("PUT", "/api/teams/{team_id}/managers/{user_id}"): _json({"manager": True}),
    ("PUT", "/api/projects/{project_id}/teams/{team_id}/export"): _json({"allowed": False}),
    ("PUT", "/api/workforce/projects/{project_id}/reviewers/{user_id}"): _json({"reviewer": False}),
    ("POST", "/api/workforce/invitations"): _json({"emails": ["vendor-newcomer@example.com"]}),
    ("POST", "/api/projects/{project_id}/routing"): _json(
        {"mode": "share", "workforces": [{"id": 999_999, "share": 1}]}
    ),
    ("POST", "/api/projects/{project_id}/routing/move"): _json(
        {"from_workforce": 999_999, "to_workforce": 999_998}
    ),
    ("PUT", "/api/projects/{project_id}/outside-policy"): _json(
        {"hidden_keys": ["secret"], "redact": ["email"], "canary": True}
    ),
    ("POST", "/api/trace"): _json({"text": "no marker here"}),
    ("POST", "/api/projects/{project_id}/exports"): _json({"format": "csv"}),
    ("POST", "/api/projects/{project_id}/snapshots"): _json({"formats": ["jsonl"]}),
    ("POST", "/api/projects/{project_id}/members"): lambda w, _: {
        "json": {"emails": [w.spare_email], "role": "annotator"}
    },
    ("PATCH", "/api/projects/{project_id}/members/{user_id}"): _json({"role": "reviewer"}),
    ("POST", "/api/projects"): _json({"name": "Matrix", "schema": CHOICE_SCHEMA}),
    ("PATCH", "/api/projects/{project_id}"): _json({"description": "changed"}),
    ("PUT", "/api/projects/{project_id}/schema"): _json({"schema": CHOICE_SCHEMA}),
    ("POST", "/api/schemas/validate"): _json({"schema": CHOICE_SCHEMA}),
    ("POST", "/api/projects/{project_id}/schema/sample"): _json({"schema": CHOICE_SCHEMA}),
    ("POST", "/api/markdown/preview"): _json({"text": "*hello*"}),
    ("POST", "/api/projects/{project_id}/import"): lambda _w, _a: {
        "content": jsonl(text_rows(1, start=1000)),
        "headers": {"content-type": "application/x-ndjson"},
    },
    ("POST", "/api/projects/{project_id}/import/jobs"): lambda _w, _a: {
        "content": jsonl(text_rows(1, start=2000)),
        "headers": {"content-type": "application/x-ndjson"},
    },
    ("POST", "/api/projects/{project_id}/tasks/priorities"): _json(
        {"priorities": [{"external_id": "P5", "priority": 1}]}
    ),
    ("POST", "/api/projects/{project_id}/files"): lambda _w, _a: {
        "files": {"files": ("dog.png", png_bytes(), "image/png")}
    },
    ("POST", "/api/tasks/{task_id}/annotations"): _json({"value": {"label": "neg"}}),
    ("PUT", "/api/tasks/{task_id}/gold"): _json({"value": {"label": "neg"}}),
    ("PUT", "/api/tasks/{task_id}/gold/state"): _json({"state": "reserve"}),
    ("POST", "/api/tasks/{task_id}/review"): _json({"decision": "accept"}),
    ("POST", "/api/tasks/{task_id}/comments"): _json({"body": "a question from the matrix"}),
    ("POST", "/api/model-endpoints"): _json(
        {"name": "matrix endpoint", "url": "https://models.example.org/v1", "model": "m"}
    ),
    ("PUT", "/api/model-endpoints/{endpoint_id}/api-key"): _json(
        {"api_key": "sk-matrix-rotated-0123456789"}
    ),
    # No tasks: the call is checked (access, endpoint, egress policy) and sends nothing.
    ("POST", "/api/projects/{project_id}/models/predict"): _json(
        {"endpoint": MATRIX_MODEL, "fields": ["text"], "task_ids": []}
    ),
    ("PUT", "/api/model-egress"): lambda w, who: {
        "json": {
            "endpoint": MATRIX_MODEL,
            "project_id": w.ids["other organization" if who.org == "B" else "project"][
                "project_id"
            ],
            "fields": ["text"],
        }
    },
    ("POST", "/login"): lambda w, _: {"data": {"email": w.spare_email, "password": PASSWORD}},
    ("POST", "/logout"): lambda w, a: {
        "data": {"csrf_token": w.sessions[a.name][1] if a.name in w.sessions else ""}
    },
}


def scopes_for(path: str) -> list[str | None]:
    params = set(PARAM.findall(path)) - {"path"}
    if not params:
        return [None]
    names = ["project", "other project", "other organization"]
    if params & {"task_id", "annotation_id", "file_id"}:
        names.insert(1, "unassigned")
    return names


def url_for(world: World, path: str, scope: str | None, who: Who) -> str:
    def fill(m: re.Match[str]) -> str:
        if m[1] == "path":
            return STATIC_FILE
        if m[1] == "name":  # a snapshot's file: every snapshot has its manifest
            return "manifest.json"
        assert scope is not None
        return str(world.object_id(m[1], scope, who))

    return PARAM.sub(fill, path)


def send(world: World, who: Who, method: str, url: str, kwargs: dict[str, Any]) -> Any:
    kwargs = dict(kwargs)
    headers = dict(kwargs.pop("headers", {}))
    if who.name in world.sessions:
        secret, csrf = world.sessions[who.name]
        headers["cookie"] = f"lh_session={secret}"
        headers["x-csrf-token"] = csrf
    world.client.cookies.clear()  # a login's Set-Cookie must not stick to the next case
    r = world.client.request(method, url, headers=headers, **kwargs)
    if world.snapshot.restore_if_changed():
        world.app.state.identity_cache.clear()
    return r


def classify(r: Any) -> str:
    if r.status_code in (301, 302, 303, 307, 308):
        return UNAUTH if r.headers.get("location", "").startswith("/login?next=") else OK
    if r.status_code in (401, 403, 404):
        return str(r.status_code)
    if r.status_code >= 500:
        return f"server error {r.status_code}"
    return OK


def normalised(r: Any, ids: list[int]) -> tuple[int, Any]:
    """Status and error body with the ids from the URL blanked out of the message."""
    try:
        body = r.json()
    except ValueError:
        return r.status_code, r.text
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"]["message"]
        for i in ids:
            message = re.sub(rf"\b{i}\b", "<id>", message)
        body["error"]["message"] = message
    return r.status_code, body


def ids_in(url: str) -> list[int]:
    return [int(n) for n in re.findall(r"/(\d+)(?=/|$)", url)]


# -- the tests ---------------------------------------------------------------------------------


def test_every_route_has_a_rule_and_every_rule_a_route(world):
    routes = route_table(world.app)
    missing = sorted(routes - set(RULES))
    stale = sorted(set(RULES) - routes)
    assert not missing, "routes without an access rule in labelhouse/web/access_rules.py:\n" + (
        "\n".join(f"  {m} {p}" for m, p in missing)
    )
    assert not stale, "rules for routes that no longer exist:\n" + "\n".join(
        f"  {m} {p}" for m, p in stale
    )


def test_rules_use_known_kinds():
    unknown = {key: rule for key, rule in RULES.items() if rule not in RULE_KINDS}
    assert not unknown, unknown


def test_every_route_answers_every_person_as_its_rule_says(world):
    started = time.perf_counter()
    mismatches: list[str] = []
    missing_answers: dict[tuple[str, str, str], tuple[int, Any]] = {}
    cases = 0
    for method, path in sorted(route_table(world.app)):
        rule = RULES.get((method, path))
        if rule is None:
            continue  # reported by the coverage test
        is_api = path.startswith("/api/") and path not in ("/api/docs", "/api/openapi.json")
        body = BODIES.get((method, path), lambda _w, _a: {})
        for who in ACTORS:
            for scope_name in scopes_for(path):
                scope = SCOPES[scope_name] if scope_name else None
                url = url_for(world, path, scope_name, who)
                sent = body(world, who)
                r = send(world, who, method, url, sent)
                cases += 1
                got = classify(r)
                want = expected(rule, who, scope, path)
                where = f"{method} {url} ({path}) [{rule}] as {who.name}" + (
                    f" on the {scope_name} object" if scope_name else ""
                )
                if got not in want:
                    mismatches.append(
                        f"{where}: expected {'/'.join(sorted(want))}, got {r.status_code} "
                        f"{r.headers.get('location', '')}{r.text[:160]!r}"
                    )
                    continue
                if got in API_CODES and is_api:
                    json_body = "json" in r.headers.get("content-type", "")
                    code = (r.json() if json_body else {}).get("error", {}).get("code")
                    if code != API_CODES[got]:
                        mismatches.append(f"{where}: {r.status_code} with error code {code!r}")
                elif got in (DENIED, HIDDEN) and "text/html" not in r.headers["content-type"]:
                    mismatches.append(f"{where}: a page answered {got} without an HTML page")
                if rule != "public":  # what the caller sent may come back (e.g. in a 422)
                    shown, echo = r.text, str(sent)
                    leaked = [
                        m
                        for m, may_see in world.markers
                        if m in shown and m not in echo and not may_see(who)
                    ]
                    if leaked:
                        mismatches.append(f"{where}: the answer shows {', '.join(leaked)}")
                if got == HIDDEN and is_api and scope_name:
                    key = (method, path, who.name)
                    if key not in missing_answers:
                        missing_url = PARAM.sub(str(MISSING), path)
                        gone = send(world, who, method, missing_url, sent)
                        missing_answers[key] = normalised(gone, [MISSING])
                    if normalised(r, ids_in(url)) != missing_answers[key]:
                        mismatches.append(
                            f"{where}: its 404 differs from a missing id's: "
                            f"{normalised(r, ids_in(url))} vs {missing_answers[key]}"
                        )
    took = time.perf_counter() - started
    print(
        f"\naccess matrix: {cases} route × person × object cases, "
        f"{world.snapshot.restores} database restores, {took:.1f} s"
    )
    assert not mismatches, f"{len(mismatches)} of {cases} cases break the access rules:\n" + (
        "\n".join(mismatches)
    )
