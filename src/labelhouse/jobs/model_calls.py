"""Model calls as background jobs: asking an endpoint for predictions or candidates for
many tasks (``models_loop.calls``), with progress; and the calls a project's egress rule
asks for on import, for the tasks an import added: run in place by an import job and by
``labelhouse import`` (:func:`calls_on_import`), queued as jobs by an import in a web
request (:func:`queue_calls_on_import`). Both go through ``calls.prepare`` (the egress
policy, refusals audited) and ``calls.run`` (the ``models.call`` audit event)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import select

from labelhouse.accounts.policy import Actor
from labelhouse.config import Settings
from labelhouse.db.engine import Database
from labelhouse.errors import LabelhouseError, NotAuthenticated, PermissionDenied
from labelhouse.jobs.models import Job
from labelhouse.jobs.runner import JobRun
from labelhouse.jobs.service import Claimed, Result, create_job
from labelhouse.models_loop import calls
from labelhouse.models_loop.models import EgressRule, ModelEndpoint
from labelhouse.tasks.models import Task


def request_model_job(session: Any, actor: Actor, plan: calls.Plan) -> Job:
    """A queued job for a prepared (checked) plan; enqueue after the commit."""
    return create_job(
        session, actor, project_id=plan.project_id, kind="model", params=plan.params()
    )


def _requester(db: Database, job: Claimed) -> Actor:
    # Here, not at import: accounts.service loads argon2, which `labelhouse import` (it
    # imports this module for the on-import calls) otherwise never needs.
    from labelhouse.accounts import service as accounts

    with db.read_session() as s:
        try:  # as the person who asked, with their rights now
            if job.requested_by is None:
                raise NotAuthenticated("gone")
            return accounts.actor_for(
                s, user_id=job.requested_by, organization_id=job.organization_id
            )
        except NotAuthenticated:
            raise PermissionDenied(
                "The person who asked for these model calls is no longer in the organization."
            ) from None


def run_model_job(run: JobRun, *, settings: Settings) -> Result:
    job = run.job
    actor = _requester(run.db, job)
    params = job.params
    plan = calls.prepare(  # checked again: the policy may have changed since it was queued
        run.db,
        settings,
        actor,
        job.project_id,
        endpoint=int(params["endpoint_id"]),
        kind=params["kind"],
        task_ids=list(params["task_ids"]),
        fields=list(params["fields"]),
    )
    run.control.progress(0, len(plan.task_ids))
    outcome = calls.run(
        run.db,
        settings,
        plan,
        on_progress=lambda done, total: run.control.progress(done, total),
        job_id=job.id,
    )
    return Result("", "", "", 0, "", outcome=outcome.as_dict())


ImportProgress = Callable[[str, str, int, int], None]
"""``(endpoint name, kind, tasks done, tasks)`` as an on-import call runs."""


def _on_import_rules(db: Database, project_id: int, import_id: int) -> tuple[list[Any], list[int]]:
    """The project's rules that ask for calls on import (endpoint id, kind, endpoint name)
    and the import's task ids; neither when there is no such rule."""
    with db.read_session() as s:
        rules = list(
            s.execute(
                select(EgressRule.endpoint_id, EgressRule.on_import, ModelEndpoint.name)
                .join(ModelEndpoint, ModelEndpoint.id == EgressRule.endpoint_id)
                .where(EgressRule.project_id == project_id, EgressRule.on_import.is_not(None))
                .order_by(ModelEndpoint.name)
            )
        )
        if not rules:
            return [], []
        ids = list(
            s.scalars(
                select(Task.id)
                .where(Task.project_id == project_id, Task.import_id == import_id)
                .order_by(Task.id)
            )
        )
    return rules, ids


def queue_calls_on_import(
    db: Database, settings: Settings, actor: Actor, project_id: int, import_id: int
) -> list[dict[str, Any]]:
    """After an import in the request (the web import): a queued model job per egress rule
    that asks for calls on import, for the import's tasks; the caller enqueues each ``job``
    id. A refused call is reported (and audited), never failing the import."""
    rules, ids = _on_import_rules(db, project_id, import_id)
    out: list[dict[str, Any]] = []
    if not ids:
        return out
    for endpoint_id, kind, name in rules:
        try:
            plan = calls.prepare(
                db, settings, actor, project_id, endpoint=endpoint_id, kind=kind, task_ids=ids
            )
            with db.session() as s:
                out.append(
                    {
                        "endpoint_id": endpoint_id,
                        "kind": kind,
                        "job": request_model_job(s, actor, plan).id,
                    }
                )
        except LabelhouseError as exc:
            out.append(
                {"endpoint_id": endpoint_id, "endpoint": name, "kind": kind, "error": exc.message}
            )
    return out


def calls_on_import(
    db: Database,
    settings: Settings,
    actor: Actor,
    project_id: int,
    import_id: int,
    *,
    on_progress: ImportProgress | None = None,
) -> list[dict[str, Any]]:
    """Run the calls the project's egress rules ask for on import, for this import's tasks.
    A refused or failed call is reported in the outcome (with the endpoint's id, name and
    the kind); the import itself stands."""
    rules, ids = _on_import_rules(db, project_id, import_id)
    if not ids:
        return []
    out: list[dict[str, Any]] = []
    for endpoint_id, kind, name in rules:
        try:
            plan = calls.prepare(
                db, settings, actor, project_id, endpoint=endpoint_id, kind=kind, task_ids=ids
            )
            progress = None
            if on_progress is not None:
                on_progress(name, kind, 0, len(plan.task_ids))
                progress = partial(on_progress, name, kind)
            out.append(calls.run(db, settings, plan, on_progress=progress).as_dict())
        except LabelhouseError as exc:
            out.append(
                {"endpoint_id": endpoint_id, "endpoint": name, "kind": kind, "error": exc.message}
            )
    return out
