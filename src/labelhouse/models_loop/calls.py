"""Asking a model endpoint for predictions or candidate responses for a project's tasks.

:func:`prepare` checks everything before any network I/O (the endpoint, the tasks, the
egress policy, the URL's form and address) and logs a refusal in the audit log;
:func:`run` makes the calls (a few at a time, each retried within bounds) and stores what
came back: predictions in the ``prediction`` table under the endpoint's model version
(with class probabilities in ``scores`` when an OpenAI-compatible answer carries token
log-probabilities, ``models_loop/logprobs.py``),
candidates into the task data's responses (marked ``generated``, with the model version),
then logs the call. A model answer that cannot be used fails that task only, with a
sentence naming it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.config import Settings
from labelhouse.db.engine import Database
from labelhouse.errors import FetchRefused, InvalidInput, NotFound, Problem
from labelhouse.kinds.registry import LabelSchema
from labelhouse.models_loop import answers, openai_compat, secrets
from labelhouse.models_loop.answers import TaskData
from labelhouse.models_loop.client import CallFailed, ModelClient
from labelhouse.models_loop.endpoints import find_endpoint, model_version
from labelhouse.models_loop.models import ModelEndpoint
from labelhouse.models_loop.policy import CALL_KINDS, EgressRefused, check
from labelhouse.projects.service import get_project, load_schema
from labelhouse.tasks.models import Prediction, Task
from labelhouse.tasks.queue_order import store_uncertainty

BATCH = 100
MAX_TASK_IDS = 100_000
AUDIT_IDS = 20  # up to this many task ids are listed in the audit event; else count + range
FAILURES_SHOWN = 20


@dataclass
class Plan:
    """A checked call, ready to run (plain data: it may go to a job's params)."""

    organization_id: int
    actor_id: int
    project_id: int
    endpoint_id: int
    kind: str
    fields: list[str]
    task_ids: list[int]

    def params(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "kind": self.kind,
            "fields": self.fields,
            "task_ids": self.task_ids,
        }


@dataclass
class Outcome:
    endpoint: str
    model_version: str
    kind: str
    tasks: int
    stored: int = 0
    skipped: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    duration_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model_version": self.model_version,
            "kind": self.kind,
            "tasks": self.tasks,
            "stored": self.stored,
            "skipped": self.skipped,
            "failed": len(self.failures),
            "failures": self.failures[:FAILURES_SHOWN],
            "statuses": dict(self.statuses),
            "duration_ms": self.duration_ms,
        }


def _fields_for(
    kind: str, schema: LabelSchema, endpoint: ModelEndpoint, fields: list[str] | None
) -> list[str]:
    if kind == "candidates":
        wanted = sorted({t.prompt for t in answers.targets(schema, endpoint)})
        if not wanted:
            raise InvalidInput(
                "This project has no pairwise or ranking field with a prompt, so there are no "
                "candidates to ask a model for.",
                [Problem("kind", "candidates need a pairwise or ranking field")],
            )
        return wanted
    return list(dict.fromkeys(fields)) if fields else sorted(schema.data_keys())


