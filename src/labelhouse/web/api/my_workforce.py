"""A workforce manager's own workforce (JSON API): its people, invitations into it, its
projects and its people's work. Everything is scoped to the caller's own workforce; anyone
else gets 403. The lab names workforce managers with PUT /api/teams/{id}/managers/{user}.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from labelhouse.people import my_workforce, project_members
from labelhouse.web.api.exports import stream_export
from labelhouse.web.api.people import _ended_out, _invitation_out
from labelhouse.web.api.schemas import Body
from labelhouse.web.deps import Ctx
from labelhouse.web.params import ID_MAX, Id

router = APIRouter(prefix="/api", tags=["workforces"])


class InviteIn(Body):
    emails: list[str] = Field(min_length=1, max_length=my_workforce.MAX_INVITES)


class ManagerIn(Body):
    manager: bool = True


@router.get("/workforce")
def my_view(ctx: Ctx) -> dict[str, Any]:
    """Your workforce: its people (with activity), its projects with the work routed to it,
    and pending invitations (workforce managers)."""
    with ctx.read() as (s, actor):
        v = my_workforce.view(s, actor)
        return {
            "id": v.id,
            "name": v.name,
            "kind": v.kind,
            "people": [
                {
                    "user_id": p.user_id,
                    "email": p.email,
                    "name": p.name,
                    "active": p.active,
                    "manager": p.manager,
                    "last_active": p.last_active,
                    "annotations_last_7_days": p.recent_annotations,
                }
                for p in v.people
            ],
            "projects": [
                {
                    "id": p.id,
                    "name": p.name,
                    "routed_tasks": p.routed_tasks,
                    "slots": p.slots,
                    "taken": p.taken,
                    "open_slots": p.slots - p.taken,
                    "submitted": p.submitted,
                }
                for p in v.projects
            ],
            "pending_invitations": [_invitation_out(i) for i in v.pending_invitations],
        }


@router.post("/workforce/invitations", status_code=201)
def invite(body: InviteIn, ctx: Ctx) -> dict[str, Any]:
    """Invite people as annotators of your workforce (all or nothing); each answer holds the
    link's token, shown once."""
    with ctx.write() as (s, actor):
        made = my_workforce.invite(s, actor, emails=body.emails)
        return {"items": [_invitation_out(row, secret) for row, secret in made]}


@router.post("/workforce/people/{user_id}/deactivate")
def deactivate(user_id: Id, ctx: Ctx) -> dict[str, Any]:
    """End one of your annotators' access at once (sessions, tokens, leases); their work
    stays attributed."""
    with ctx.write() as (s, actor):
        ended = my_workforce.deactivate(s, actor, user_id=user_id)
        out = _ended_out(ended, "Deactivated.")
    ctx.forget_identities()
    return out


@router.post("/workforce/people/{user_id}/reactivate")
def reactivate(user_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        my_workforce.reactivate(s, actor, user_id=user_id)
    ctx.forget_identities()
    return {"user_id": user_id, "active": True}


@router.get("/workforce/projects/{project_id}")
def project_work(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Your people's work in one of your projects: submissions and their gold scores."""
    with ctx.read() as (s, actor):
        rows = my_workforce.project_work(s, actor, project_id)
    return {
        "items": [
            {
                "user_id": w.user_id,
                "email": w.email,
                "submitted": w.submitted,
                "last_submitted": w.last_submitted,
                "gold_answers": w.gold_answers,
                "gold_checked": w.gold_checked,
                "gold_accuracy": w.gold_accuracy,
            }
            for w in rows
        ]
    }


@router.get("/workforce/projects/{project_id}/export")
def export_slice(
    project_id: Id,
    ctx: Ctx,
    format: str = Query(default="jsonl", description="jsonl, json or csv"),
    csv_formulas: str = Query(default="escape", description="CSV only: escape or keep"),
) -> StreamingResponse:
    """Your workforce's own slice of a project, when the lab granted it: the tasks routed
    to it and your people's submitted annotations, as your people are shown them (no other
    workforce's work, review, predictions or consensus). Streamed."""
    with ctx.write() as (s, actor):
        plan = my_workforce.plan_slice_export(
            s, actor, project_id, format_name=format, csv_formulas=csv_formulas
        )
    return stream_export(ctx, plan, actor)


@router.get("/workforce/projects/{project_id}/tasks")
def routed_tasks(
    project_id: Id,
    ctx: Ctx,
    cursor: int = Query(default=0, ge=0, le=ID_MAX, description="after this task id"),
    limit: int = Query(default=100, ge=1, le=my_workforce.MAX_PAGE),
) -> dict[str, Any]:
    """The tasks routed to your workforce in one of its projects: your quota and slots taken
    on each, and which of your people submitted it (no task data; nothing of others)."""
    with ctx.read() as (s, actor):
        rows = my_workforce.routed_tasks(s, actor, project_id, after_id=cursor, limit=limit)
    return {
        "items": [
            {
                "task_id": r.task_id,
                "quota": r.quota,
                "taken": r.taken,
                "submitted_by": r.submitted_by,
            }
            for r in rows
        ],
        "next_cursor": rows[-1].task_id if len(rows) == limit else None,
    }


class ReviewerIn(Body):
    reviewer: bool = True


@router.put("/workforce/projects/{project_id}/reviewers/{user_id}")
def set_reviewer(project_id: Id, user_id: Id, body: ReviewerIn, ctx: Ctx) -> dict[str, Any]:
    """Make one of your people a reviewer of your workforce's work in one of its projects
    (``reviewer: false``: an annotator again)."""
    with ctx.write() as (s, actor):
        my_workforce.set_reviewer(s, actor, project_id, user_id=user_id, reviewer=body.reviewer)
    ctx.forget_identities()
    return {"project_id": project_id, "user_id": user_id, "reviewer": body.reviewer}


class ExportGrantIn(Body):
    allowed: bool


@router.put("/projects/{project_id}/teams/{team_id}/export")
def grant_export(project_id: Id, team_id: Id, body: ExportGrantIn, ctx: Ctx) -> dict[str, Any]:
    """Let a workforce export its own slice of the project (or stop it): project managers."""
    with ctx.write() as (s, actor):
        project_members.set_team_export(s, actor, project_id, team_id=team_id, allowed=body.allowed)
    return {"project_id": project_id, "team_id": team_id, "export_allowed": body.allowed}


@router.put("/teams/{team_id}/managers/{user_id}")
def set_manager(team_id: Id, user_id: Id, body: ManagerIn, ctx: Ctx) -> dict[str, Any]:
    """Name (or, with ``manager: false``, un-name) one of a workforce's people as its
    manager (organization owners and managers)."""
    with ctx.write() as (s, actor):
        my_workforce.set_manager(s, actor, team_id, user_id=user_id, manager=body.manager)
    ctx.forget_identities()
    return {"team_id": team_id, "user_id": user_id, "manager": body.manager}
