"""The egress policy: which project may send which task data fields to which endpoint.

An allow-list kept by the organization's owners (endpoint × project × fields); without a
rule nothing leaves. :func:`check` runs before any network I/O and refuses with one
sentence naming what is not allowed and who can change it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import InvalidInput, NotFound, PermissionDenied, Problem
from labelhouse.models_loop.endpoints import find_endpoint
from labelhouse.models_loop.models import EgressRule, ModelEndpoint
from labelhouse.projects.models import Project

CALL_KINDS = ("predictions", "candidates")
MAX_FIELDS = 100


class EgressRefused(PermissionDenied):
    """A call the egress policy does not allow; nothing was sent."""

    code = "egress_refused"


def _project(session: Session, organization_id: int, project_id: int) -> Project:
    project = session.scalar(
        select(Project).where(Project.id == project_id, Project.organization_id == organization_id)
    )
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    return project


def _clean_fields(fields: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for i, f in enumerate(fields):
        if not isinstance(f, str) or not f.strip() or len(f) > 200:
            raise InvalidInput(
                "Each allowed field is the name of a task data key (a non-empty string).",
                [Problem(f"fields[{i}]", "expected a task data key such as 'text'")],
            )
        out.append(f.strip())
    out = list(dict.fromkeys(out))
    if not out or len(out) > MAX_FIELDS:
        raise InvalidInput(
            f"List between 1 and {MAX_FIELDS} task data fields the project may send "
            "(remove the rule to allow none).",
            [Problem("fields", "empty" if not out else "too many")],
        )
    return out


def allow(
    session: Session,
    actor: Actor,
    *,
    endpoint: int | str,
    project_id: int,
    fields: Iterable[Any],
    on_import: str | None = None,
) -> EgressRule:
    """Allow (or change what is allowed for) one project × endpoint: owners only."""
    actor.require_org(Role.owner, "change the egress policy for models")
    target = find_endpoint(session, actor.organization_id, endpoint)
    project = _project(session, actor.organization_id, project_id)
    clean = _clean_fields(fields)
    if on_import not in (None, "", *CALL_KINDS):
        raise InvalidInput(
            f"on_import is one of {', '.join(CALL_KINDS)}, or empty for none.",
            [Problem("on_import", f"unknown: {on_import!r}")],
        )
    rule = session.scalar(
        select(EgressRule).where(
            EgressRule.endpoint_id == target.id, EgressRule.project_id == project.id
        )
    )
    if rule is None:
        rule = EgressRule(
            organization_id=actor.organization_id,
            endpoint_id=target.id,
            project_id=project.id,
            created_by=actor.user_id,
        )
        session.add(rule)
    rule.fields = clean
    rule.on_import = on_import or None
    session.flush()
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="models.egress_allowed",
        object_type="project",
        object_id=project.id,
        details={"endpoint": target.name, "fields": clean, "on_import": rule.on_import},
    )
    return rule


def revoke(session: Session, actor: Actor, rule_id: int) -> None:
    actor.require_org(Role.owner, "change the egress policy for models")
    rule = session.scalar(
        select(EgressRule).where(
            EgressRule.id == rule_id, EgressRule.organization_id == actor.organization_id
        )
    )
    if rule is None:
        raise NotFound(f"Egress rule {rule_id} does not exist.")
    session.delete(rule)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="models.egress_revoked",
        object_type="project",
        object_id=rule.project_id,
        details={"endpoint_id": rule.endpoint_id, "fields": rule.fields},
    )


def list_rules(
    session: Session, actor: Actor, *, project_id: int | None = None
) -> list[tuple[EgressRule, ModelEndpoint]]:
    """The allow-list: the whole organization's for owners; one project's for whoever
    manages it (they choose among the endpoints allowed to them)."""
    where = [EgressRule.organization_id == actor.organization_id]
    if project_id is None:
        actor.require_org(Role.owner, "see the egress policy for models")
    else:
        _project(session, actor.organization_id, project_id)
        actor.in_project(project_id).require(Role.manager, "use models")
        where.append(EgressRule.project_id == project_id)
    return [
        (rule, endpoint)
        for rule, endpoint in session.execute(
            select(EgressRule, ModelEndpoint)
            .join(ModelEndpoint, ModelEndpoint.id == EgressRule.endpoint_id)
            .where(*where)
            .order_by(ModelEndpoint.name, EgressRule.project_id)
        )
    ]


def rule_out(rule: EgressRule, endpoint: ModelEndpoint) -> dict[str, Any]:
    return {
        "id": rule.id,
        "endpoint_id": endpoint.id,
        "endpoint": endpoint.name,
        "project_id": rule.project_id,
        "fields": list(rule.fields),
        "on_import": rule.on_import,
    }


def check(
    session: Session, endpoint: ModelEndpoint, project: Project, fields: Iterable[str]
) -> EgressRule:
    """The rule that allows sending ``fields`` of ``project``'s tasks to ``endpoint``, or
    :class:`EgressRefused` — before anything is sent."""
    rule = session.scalar(
        select(EgressRule).where(
            EgressRule.endpoint_id == endpoint.id,
            EgressRule.project_id == project.id,
            EgressRule.organization_id == project.organization_id,
        )
    )
    if rule is None:
        raise EgressRefused(
            f"Project '{project.name}' may not send anything to endpoint '{endpoint.name}': "
            "the egress policy has no rule for them. An organization owner can allow it "
            "(docs/models.md)."
        )
    denied = [f for f in fields if f not in rule.fields]
    if denied:
        listed = ", ".join(f"'{f}'" for f in denied)
        allowed = ", ".join(f"'{f}'" for f in rule.fields)
        raise EgressRefused(
            f"Project '{project.name}' may not send field{'s' if len(denied) > 1 else ''} "
            f"{listed} to endpoint '{endpoint.name}': the egress policy allows only {allowed}. "
            "An organization owner can change it (docs/models.md)."
        )
    return rule
