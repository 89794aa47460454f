"""Use cases for projects, their settings and versioned label schemas.

Every lookup goes through :func:`get_project` (or :func:`project_row`), the one place that
scopes a project to the actor's organization and to the projects the actor may see (see
:mod:`labelhouse.accounts.policy`); a project of another organization, or one the actor is
not a member of, raises the same NotFound as a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.kinds.registry import LabelSchema, parse_schema
from labelhouse.projects.models import DEFAULT_LEASE_SECONDS, Project, SchemaVersion
from labelhouse.projects.skip_reasons import check_skip_reasons
from labelhouse.rubrics.service import resolve_schema
from labelhouse.storable import ID_MAX

MAX_OVERLAP = 50
# Projects listed when a name is ambiguous (older databases may hold duplicates).
MAX_CANDIDATES = 10
# Project creations and renames of one organization take turns on PostgreSQL at this
# advisory lock (the key is the organization id plus a constant, clear of the import lock's
# keys in tasks/importer.py and of the audit chain's two-key lock).
NAME_LOCK_BASE = 0x4C4E << 48
_NAME_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
SETTINGS_LIMITS = {
    "overlap": (1, MAX_OVERLAP),
    "lease_seconds": (30, 7 * 24 * 3600),
    "gold_first_n": (0, 1000),
    "gold_min_answers": (1, 100_000),
}
# Quality-control settings that are fractions: (low, high, may be null)
FRACTION_LIMITS = {
    "gold_rate": (0.0, 0.5, False),
    "gold_min_accuracy": (0.0, 1.0, True),
    "review_sample_rate": (0.0, 1.0, False),
    "review_agreement_threshold": (0.0, 1.0, False),
}
# Integer settings that may be null (no limit)
NULLABLE_INT_LIMITS = {"gold_exposure_limit": (1, 1_000_000)}
REVIEW_MODES = ("off", "all", "sample", "disagreement")
QC_SETTINGS = {
    *FRACTION_LIMITS,
    *NULLABLE_INT_LIMITS,
    "gold_first_n",
    "gold_min_answers",
    "review_mode",
}
# The orders the work queue can serve tasks in (tasks/queue_order.py).
QUEUE_ORDERS = ("default", "priority", "entropy", "margin")


def get_project(session: Session, actor: Actor, project_id: int, *, lock: bool = False) -> Project:
    actor.in_project(project_id)  # NotFound unless the actor may see it
    query = select(Project).where(
        Project.id == project_id, Project.organization_id == actor.organization_id
    )
    if lock:
        query = query.with_for_update()
    project = session.scalar(query)
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    return project


def list_projects(
    session: Session,
    actor: Actor,
    *,
    include_archived: bool = False,
    after_id: int = 0,
    limit: int | None = None,
) -> list[Project]:
    """The projects the actor may see, by id, keyset-paginated when ``limit`` is given."""
    query = select(Project).where(
        Project.organization_id == actor.organization_id, Project.id > after_id
    )
    visible = actor.visible_project_ids()
    if visible is not None:
        query = query.where(Project.id.in_(sorted(visible)))
    if not include_archived:
        query = query.where(Project.archived.is_(False))
    query = query.order_by(Project.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def find_project(session: Session, organization_id: int | None, ref: str) -> Project:
    """Resolve a CLI reference: a numeric id or an exact name (a number too large for an id
    can only be a name). Names are unique within an organization since
    :func:`check_unique_name`, but older databases (and other organizations) may share one:
    then the candidates' ids are listed, so the next command can use one."""
    query = select(Project)
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    is_id = ref.isascii() and ref.isdigit() and 0 < int(ref) <= ID_MAX
    query = query.where(Project.id == int(ref)) if is_id else query.where(Project.name == ref)
    matches = list(session.scalars(query.order_by(Project.id).limit(MAX_CANDIDATES + 1)))
    if not matches:
        raise NotFound(f"No project with id or name '{ref}'.")
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches[:MAX_CANDIDATES])
        more = ", …" if len(matches) > MAX_CANDIDATES else ""
        raise InvalidInput(
            f"Several projects are named '{ref}' (ids {ids}{more}): name the one you mean by "
            f"its id, e.g. {matches[0].id}."
        )
    return matches[0]


