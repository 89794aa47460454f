"""The review page: a shell that static/js/review.js fills from the review API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.accounts.models import Role
from labelhouse.projects import service as projects
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render, widget_stylesheet
from labelhouse.web.params import Id

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/review", response_class=HTMLResponse)
def review_page(project_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        actor = actor.in_project(project_id)
        actor.require(Role.reviewer, "review tasks")
        project = projects.get_project(s, actor, project_id)
        config = {
            "project": {"id": project.id, "name": project.name},
            "review_mode": project.review_mode,
            "can_configure": actor.at_least(Role.manager),
        }
        return render(
            ctx.request,
            "review.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=project,
            tabs=project_tabs(actor, project_id),
            current_tab="review",
            config=config,
            widget_css=widget_stylesheet(),
        )
