"""A workforce manager's page: their own workforce's people (deactivate and reactivate its
annotators), invitations into it, its projects with the work routed to it and, per project,
its people's work (``static/js/workforce.js`` loads it from the JSON API on demand).

Only a workforce's own managers may open it; anybody else gets the 'Not allowed' page
(:func:`labelhouse.people.my_workforce.own_workforce` refuses them before any lookup).
Every change goes through the JSON API from the browser.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.accounts.policy import Actor
from labelhouse.people import my_workforce
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, render

router = APIRouter(include_in_schema=False)


def project_link(actor: Actor, project_id: int) -> str | None:
    """Where the project's name links: its overview for reviewers and up, else the annotate
    page; nowhere if the manager cannot open the project themselves."""
    role = actor.role_in(project_id)
    if role is None:
        return None
    overview = actor.in_project(project_id).sees_whole_project
    return f"/projects/{project_id}" + ("" if overview else "/annotate")


@router.get("/workforce", response_class=HTMLResponse)
def workforce_page(ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        view = my_workforce.view(s, actor)
        return render(
            ctx.request,
            "workforce.html",
            actor=actor,
            csrf_token=csrf,
            workforce=view,
            links={p.id: project_link(actor, p.id) for p in view.projects},
            recent_days=my_workforce.RECENT_DAYS,
            max_invites=my_workforce.MAX_INVITES,
        )
