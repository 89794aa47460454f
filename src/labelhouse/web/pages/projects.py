"""Projects list and creation."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.accounts.models import Role
from labelhouse.projects import service as projects
from labelhouse.tasks.service import progress_by_project
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, render

router = APIRouter(include_in_schema=False)

STARTER_SCHEMA = """{
  "fields": [
    {"name": "label", "kind": "choice", "reads": ["text"],
     "options": [{"value": "positive", "hotkey": "1"}, {"value": "negative", "hotkey": "2"}]}
  ]
}"""


@router.get("/", response_class=HTMLResponse)
def project_list(ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        items = projects.list_projects(s, actor)
        progress = progress_by_project(s, items)
        return render(
            ctx.request,
            "projects.html",
            actor=actor,
            csrf_token=csrf,
            projects=items,
            progress=progress,
            can_create=actor.at_least(Role.manager),
            starter_schema=STARTER_SCHEMA,
        )