def check_unique_name(
    session: Session, actor: Actor, name: str, *, except_id: int | None = None
) -> None:
    """Conflict when another project of the actor's organization has this name, ignoring
    case and surrounding spaces (archived projects included: name lookups find them too).

    Call it in the write transaction that stores the name. SQLite's writers take turns
    (BEGIN IMMEDIATE), so nobody can store the same name between this check and the
    commit. On PostgreSQL two transactions could both pass the check, so the check first
    takes a transaction-level advisory lock keyed by the organization: project creations
    and renames of one organization take turns for the rest of their transaction (a few
    milliseconds; other organizations never wait). No unique index backs the rule, so a
    database that already holds duplicates keeps working (see :func:`find_project`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NAME_LOCK, {"key": NAME_LOCK_BASE + actor.organization_id})
    wanted = name.strip().casefold()
    query = select(Project.id, Project.name, Project.archived).where(
        Project.organization_id == actor.organization_id
    )
    if except_id is not None:
        query = query.where(Project.id != except_id)
    # Compared here, not in SQL: SQLite's lower() folds ASCII letters only.
    for project_id, existing, archived in session.execute(query):
        if existing.strip().casefold() != wanted:
            continue
        visible = actor.visible_project_ids()
        if visible is not None and project_id not in visible:  # do not reveal it
            raise Conflict(
                f"Another project of the organization is already named '{existing}' "
                "(names are compared ignoring case): choose another name."
            )
        raise Conflict(
            f"Project {project_id}{' (archived)' if archived else ''} is already named "
            f"'{existing}' (names are compared ignoring case): choose another name, or "
            f"rename project {project_id} first."
        )


def _check_settings(values: dict[str, Any]) -> None:
    problems = []
    for key, (low, high) in SETTINGS_LIMITS.items():
        if key in values:
            v = values[key]
            if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
                problems.append(Problem(key, f"must be an integer from {low} to {high}"))
    for key, (lo, hi, nullable) in FRACTION_LIMITS.items():
        if key in values:
            v = values[key]
            if v is None and nullable:
                continue
            if not isinstance(v, int | float) or isinstance(v, bool) or not lo <= v <= hi:
                problems.append(
                    Problem(
                        key,
                        f"must be a number from {lo:g} to {hi:g}"
                        + (" or null" if nullable else ""),
                    )
                )
    for key, (low, high) in NULLABLE_INT_LIMITS.items():
        v = values.get(key)
        if v is not None and (
            not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high
        ):
            problems.append(Problem(key, f"must be an integer from {low} to {high} or null"))
    if "review_mode" in values and values["review_mode"] not in REVIEW_MODES:
        problems.append(Problem("review_mode", f"use one of: {', '.join(REVIEW_MODES)}"))
    if "queue_order" in values and values["queue_order"] not in QUEUE_ORDERS:
        problems.append(Problem("queue_order", f"use one of: {', '.join(QUEUE_ORDERS)}"))
    if "name" in values and not (
        isinstance(values["name"], str) and 1 <= len(values["name"].strip()) <= 200
    ):
        problems.append(Problem("name", "1 to 200 characters"))
    for key in ("description", "instructions"):
        if key in values and not (isinstance(values[key], str) and len(values[key]) <= 100_000):
            problems.append(Problem(key, "text of at most 100,000 characters"))
    if problems:
        raise InvalidInput("Some project settings are invalid.", problems)


def create_project(
    session: Session,
    actor: Actor,
    *,
    name: str,
    schema: Any,
    description: str = "",
    instructions: str = "",
    overlap: int = 1,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> Project:
    actor.require_org(Role.manager, "create projects")
    _check_settings(
        {
            "name": name,
            "description": description,
            "instructions": instructions,
            "overlap": overlap,
            "lease_seconds": lease_seconds,
        }
    )
    parsed = resolve_schema(session, actor.organization_id, parse_schema(schema))
    check_unique_name(session, actor, name)
    project = Project(
        organization_id=actor.organization_id,
        name=name.strip(),
        description=description,
        instructions=instructions,
        overlap=overlap,
        lease_seconds=lease_seconds,
        schema_version=1,
        created_by_id=actor.user_id,
    )
    session.add(project)
    session.flush()
    session.add(
        SchemaVersion(
            project_id=project.id,
            version=1,
            document=parsed.model_dump(mode="json", exclude_none=True),
            created_by_id=actor.user_id,
        )
    )
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.create",
        object_type="project",
        object_id=project.id,
        details={"name": project.name},
    )
    session.flush()
    return project


def update_settings(
    session: Session, actor: Actor, project_id: int, changes: dict[str, Any]
) -> Project:
    """Change settings. Callers changing ``overlap`` use ``tasks.queue.update_project``,
    which also re-opens or closes tasks in the queue."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "change project settings")
    allowed = {
        "name",
        "description",
        "instructions",
        "overlap",
        "lease_seconds",
        "archived",
        "skip_reasons",
        "queue_order",
        *QC_SETTINGS,
    }
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(
            "Unknown project settings.",
            [
                Problem(k, f"unknown; allowed: {', '.join(sorted(allowed))}")
                for k in sorted(unknown)
            ],
        )
    _check_settings(changes)
    if "skip_reasons" in changes and changes["skip_reasons"] is not None:
        changes = {**changes, "skip_reasons": check_skip_reasons(changes["skip_reasons"])}
    project = get_project(session, actor, project_id, lock=True)
    if "name" in changes and changes["name"].strip() != project.name:
        check_unique_name(session, actor, changes["name"], except_id=project.id)
    for key, value in changes.items():
        if key in FRACTION_LIMITS and value is not None:
            value = float(value)
        setattr(project, key, value.strip() if key == "name" else value)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.update",
        object_type="project",
        object_id=project.id,
        details={k: v for k, v in changes.items() if k != "instructions"},
    )
    return project


