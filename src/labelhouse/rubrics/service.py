"""Use cases for rubrics: create, add a version, list, read, and resolve schema references.

Rubrics belong to an organization; organization owners and managers create and read them
(annotators see a rubric's criteria inside their project's schema). Every lookup is scoped
by the actor's organization: another organization's rubric is the same NotFound as a
missing one. Versions are immutable from creation: a change is always a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.kinds.registry import LabelSchema, load_yaml
from labelhouse.kinds.rubric import RubricCriteria, RubricField
from labelhouse.rubrics.models import Rubric, RubricVersion
from labelhouse.storable import find_nul

MAX_NAME = 200
MAX_DESCRIPTION = 5000


@dataclass(frozen=True)
class RubricView:
    """A rubric with the versions asked for (newest last)."""

    rubric: Rubric
    versions: list[RubricVersion]


def parse_criteria(document: Any) -> list[dict[str, Any]]:
    """Validate a criteria document (``{"criteria": [...]}`` or the bare list) and return
    it normalised (defaults filled in), naming every problem with its place. Text is read
    as JSON or YAML (the page's editor sends text)."""
    if isinstance(document, str):
        document = load_yaml(document, what="The criteria are", where="criteria")
    if isinstance(document, list):
        document = {"criteria": document}
    if not isinstance(document, dict):
        raise InvalidInput(
            "A rubric's criteria are a list.",
            [Problem("criteria", 'expected a list like [{"name": "helpfulness", ...}]')],
        )
    nul = find_nul(document)
    if nul is not None:
        raise InvalidInput("The criteria are invalid.", [Problem(nul, "contains a NUL")])
    try:
        parsed = RubricCriteria.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            problems.append(
                Problem(loc.lstrip(".") or "criteria", err["msg"].removeprefix("Value error, "))
            )
        raise InvalidInput("The rubric's criteria are invalid.", problems) from None
    return parsed.model_dump(mode="json", exclude_none=True)["criteria"]


def _check_text(name: str, description: str) -> str:
    problems = []
    clean = name.strip() if isinstance(name, str) else ""
    if not clean or len(clean) > MAX_NAME or "\x00" in clean:
        problems.append(Problem("name", f"a name of 1 to {MAX_NAME} characters"))
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems.append(Problem("description", f"text of at most {MAX_DESCRIPTION} characters"))
    if problems:
        raise InvalidInput("The rubric is invalid.", problems)
    return clean


def create_rubric(
    session: Session,
    actor: Actor,
    *,
    name: str,
    criteria: Any,
    description: str = "",
    note: str = "",
) -> RubricView:
    """A new rubric with its version 1."""
    actor.require_org(Role.manager, "create rubrics")
    clean = _check_text(name, description)
    normalised = parse_criteria(criteria)
    taken = session.scalar(
        select(Rubric.id).where(
            Rubric.organization_id == actor.organization_id, Rubric.name == clean
        )
    )
    if taken is not None:
        raise Conflict(f"A rubric named '{clean}' exists already; add a version to it instead.")
    rubric = Rubric(
        organization_id=actor.organization_id,
        name=clean,
        description=description,
        latest_version=1,
        created_by_id=actor.user_id,
    )
    session.add(rubric)
    try:
        session.flush()
    except IntegrityError:  # created meanwhile by a concurrent request (unique name)
        raise Conflict(f"A rubric named '{clean}' exists already.") from None
    version = RubricVersion(
        rubric_id=rubric.id,
        version=1,
        criteria=normalised,
        note=note[:MAX_DESCRIPTION],
        created_by_id=actor.user_id,
    )
    session.add(version)
    _record(session, actor, "rubric.create", rubric, 1)
    session.flush()
    return RubricView(rubric, [version])


def add_version(
    session: Session, actor: Actor, rubric_id: int, *, criteria: Any, note: str = ""
) -> RubricVersion:
    """Store the criteria as the rubric's next version (earlier versions never change)."""
    actor.require_org(Role.manager, "change rubrics")
    rubric = _get(session, actor, rubric_id, lock=True)
    normalised = parse_criteria(criteria)
    rubric.latest_version += 1
    version = RubricVersion(
        rubric_id=rubric.id,
        version=rubric.latest_version,
        criteria=normalised,
        note=note[:MAX_DESCRIPTION],
        created_by_id=actor.user_id,
    )
    session.add(version)
    _record(session, actor, "rubric.version", rubric, rubric.latest_version)
    session.flush()
    return version


def _record(session: Session, actor: Actor, action: str, rubric: Rubric, version: int) -> None:
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action=action,
        object_type="rubric",
        object_id=rubric.id,
        details={"name": rubric.name, "version": version},
    )


