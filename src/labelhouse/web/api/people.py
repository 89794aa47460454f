"""The organization's people, invitations, teams and project membership (JSON API).

Every change that takes access away clears this process's identity cache at once; other
app servers follow within ``identity_cache_seconds``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelhouse.accounts import externals, invitations
from labelhouse.accounts.models import Invitation, Team
from labelhouse.people import organization, project_members, teams
from labelhouse.web.api.schemas import (
    BulkInviteIn,
    EmailsIn,
    ProjectMembersIn,
    ProjectRoleIn,
    RoleIn,
    TeamIn,
    TeamPatchIn,
)
from labelhouse.web.api.serializers import revoked_tokens_sentence, tokens_out
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["people"])


def _invitation_out(row: Invitation, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "email": row.email,
        "role": row.role,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
    }
    if secret is not None:
        out["token"] = secret
    return out


def _ended_out(ended: organization.AccessEnded, what: str) -> dict[str, Any]:
    return {
        "message": what + revoked_tokens_sentence(ended.revoked_tokens).replace("your", "their"),
        "revoked_tokens": [tokens_out(t) for t in ended.revoked_tokens],
        "leases_ended": ended.leases_ended,
    }


# -- organization people ---------------------------------------------------------------------


@router.get("/people")
def list_people(ctx: Ctx) -> dict[str, Any]:
    """Every member with role, teams, projects, last activity and recent annotations
    (organization owners and managers)."""
    with ctx.read() as (s, actor):
        items = [
            {
                "user_id": p.user_id,
                "email": p.email,
                "name": p.name,
                "role": p.role,
                "active": p.active,
                "teams": p.teams,
                "all_projects": p.all_projects,
                "projects": [{"id": i, "name": n, "role": r} for i, n, r in p.projects],
                "last_active": p.last_active,
                "annotations_7d": p.recent_annotations,
            }
            for p in organization.people(s, actor)
        ]
        # Authors of imported answers who are not members: they never sign in.
        external = [
            {
                "user_id": e.user_id,
                "identity": e.identity,
                "role": "external",
                "workforce": e.workforce,
                "created_at": e.created_at,
            }
            for e in externals.list_externals(s, actor)
        ]
    return {"items": items, "next_cursor": None, "external_annotators": external}


@router.post("/people/{user_id}/deactivate")
def deactivate(user_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Sessions, API tokens and leases end at once; history and attribution stay."""
    with ctx.write() as (s, actor):
        ended = organization.deactivate(s, actor, user_id=user_id)
        out = _ended_out(ended, "Deactivated. Their sessions ended")
    ctx.forget_identities()
    return out


