"""Workforces (staff and vendor teams) and routing a project's work to them (JSON API).

Marking teams and ending contracts: organization owners and managers. Routing, moving and
seeing how work is routed: project managers (and organization owners and managers).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field, model_validator

from labelhouse.people import workforces
from labelhouse.tasks import routing
from labelhouse.web.api.people import workforce_out
from labelhouse.web.api.schemas import Body
from labelhouse.web.deps import Ctx
from labelhouse.web.params import ID_MAX, Id

router = APIRouter(prefix="/api", tags=["workforces"])


class WorkforceIn(Body):
    """Only the fields sent change."""

    kind: Literal["group", "staff", "vendor"] | None = Field(
        default=None, description="group (a plain team), staff (the lab's own) or vendor"
    )
    contact: str | None = Field(default=None, max_length=500)
    price_per_task: float | None = Field(default=None, ge=0, le=1e9)
    price_per_hour: float | None = Field(default=None, ge=0, le=1e9)
    currency: str | None = Field(default=None, max_length=3, description="e.g. USD, EUR")


@router.put("/teams/{team_id}/workforce")
def set_workforce(team_id: Id, body: WorkforceIn, ctx: Ctx) -> dict[str, Any]:
    """Mark a team as the lab's staff or an outside vendor (or a plain team again), with its
    contact, prices and currency. A person is in at most one workforce; a vendor's people
    are never organization managers and work as annotators in projects."""
    sent = {k: getattr(body, k) for k in body.model_fields_set}
    if "kind" in sent and sent["kind"] is None:
        del sent["kind"]
    with ctx.write() as (s, actor):
        team = workforces.update_workforce(s, actor, team_id, **sent)
        out = {"id": team.id, "name": team.name, **workforce_out(team)}
    ctx.forget_identities()
    return out


@router.post("/teams/{team_id}/end-contract")
def end_contract(team_id: Id, ctx: Ctx) -> dict[str, Any]:
    """End a vendor's contract: all its people are deactivated at once (sessions, tokens
    and leases end; their work stays attributed) and nothing more is routed to it."""
    with ctx.write() as (s, actor):
        ended = workforces.end_contract(s, actor, team_id)
    ctx.forget_identities()
    n = len(ended.deactivated)
    message = f"Contract ended: {n} {'person' if n == 1 else 'people'} deactivated"
    message += f", {ended.leases_ended} leases ended." if ended.leases_ended else "."
    if ended.open_slots:
        message += (
            f" {ended.open_slots} routed annotations it had not started are still routed to it:"
            " move them to another workforce on each project's Routing settings."
        )
    return {
        "deactivated": ended.deactivated,
        "already_inactive": ended.already_inactive,
        "leases_ended": ended.leases_ended,
        "tokens_revoked": ended.tokens_revoked,
        "open_slots": ended.open_slots,
        "message": message,
    }


# -- routing -------------------------------------------------------------------------------


class TasksIn(Body):
    """Which tasks: by default the unstarted tasks routed to nobody yet. Narrow to one
    import, a list of ids, or a task-data key with a value; ``every_unstarted`` re-routes
    every unstarted task. Started tasks (leased or submitted) are never moved."""

    import_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    ids: list[int] | None = Field(default=None, min_length=1, max_length=routing.MAX_IDS)
    key: str | None = Field(default=None, min_length=1, max_length=200)
    equals: str | None = Field(default=None, max_length=2000)
    every_unstarted: bool = False

    @model_validator(mode="after")
    def _key_and_value(self) -> TasksIn:
        if (self.key is None) != (self.equals is None):
            raise ValueError("give 'key' and 'equals' together")
        return self

    def selection(self) -> routing.Selection:
        return routing.Selection(
            import_id=self.import_id,
            task_ids=tuple(self.ids) if self.ids is not None else None,
            data_key=self.key,
            data_value=self.equals,
            every_unstarted=self.every_unstarted,
        )


class SlotIn(Body):
    id: int = Field(ge=1, le=ID_MAX, description="the workforce (team) id")
    share: float | None = Field(default=None, gt=0, le=1e6, description="mode share")
    quota: int | None = Field(default=None, ge=1, le=100, description="mode each")


class RouteIn(Body):
    mode: Literal["share", "each"] = Field(
        description="share: each task whole to one workforce, by share; each: every task to "
        "every listed workforce, `quota` annotations from each (adding up to the overlap)"
    )
    workforces: list[SlotIn] = Field(min_length=1, max_length=routing.MAX_WORKFORCES)
    tasks: TasksIn = Field(default_factory=TasksIn)
    remember: bool = Field(
        default=False, description="also route every task imported from now on this way"
    )


class MoveIn(Body):
    from_workforce: int = Field(ge=1, le=ID_MAX)
    to_workforce: int = Field(ge=1, le=ID_MAX)


class UnrouteIn(Body):
    tasks: TasksIn = Field(default_factory=TasksIn)
    forget_rule: bool = Field(default=False, description="also stop routing new imports")


@router.get("/projects/{project_id}/routing")
def get_routing(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Per workforce of the project: tasks routed, annotation slots, slots taken and open;
    tasks routed to nobody; the rule applied to new imports."""
    with ctx.read() as (s, actor):
        return routing.routing_summary(s, actor, project_id).as_dict()


@router.post("/projects/{project_id}/routing")
def route(project_id: Id, body: RouteIn, ctx: Ctx) -> dict[str, Any]:
    """Route unstarted tasks to workforces (replacing their routes); see ``mode``."""
    slots = [routing.Slot(w.id, share=w.share or 0.0, quota=w.quota or 0) for w in body.workforces]
    with ctx.write() as (s, actor):
        result = routing.route_tasks(
            s,
            actor,
            project_id,
            mode=body.mode,
            slots=slots,
            selection=body.tasks.selection(),
            remember=body.remember,
        )
        summary = routing.routing_summary(s, actor, project_id)
        names = {w.id: w.name for w in summary.workforces}
        out = result.as_dict(names)
        out["routing"] = summary.as_dict()
    return out


@router.post("/projects/{project_id}/routing/move")
def move(project_id: Id, body: MoveIn, ctx: Ctx) -> dict[str, Any]:
    """Give every annotation slot one workforce has not started to another (work done or
    leased stays where it is)."""
    with ctx.write() as (s, actor):
        moved = routing.move_work(
            s, actor, project_id, from_id=body.from_workforce, to_id=body.to_workforce
        )
        summary = routing.routing_summary(s, actor, project_id).as_dict()
    return {"moved_slots": moved, "routing": summary}


@router.post("/projects/{project_id}/routing/unroute")
def unroute(project_id: Id, ctx: Ctx, body: UnrouteIn | None = None) -> dict[str, Any]:
    """Take unstarted tasks out of routing (lab people outside vendors may then get them)."""
    body = body or UnrouteIn()
    with ctx.write() as (s, actor):
        removed = routing.unroute_tasks(s, actor, project_id, body.tasks.selection())
        if body.forget_rule:
            routing.forget_rule(s, actor, project_id)
        summary = routing.routing_summary(s, actor, project_id).as_dict()
    return {"unrouted_tasks": removed, "routing": summary}
