"""A project's outside policy (what vendor workforces are shown of task data): reading and
changing it, preparing it for a vendor's serving, and tracing a canary marker found in
leaked text back to the serving that carried it.

The lab's own people never pass through here: :func:`serving_for` returns None unless the
actor works for a vendor, so their payloads (and exports, the task browser, review and
quality pages) are the task data as imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role, Team, User
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, NotFound
from labelhouse.kinds.registry import LabelSchema
from labelhouse.kinds.spans import SpansField
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project
from labelhouse.tasks.canary import encode_marker, find_markers
from labelhouse.tasks.models import Assignment
from labelhouse.tasks.outside_view import (
    CompiledPolicy,
    OutsidePolicy,
    compile_policy,
    outside_view,
    parse_policy,
)

MAX_TRACED = 1000  # distinct markers looked up per trace
_compiled: dict[tuple[int, bytes], CompiledPolicy] = {}


def _stored(session: Session, organization_id: int, project_id: int) -> Any:
    row = session.execute(
        select(Project.outside_policy).where(
            Project.id == project_id, Project.organization_id == organization_id
        )
    ).first()
    if row is None:
        raise NotFound(f"Project {project_id} does not exist.")
    return row[0]


def get_policy(session: Session, actor: Actor, project_id: int) -> OutsidePolicy:
    """The project's outside policy, with its defaults (nothing hidden, no canary)."""
    actor.in_project(project_id).require(Role.manager, "see what vendors are shown")
    return _compile(project_id, _stored(session, actor.organization_id, project_id)).policy


def set_policy(session: Session, actor: Actor, project_id: int, raw: Any) -> OutsidePolicy:
    """Validate and store a new policy (the empty policy is stored as none)."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "change what vendors are shown")
    policy = parse_policy(raw)
    project = get_project(session, actor, project_id, lock=True)
    project.outside_policy = None if policy.is_empty else policy.as_json()
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="project.outside_policy",
        object_type="project",
        object_id=project.id,
        details=policy.as_json(),
    )
    return policy


def _compile(project_id: int, raw: Any) -> CompiledPolicy:
    """A stored policy, parsed and compiled once per (project, policy JSON): parsing times
    custom patterns, which has no place on every /next."""
    key = (project_id, orjson.dumps(raw, option=orjson.OPT_SORT_KEYS))
    hit = _compiled.get(key)
    if hit is None:
        try:
            hit = compile_policy(parse_policy(raw))
        except InvalidInput:  # edited outside the API: serve nothing rather than too much
            raise Conflict(
                "This project's outside policy is invalid, so no task is shown to outside "
                "workforces; a project manager must save it again."
            ) from None
        if len(_compiled) > 256:
            _compiled.clear()
        _compiled[key] = hit
    return hit


def hidden_keys_only(
    session: Session, organization_id: int, project_id: int
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The project's hidden-key removal alone (no redaction, no marker), or None when it
    hides nothing: what decides whether a vendor may fetch a file a task names."""
    policy = _compile(project_id, _stored(session, organization_id, project_id)).policy
    if not policy.hidden_keys:
        return None
    only_hidden = compile_policy(replace(policy, redact=(), canary=False))
    return lambda data: outside_view(data, only_hidden, marker=None)


# -- serving a vendor ----------------------------------------------------------------------


@dataclass(frozen=True)
class OutsideServing:
    """The policy as one vendor person is served it: ``markers`` maps task ids to the
    canary marker of the person's lease on each (empty when the canary is off)."""

    policy: CompiledPolicy
    keep_length: frozenset[str]
    markers: Mapping[int, str] = field(default_factory=dict)

    @property
    def hides_data(self) -> bool:
        return self.policy.policy.changes_data

    def data(self, task_id: int, data: dict[str, Any]) -> dict[str, Any]:
        marker = self.markers.get(task_id)
        return outside_view(data, self.policy, marker=marker, keep_length=self.keep_length)

    def prediction(self, value: Any) -> Any:
        """A prediction's value: hidden keys and redaction, no marker."""
        return self.policy.walk(value, self.policy.hidden, None)

    def answer(self, value: Any) -> Any:
        """The person's own answer: redacted only (a spans answer carries the text it marks,
        taken from the original task)."""
        return self.policy.walk(value, None, None)

    def text(self, value: str | None) -> str | None:
        return None if value is None else self.policy.text(value)