def _get(session: Session, actor: Actor, rubric_id: int, *, lock: bool = False) -> Rubric:
    query = select(Rubric).where(
        Rubric.id == rubric_id, Rubric.organization_id == actor.organization_id
    )
    rubric = session.scalar(query.with_for_update() if lock else query)
    if rubric is None:
        raise NotFound(f"Rubric {rubric_id} does not exist.")
    return rubric


def get_rubric(session: Session, actor: Actor, rubric_id: int) -> RubricView:
    """The rubric with every version (organization owners and managers)."""
    actor.require_org(Role.manager, "read rubrics")
    rubric = _get(session, actor, rubric_id)
    versions = session.scalars(
        select(RubricVersion)
        .where(RubricVersion.rubric_id == rubric.id)
        .order_by(RubricVersion.version)
    )
    return RubricView(rubric, list(versions))


def find_rubric(session: Session, actor: Actor, ref: str) -> RubricView:
    """A rubric by id or exact name (for the CLI)."""
    actor.require_org(Role.manager, "read rubrics")
    if ref.isdigit():
        return get_rubric(session, actor, int(ref))
    rubric_id = session.scalar(
        select(Rubric.id).where(
            Rubric.organization_id == actor.organization_id, Rubric.name == ref.strip()
        )
    )
    if rubric_id is None:
        raise NotFound(f"No rubric is named '{ref}'.")
    return get_rubric(session, actor, rubric_id)


def list_rubrics(session: Session, actor: Actor) -> list[tuple[Rubric, int]]:
    """Every rubric of the organization, by name, with how many versions it has."""
    actor.require_org(Role.manager, "list rubrics")
    counts = (
        select(RubricVersion.rubric_id, func.count().label("n"))
        .group_by(RubricVersion.rubric_id)
        .subquery()
    )
    rows = session.execute(
        select(Rubric, counts.c.n)
        .join(counts, counts.c.rubric_id == Rubric.id)
        .where(Rubric.organization_id == actor.organization_id)
        .order_by(Rubric.name, Rubric.id)
    )
    return [(r, int(n)) for r, n in rows]


def resolve_schema(session: Session, organization_id: int, schema: LabelSchema) -> LabelSchema:
    """Copy into every ``rubric`` field the criteria of the rubric version it names.

    Called whenever a schema is saved: the reference must be a version of one of the
    organization's rubrics (another organization's is as unknown as a missing one); any
    criteria sent with the schema are replaced by the stored ones.
    """
    problems = []
    for i, f in enumerate(schema.fields):
        if not isinstance(f, RubricField):
            continue
        row = session.execute(
            select(Rubric.name, RubricVersion.criteria)
            .join(RubricVersion, RubricVersion.rubric_id == Rubric.id)
            .where(
                Rubric.id == f.rubric_id,
                Rubric.organization_id == organization_id,
                RubricVersion.version == f.version,
            )
        ).first()
        if row is None:
            problems.append(
                Problem(
                    f"fields[{i}].rubric_id",
                    f"field '{f.name}': this organization has no rubric {f.rubric_id} with a "
                    f"version {f.version}; see the Rubrics page for ids and versions",
                )
            )
            continue
        name, criteria = row
        checked = RubricField.model_validate(
            {**f.model_dump(exclude={"criteria", "rubric_name"}), "criteria": criteria}
        )
        f.criteria = checked.criteria
        f.rubric_name = name
    if problems:
        raise InvalidInput("The schema refers to unknown rubrics.", problems)
    return schema


def as_dict(view: RubricView) -> dict[str, Any]:
    """JSON shape shared by the API and the CLI."""
    r = view.rubric
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "latest_version": r.latest_version,
        "created_at": r.created_at.isoformat(),
        "versions": [version_dict(v) for v in view.versions],
    }


def version_dict(v: RubricVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "criteria": v.criteria,
        "note": v.note,
        "created_at": v.created_at.isoformat(),
    }
