"""Models in the loop: an organization's model endpoints and egress policy (owners), and
asking an endpoint for predictions or candidates for a project's tasks (its managers).

A call of at most ``INLINE_TASKS`` tasks runs in the request and answers with its outcome;
a larger one is a background job (202, follow ``GET /api/jobs/{id}``). Either way the
egress policy is checked first, and a refusal is a 403 before anything is sent."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from labelhouse.jobs.model_calls import request_model_job
from labelhouse.models_loop import calls, endpoints, policy
from labelhouse.web.api.jobs import _enqueue, job_out
from labelhouse.web.api.serializers import json_response
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["model endpoints"])
INLINE_TASKS = 20


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    kind: Literal["openai", "http"] = "openai"
    url: str = Field(max_length=2000, description="base URL (openai) or the URL to POST to")
    model: str = Field(default="", max_length=200)
    version: str = Field(default="", max_length=100)
    temperature: float | None = None
    candidates: int = 2
    mapping: dict[str, Any] | None = Field(default=None, description="generic endpoints only")
    api_key: str | None = Field(default=None, max_length=4000, description="stored encrypted")


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(max_length=4000, description="the new key, stored encrypted")


class EgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: int | str
    project_id: int
    fields: list[str] = Field(max_length=100)
    on_import: Literal["predictions", "candidates", ""] | None = None


class PredictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: int | str
    kind: Literal["predictions", "candidates"] = "predictions"
    task_ids: list[int] | None = Field(
        default=None, max_length=calls.MAX_TASK_IDS, description="default: every task"
    )
    fields: list[str] | None = Field(default=None, max_length=100)


@router.get("/model-endpoints")
def list_endpoints(ctx: Ctx) -> Response:
    with ctx.read() as (s, actor):
        rows = [endpoints.endpoint_out(e) for e in endpoints.list_endpoints(s, actor)]
    return json_response({"endpoints": rows})


@router.post("/model-endpoints", status_code=201)
def add_endpoint(body: EndpointIn, ctx: Ctx) -> Response:
    with ctx.write() as (s, actor):
        e = endpoints.create_endpoint(s, actor, ctx.settings, **body.model_dump())
        out = endpoints.endpoint_out(e)
    return json_response(out, status_code=201)


@router.delete("/model-endpoints/{endpoint_id}", status_code=204)
def remove_endpoint(endpoint_id: Id, ctx: Ctx) -> Response:
    with ctx.write() as (s, actor):
        endpoints.remove_endpoint(s, actor, endpoint_id)
    return Response(status_code=204)


@router.put("/model-endpoints/{endpoint_id}/api-key")
def rotate_api_key(endpoint_id: Id, body: ApiKeyIn, ctx: Ctx) -> Response:
    """Replace the endpoint's API key (owners); the answer shows it only as "set (…wxyz)"."""
    with ctx.write() as (s, actor):
        e = endpoints.rotate_key(s, actor, ctx.settings, endpoint_id, body.api_key)
        out = endpoints.endpoint_out(e)
    return json_response(out)


@router.get("/model-egress")
def list_egress(ctx: Ctx) -> Response:
    with ctx.read() as (s, actor):
        rows = [policy.rule_out(r, e) for r, e in policy.list_rules(s, actor)]
    return json_response({"rules": rows})


@router.put("/model-egress")
def allow_egress(body: EgressIn, ctx: Ctx) -> Response:
    """Allow a project to send these task data fields to an endpoint (replacing what was
    allowed for the pair before)."""
    with ctx.write() as (s, actor):
        rule = policy.allow(
            s,
            actor,
            endpoint=body.endpoint,
            project_id=body.project_id,
            fields=body.fields,
            on_import=body.on_import,
        )
        target = endpoints.find_endpoint(s, actor.organization_id, rule.endpoint_id)
        out = policy.rule_out(rule, target)
    return json_response(out)


@router.delete("/model-egress/{rule_id}", status_code=204)
def revoke_egress(rule_id: Id, ctx: Ctx) -> Response:
    with ctx.write() as (s, actor):
        policy.revoke(s, actor, rule_id)
    return Response(status_code=204)


@router.get("/projects/{project_id}/models")
def project_models(project_id: Id, ctx: Ctx) -> Response:
    """The endpoints this project may call, with the fields it may send to each."""
    with ctx.read() as (s, actor):
        rows = [
            {**policy.rule_out(r, e), "model_version": endpoints.model_version(e), "kind": e.kind}
            for r, e in policy.list_rules(s, actor, project_id=project_id)
        ]
    return json_response({"endpoints": rows})


@router.post("/projects/{project_id}/models/predict")
async def predict(project_id: Id, body: PredictIn, ctx: Ctx) -> Response:
    """Ask an endpoint for predictions (stored under its model version) or candidate
    responses (filled into tasks whose responses are empty). Default: every task."""
    return await run_in_threadpool(_predict, ctx, project_id, body)


def _predict(ctx: Context, project_id: int, body: PredictIn) -> Response:
    with ctx.read() as (_s, actor):
        pass  # who is asking (authenticated here; the plan checks the rest)
    plan = calls.prepare(
        ctx.db,
        ctx.settings,
        actor,
        project_id,
        endpoint=body.endpoint,
        kind=body.kind,
        task_ids=body.task_ids,
        fields=body.fields,
    )
    if len(plan.task_ids) <= INLINE_TASKS:
        outcome = calls.run(ctx.db, ctx.settings, plan)
        data = outcome.as_dict()
        data["message"] = (
            f"{outcome.stored} of {outcome.tasks} tasks got {body.kind} from "
            f"{outcome.model_version}"
            + (f"; {len(outcome.failures)} failed" if outcome.failures else "")
            + "."
        )
        return json_response(data)
    with ctx.write() as (s, actor):
        job = request_model_job(s, actor, plan)
        out = job_out(job)
    _enqueue(ctx, job.id)
    out["message"] = (
        f"Asking the model about {len(plan.task_ids):,} tasks in the background (job {job.id})."
    )
    return json_response(out, status_code=202)