@router.post("/people/{user_id}/reactivate")
def reactivate(user_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        m = organization.reactivate(s, actor, user_id=user_id)
        out = {"user_id": m.user_id, "role": m.role, "active": True}
    ctx.forget_identities()
    return out


@router.post("/people/{user_id}/logout-everywhere")
def logout_everywhere(user_id: Id, ctx: Ctx) -> dict[str, Any]:
    """End the member's browser sessions in this organization (they may sign in again;
    API tokens stay). Says how many ended."""
    with ctx.write() as (s, actor):
        ended = organization.log_out_everywhere(s, actor, user_id=user_id)
    ctx.forget_identities()
    noun = "session" if ended == 1 else "sessions"
    return {
        "user_id": user_id,
        "ended": ended,
        "message": f"Signed out everywhere: {ended} {noun} ended. They can sign in again; "
        "their API tokens still work (deactivate to end those too).",
    }


@router.post("/people/{user_id}/reset-password")
def reset_password(user_id: Id, ctx: Ctx) -> dict[str, Any]:
    """A new one-time password to hand over (shown once); it must be changed at sign-in."""
    with ctx.write() as (s, actor):
        reset = organization.reset_password(s, actor, user_id=user_id)
        out = {
            "email": reset.email,
            "one_time_password": reset.one_time_password,
            **_ended_out(
                organization.AccessEnded(reset.revoked_tokens, 0),
                f"New one-time password for {reset.email}; their sessions ended",
            ),
        }
    ctx.forget_identities()
    return out


@router.patch("/members/{user_id}")
def set_role(user_id: Id, body: RoleIn, ctx: Ctx) -> dict[str, Any]:
    """Change an organization role; the person signs in again (sessions and tokens end)."""
    with ctx.write() as (s, actor):
        ended = organization.set_role(s, actor, user_id=user_id, role=body.role)
        out = {"user_id": user_id, "role": body.role.value, **_ended_out(ended, "Role changed")}
    ctx.forget_identities()
    return out


# -- invitations -----------------------------------------------------------------------------


@router.get("/invitations")
def list_invitations(ctx: Ctx) -> dict[str, Any]:
    """Pending invitations (not accepted, revoked or expired), newest first."""
    with ctx.read() as (s, actor):
        items = [_invitation_out(r) for r in invitations.pending_invitations(s, actor)]
    return {"items": items, "next_cursor": None}


@router.post("/invitations/bulk", status_code=201)
def invite_many(body: BulkInviteIn, ctx: Ctx) -> dict[str, Any]:
    """One role for a list of addresses; members and pending invitees are skipped and
    named. Each new invitation's token is in this response only."""
    with ctx.write() as (s, actor):
        result = invitations.invite_many(s, actor, emails=body.emails, role=body.role)
        return {
            "invited": [_invitation_out(r, secret) for r, secret in result.invited],
            "already_members": result.already_members,
            "already_invited": result.already_invited,
        }


@router.delete("/invitations/{invitation_id}", status_code=204)
def revoke_invitation(invitation_id: Id, ctx: Ctx) -> None:
    with ctx.write() as (s, actor):
        invitations.revoke_invitation(s, actor, invitation_id)


@router.post("/invitations/{invitation_id}/resend")
def resend_invitation(invitation_id: Id, ctx: Ctx) -> dict[str, Any]:
    """A new link (the old one stops working) valid for another seven days."""
    with ctx.write() as (s, actor):
        row, secret = invitations.resend_invitation(s, actor, invitation_id)
        return _invitation_out(row, secret)


# -- teams -----------------------------------------------------------------------------------


def workforce_out(team: Team) -> dict[str, Any]:
    """A team's workforce fields (kind ``group`` for a plain team)."""
    return {
        "kind": team.kind,
        "contact": team.contact,
        "price_per_task": team.price_per_task,
        "price_per_hour": team.price_per_hour,
        "currency": team.currency,
        "contract_ended_at": team.ended_at,
    }


@router.get("/teams")
def list_teams(ctx: Ctx) -> dict[str, Any]:
    """Teams and workforces, with members and projects (organization owners and managers)."""
    with ctx.read() as (s, actor):
        items = [
            {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                **workforce_out(t.team),
                "members": [{"user_id": u, "email": e} for u, e in t.members],
                "projects": [{"id": i, "name": n, "role": r} for i, n, r in t.projects],
            }
            for t in teams.list_teams(s, actor)
        ]
    return {"items": items, "next_cursor": None}


@router.post("/teams", status_code=201)
def create_team(body: TeamIn, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        t = teams.create_team(s, actor, name=body.name, description=body.description)
        return {"id": t.id, "name": t.name, "description": t.description}


@router.patch("/teams/{team_id}")
def update_team(team_id: Id, body: TeamPatchIn, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        t = teams.update_team(s, actor, team_id, name=body.name, description=body.description)
        return {"id": t.id, "name": t.name, "description": t.description}


@router.delete("/teams/{team_id}", status_code=204)
def delete_team(team_id: Id, ctx: Ctx) -> None:
    with ctx.write() as (s, actor):
        teams.delete_team(s, actor, team_id)
    ctx.forget_identities()


@router.post("/teams/{team_id}/members")
def add_team_members(team_id: Id, body: EmailsIn, ctx: Ctx) -> dict[str, Any]:
    """Add organization members by e-mail; they get the team's projects at once."""
    with ctx.write() as (s, actor):
        added = teams.add_members(s, actor, team_id, emails=body.emails)
    ctx.forget_identities()
    return {"added": added}


@router.delete("/teams/{team_id}/members/{user_id}", status_code=204)
def remove_team_member(team_id: Id, user_id: Id, ctx: Ctx) -> None:
    with ctx.write() as (s, actor):
        teams.remove_member(s, actor, team_id, user_id=user_id)
    ctx.forget_identities()


# -- project members -------------------------------------------------------------------------


@router.get("/projects/{project_id}/members")
def list_project_members(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Everyone with access: people (directly, through teams, or as organization owners and
    managers) and teams (project managers and up)."""
    with ctx.read() as (s, actor):
        view = project_members.list_members(s, actor, project_id)
        return {
            "people": [
                {
                    "user_id": p.user_id,
                    "email": p.email,
                    "name": p.name,
                    "role": p.role,
                    "direct_role": p.direct_role,
                    "teams": p.teams,
                    "organization_role": p.org_role,
                    "active": p.active,
                }
                for p in view.people
            ],
            "teams": [
                {"team_id": t.team_id, "name": t.name, "role": t.role, "members": t.members}
                for t in view.teams
            ],
        }


@router.post("/projects/{project_id}/members")
def add_project_members(project_id: Id, body: ProjectMembersIn, ctx: Ctx) -> dict[str, Any]:
    """Add organization members by e-mail, or a whole team, with a project role."""
    with ctx.write() as (s, actor):
        if body.team_id is not None:
            t = project_members.add_team(s, actor, project_id, team_id=body.team_id, role=body.role)
            out: dict[str, Any] = {"team": {"team_id": t.team_id, "name": t.name, "role": t.role}}
        else:
            r = project_members.add_people(
                s, actor, project_id, emails=body.emails or [], role=body.role
            )
            out = {"added": r.added, "updated": r.updated, "unchanged": r.unchanged}
    ctx.forget_identities()
    return out


@router.patch("/projects/{project_id}/members/{user_id}")
def set_project_role(project_id: Id, user_id: Id, body: ProjectRoleIn, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        pm = project_members.set_person_role(s, actor, project_id, user_id=user_id, role=body.role)
        out = {"user_id": pm.user_id, "role": pm.role}
    ctx.forget_identities()
    return out


@router.delete("/projects/{project_id}/members/{user_id}")
def remove_project_member(project_id: Id, user_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Their leases in the project end at once (unless a team still gives them access)."""
    with ctx.write() as (s, actor):
        ended = project_members.remove_person(s, actor, project_id, user_id=user_id)
    ctx.forget_identities()
    return {"leases_ended": ended}


@router.delete("/projects/{project_id}/teams/{team_id}")
def remove_project_team(project_id: Id, team_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.write() as (s, actor):
        ended = project_members.remove_team(s, actor, project_id, team_id=team_id)
    ctx.forget_identities()
    return {"leases_ended": ended}
