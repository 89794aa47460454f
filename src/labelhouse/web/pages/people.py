"""The organization's people page: members, invitations and teams (owners and managers).

Every change goes through the JSON API from the browser (``data-api`` forms and buttons,
``static/js/people.js`` for answers shown once); this handler only renders the current
state, read straight from the domain services.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.accounts import externals, invitations
from labelhouse.accounts.models import Role
from labelhouse.people import organization, teams
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, render

router = APIRouter(include_in_schema=False)


def assignable_roles(actor_role: Role) -> list[str]:
    """The organization roles the actor may give: only owners make owners."""
    return [r.value for r in Role if r != Role.owner or actor_role == Role.owner]


@router.get("/people", response_class=HTMLResponse)
def people_page(ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        actor.require_org(Role.manager, "manage the organization's people")
        return render(
            ctx.request,
            "people.html",
            actor=actor,
            csrf_token=csrf,
            people=organization.people(s, actor),
            externals=externals.list_externals(s, actor),
            pending=invitations.pending_invitations(s, actor),
            teams=teams.list_teams(s, actor),
            roles=assignable_roles(actor.org_role),
            is_owner=actor.org_role == Role.owner,
            recent_days=organization.RECENT_DAYS,
        )