def set_schema(session: Session, actor: Actor, project_id: int, schema: Any) -> SchemaVersion:
    """Store a new schema version (never edits an old one) and make it current."""
    actor = actor.in_project(project_id)
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "change the label schema")
    project = get_project(session, actor, project_id, lock=True)
    parsed = resolve_schema(session, actor.organization_id, parse_schema(schema))
    document = parsed.model_dump(mode="json", exclude_none=True)
    current = current_schema_row(session, project)
    if current.document == document:
        return current
    project.schema_version += 1
    row = SchemaVersion(
        project_id=project.id,
        version=project.schema_version,
        document=document,
        created_by_id=actor.user_id,
    )
    session.add(row)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.schema",
        object_type="project",
        object_id=project.id,
        details={"version": project.schema_version},
    )
    session.flush()
    return row


def current_schema_row(session: Session, project: Project) -> SchemaVersion:
    row = session.scalar(
        select(SchemaVersion).where(
            SchemaVersion.project_id == project.id, SchemaVersion.version == project.schema_version
        )
    )
    assert row is not None, "every project has its current schema version"
    return row


def schema_versions(session: Session, project: Project) -> list[SchemaVersion]:
    return list(
        session.scalars(
            select(SchemaVersion)
            .where(SchemaVersion.project_id == project.id)
            .order_by(SchemaVersion.version)
        )
    )


class ProjectRef(Protocol):
    id: int
    schema_version: int
    created_at: datetime


_SCHEMA_DOC = select(SchemaVersion.document).where(
    SchemaVersion.project_id == bindparam("pid"), SchemaVersion.version == bindparam("v")
)
_schema_cache: dict[tuple[int, int, datetime], tuple[LabelSchema, dict[str, Any]]] = {}


def load_schema_and_document(
    session: Session, project: ProjectRef
) -> tuple[LabelSchema, dict[str, Any]]:
    """The project's current schema (parsed) and its JSON document.

    Schema versions are immutable, so they are cached per process, keyed by project id,
    version and the project's creation time (ids can repeat across databases in tests).
    """
    key = (project.id, project.schema_version, project.created_at)
    hit = _schema_cache.get(key)
    if hit is None:
        document = session.execute(
            _SCHEMA_DOC, {"pid": project.id, "v": project.schema_version}
        ).scalar_one()
        hit = (parse_schema(document), document)
        if len(_schema_cache) > 1024:
            _schema_cache.clear()
        _schema_cache[key] = hit
    return hit


def load_schema(session: Session, project: ProjectRef) -> LabelSchema:
    return load_schema_and_document(session, project)[0]


class ProjectRow(NamedTuple):
    """The project columns the hot paths (queue, submit) need, without an ORM load."""

    id: int
    organization_id: int
    name: str
    overlap: int
    lease_seconds: int
    schema_version: int
    archived: bool
    created_at: datetime
    gold_rate: float
    gold_first_n: int
    gold_min_accuracy: float | None
    gold_min_answers: int
    routed: bool  # any task routed to a workforce (tasks/routing.py)
    staging_import_id: int | None  # an import whose tasks are hidden (tasks/visibility.py)
    queue_order: str  # "default", "priority", "entropy" or "margin" (tasks/queue_order.py)


PROJECT_ROW_COLUMNS = (
    Project.id,
    Project.organization_id,
    Project.name,
    Project.overlap,
    Project.lease_seconds,
    Project.schema_version,
    Project.archived,
    Project.created_at,
    Project.gold_rate,
    Project.gold_first_n,
    Project.gold_min_accuracy,
    Project.gold_min_answers,
    Project.routed,
    Project.staging_import_id,
    Project.queue_order,
)
_P: Table = Project.__table__  # type: ignore[assignment]
# Table columns, not ORM attributes: a Core statement skips the ORM's compile and load steps.
PROJECT_ROW_TABLE_COLUMNS = tuple(_P.c[c.key] for c in PROJECT_ROW_COLUMNS)
_PROJECT_ROW = select(*PROJECT_ROW_TABLE_COLUMNS).where(
    _P.c.id == bindparam("pid"), _P.c.organization_id == bindparam("org")
)


def project_row(session: Session, actor: Actor, project_id: int) -> ProjectRow:
    """Scoped like :func:`get_project`, but a plain row (cheap on the hot path)."""
    actor.in_project(project_id)
    params = {"pid": project_id, "org": actor.organization_id}
    row = session.connection().execute(_PROJECT_ROW, params).first()
    if row is None:
        raise NotFound(f"Project {project_id} does not exist.")
    return ProjectRow(*row)