def keep_length_keys(schema: LabelSchema) -> frozenset[str]:
    """Task data keys whose text must keep its length for a vendor: media file names, and
    the texts spans are marked in (answers are character offsets into them).

    The spans test belongs in the field-kind protocol (e.g. ``FieldKind.offset_keys()``);
    it is here until the kinds grow that hook."""
    return frozenset(
        key
        for f in schema.fields
        for key in (*f.media_keys(), *(f.data_keys() if isinstance(f, SpansField) else ()))
    )


def serving_for(
    session: Session,
    actor: Actor,
    project_id: int,
    schema: LabelSchema,
    *,
    task_ids: Iterable[int] = (),
    leases: Mapping[int, int] | None = None,
) -> OutsideServing | None:
    """How to show a vendor's person task data of a project; None for the lab's people and
    for a project without a policy (the data goes out as it is).

    ``leases`` (task id → assignment id) when the caller has them (``/next``); otherwise
    the person's assignments on ``task_ids`` are looked up for the canary."""
    if not actor.vendor:
        return None
    compiled = _compile(project_id, _stored(session, actor.organization_id, project_id))
    if compiled.policy.is_empty:
        return None
    markers: dict[int, str] = {}
    if compiled.policy.canary:
        if leases is None:
            ids = list(task_ids)
            found = (
                session.execute(
                    select(Assignment.task_id, Assignment.id).where(
                        Assignment.user_id == actor.user_id, Assignment.task_id.in_(ids)
                    )
                ).all()
                if ids
                else []
            )
            leases = {task_id: lease_id for task_id, lease_id in found}
        markers = {task_id: encode_marker(lease_id) for task_id, lease_id in leases.items()}
    return OutsideServing(compiled, keep_length_keys(schema), markers)


# -- tracing a leak ------------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """One marker found in leaked text; ``found`` False when it names no serving of the
    organization (another organization's markers are reported the same way)."""

    lease_id: int
    found: bool
    workforce: str | None = None
    email: str | None = None
    project_id: int | None = None
    project: str | None = None
    task_id: int | None = None
    served_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        if not self.found:
            return {"lease_id": self.lease_id, "found": False}
        return {
            "lease_id": self.lease_id,
            "found": True,
            "workforce": self.workforce,
            "email": self.email,
            "project_id": self.project_id,
            "project": self.project,
            "task_id": self.task_id,
            "served_at": self.served_at,
        }


@dataclass(frozen=True)
class TraceResult:
    traces: list[Trace]
    more: int  # distinct markers past MAX_TRACED, not looked up


def trace_markers(session: Session, text: str, *, organization_id: int | None) -> TraceResult:
    """Every marker in ``text`` with the serving it names: workforce, person, project, task
    and when it was served. ``organization_id`` None (the server's own CLI): any."""
    ids = find_markers(text)
    ids, more = ids[:MAX_TRACED], max(0, len(ids) - MAX_TRACED)
    query = (
        select(
            Assignment.id,
            Team.name,
            User.email,
            Project.id,
            Project.name,
            Assignment.task_id,
            Assignment.leased_at,
        )
        .join(Project, Project.id == Assignment.project_id)
        .join(User, User.id == Assignment.user_id)
        .outerjoin(
            Team,
            (Team.id == Assignment.workforce_id)
            & (Team.organization_id == Project.organization_id),
        )
        .where(Assignment.id.in_(ids))
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    rows = {row[0]: row for row in session.execute(query)} if ids else {}
    traces = [
        Trace(i, True, *rows[i][1:]) if i in rows else Trace(i, False)  # type: ignore[arg-type]
        for i in ids
    ]
    return TraceResult(traces, more)


def trace(session: Session, actor: Actor, text: str) -> TraceResult:
    """:func:`trace_markers` for an organization owner or manager, within their
    organization; recorded in the audit log (it names people)."""
    actor.require_org(Role.manager, "trace leaked text")
    result = trace_markers(session, text, organization_id=actor.organization_id)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="outside.trace",
        object_type="organization",
        object_id=actor.organization_id,
        details={
            "markers": len(result.traces) + result.more,
            "found": [t.lease_id for t in result.traces if t.found],
        },
    )
    return result