def _task_ids(session: Session, project_id: int, wanted: list[int] | None) -> list[int]:
    if wanted is None:
        return list(
            session.scalars(select(Task.id).where(Task.project_id == project_id).order_by(Task.id))
        )
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) > MAX_TASK_IDS:
        raise InvalidInput(f"Ask for at most {MAX_TASK_IDS:,} tasks at once.")
    found: set[int] = set()
    for i in range(0, len(wanted), 1000):
        found.update(
            session.scalars(
                select(Task.id).where(
                    Task.project_id == project_id, Task.id.in_(wanted[i : i + 1000])
                )
            )
        )
    missing = [t for t in wanted if t not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + ("…" if len(missing) > 10 else "")
        raise NotFound(f"No such task in this project: {shown}.")
    return wanted


def tasks_summary(task_ids: list[int]) -> dict[str, Any]:
    """Which tasks, for the audit log: their ids when few, else count and id range."""
    out: dict[str, Any] = {"count": len(task_ids)}
    if task_ids:
        out["first"], out["last"] = min(task_ids), max(task_ids)
    if len(task_ids) <= AUDIT_IDS:
        out["ids"] = sorted(task_ids)
    return out


def prepare(
    db: Database,
    settings: Settings,
    actor: Actor,
    project_id: int,
    *,
    endpoint: int | str,
    kind: str = "predictions",
    task_ids: list[int] | None = None,
    fields: list[str] | None = None,
) -> Plan:
    """Check a call completely before anything is sent; a refusal by the egress policy or
    the address policy is logged in the audit log (in its own transaction) and raised."""
    if kind not in CALL_KINDS:
        raise InvalidInput(
            f"kind is one of {', '.join(CALL_KINDS)}.", [Problem("kind", f"unknown: {kind!r}")]
        )
    with db.read_session() as s:
        project = get_project(s, actor, project_id)
        actor.in_project(project_id).require(Role.manager, "ask models for predictions")
        target = find_endpoint(s, actor.organization_id, endpoint)
        schema = load_schema(s, project)
        sent = _fields_for(kind, schema, target, fields)
        ids = _task_ids(s, project_id, task_ids)
        details = {
            "endpoint": target.name,
            "endpoint_id": target.id,
            "kind": kind,
            "fields": sent,
            "tasks": tasks_summary(ids),
        }
        refusal = _refusal(s, settings, target, project, sent)
        plan = Plan(actor.organization_id, actor.user_id, project_id, target.id, kind, sent, ids)
    if refusal is not None:
        with db.session() as s:
            audit.record(
                s,
                organization_id=actor.organization_id,
                actor_id=actor.user_id,
                action="models.call_refused",
                object_type="project",
                object_id=project_id,
                details={**details, "reason": str(refusal)},
            )
        if isinstance(refusal, FetchRefused):
            raise EgressRefused(
                f"Endpoint '{details['endpoint']}' cannot be called: {refusal.reason}. The "
                "server's operator can allow a private address with LABELHOUSE_MODELS_ALLOW "
                "(docs/models.md)."
            )
        raise refusal
    return plan


def _refusal(
    session: Session, settings: Settings, endpoint: ModelEndpoint, project: Any, fields: list[str]
) -> EgressRefused | FetchRefused | None:
    """Why this call may not be made (egress policy, then the URL's address), or None."""
    try:
        check(session, endpoint, project, fields)
        client = ModelClient(settings)
        try:
            client.check_url(
                openai_compat.chat_url(endpoint) if endpoint.kind == "openai" else endpoint.url
            )
        finally:
            client.close()
    except (EgressRefused, FetchRefused) as exc:
        return exc
    return None


def run(
    db: Database,
    settings: Settings,
    plan: Plan,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    job_id: int | None = None,
    client: ModelClient | None = None,
) -> Outcome:
    """Make the calls of a prepared plan and store the results; logs the call (who, which
    tasks and fields, which endpoint, statuses, duration) in the audit log."""
    started = time.monotonic()
    with db.read_session() as s:
        endpoint = find_endpoint(s, plan.organization_id, plan.endpoint_id)
        project = get_project(
            s, Actor(plan.actor_id, plan.organization_id, Role.owner), plan.project_id
        )
        schema = load_schema(s, project)
        check(s, endpoint, project, plan.fields)  # the policy may have changed since
        api_key = (
            secrets.decrypt(settings, endpoint.secret, endpoint.name) if endpoint.secret else None
        )
        s.expunge(endpoint)
    version = model_version(endpoint)
    outcome = Outcome(endpoint.name, version, plan.kind, len(plan.task_ids))
    fields_targets = answers.targets(schema, endpoint)
    asking = answers.Logprobs.for_schema(schema)
    own_client = client is None
    client = client or ModelClient(settings)
    done = 0
    try:
        with ThreadPoolExecutor(max_workers=settings.models_concurrency) as pool:
            for start in range(0, len(plan.task_ids), BATCH):
                batch = plan.task_ids[start : start + BATCH]
                with db.read_session() as s:
                    rows = s.execute(
                        select(Task.id, Task.data).where(
                            Task.project_id == plan.project_id, Task.id.in_(batch)
                        )
                    ).all()
                jobs = [TaskData(r.id, r.data) for r in rows]

                def one(job: TaskData) -> tuple[TaskData, Any, int | None, str | None]:
                    try:
                        if plan.kind == "predictions":
                            result, status = answers.predict(
                                client, endpoint, api_key, schema, plan.fields, job, asking
                            )
                        else:
                            result, status = answers.candidates(
                                client, endpoint, api_key, fields_targets, job
                            )
                        return job, result, status, None
                    except CallFailed as exc:
                        return job, None, exc.status, str(exc)
                    except ValueError as exc:
                        return job, None, 200, str(exc)

                results = []
                for job, result, status, error in pool.map(one, jobs):
                    if status:
                        outcome.statuses[str(status)] += 1
                    if error is not None:
                        outcome.failures.append(
                            {"task_id": job.task_id, "error": f"Task {job.task_id}: {error}."}
                        )
                    else:
                        results.append((job, result))
                    done += 1
                    if on_progress:
                        on_progress(done, len(plan.task_ids))
                with db.session() as s:
                    _store(s, plan, version, results, outcome)
    finally:
        if own_client:
            client.close()
        outcome.duration_ms = round((time.monotonic() - started) * 1000)
        with db.session() as s:
            audit.record(
                s,
                organization_id=plan.organization_id,
                actor_id=plan.actor_id,
                action="models.call",
                object_type="project",
                object_id=plan.project_id,
                details={
                    "endpoint": endpoint.name,
                    "endpoint_id": endpoint.id,
                    "host": httpx.URL(endpoint.url).host,
                    "kind": plan.kind,
                    "model_version": version,
                    "fields": plan.fields,
                    "tasks": tasks_summary(plan.task_ids),
                    "done": done,
                    "stored": outcome.stored,
                    "failed": len(outcome.failures),
                    "statuses": dict(outcome.statuses),
                    "duration_ms": outcome.duration_ms,
                    "job": job_id,
                },
            )
    return outcome


def _store(
    session: Session,
    plan: Plan,
    version: str,
    results: list[tuple[TaskData, Any]],
    outcome: Outcome,
) -> None:
    if plan.kind == "predictions":
        ids = [job.task_id for job, _ in results]
        if ids:  # a new answer of the same model version replaces the old one
            session.execute(
                delete(Prediction).where(
                    Prediction.task_id.in_(ids), Prediction.model_version == version
                )
            )
        for job, (value, score, scores) in results:
            session.add(
                Prediction(
                    project_id=plan.project_id,
                    task_id=job.task_id,
                    model_version=version,
                    score=score,
                    scores=scores,
                    value=value,
                )
            )
            outcome.stored += 1
        if ids:  # a project ordered by uncertainty serves these tasks in their new place
            session.flush()
            store_uncertainty(session, ids)
        return
    for job, by_key in results:
        if not by_key:
            outcome.skipped += 1
            continue
        task = session.get(Task, job.task_id, with_for_update=True)
        if task is None:
            continue
        data = dict(task.data)
        filled = False
        for key, texts in by_key.items():
            if data.get(key):  # filled meanwhile by someone else: theirs stays
                continue
            data[key] = [{"text": t, "model": version, "generated": True} for t in texts]
            filled = True
        if filled:
            task.data = data
            outcome.stored += 1
        else:
            outcome.skipped += 1
