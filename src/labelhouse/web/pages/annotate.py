"""The annotate page: a shell that the ES-module controller (static/js/annotate.js) fills.

The server renders the layout, the project's instructions (sanitized Markdown) and a JSON
config block; the work itself — leasing, showing, submitting tasks — goes through the JSON
API, so the page and any API client see exactly the same queue.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from labelhouse.projects import service as projects
from labelhouse.projects.skip_reasons import skip_reasons_of
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, render
from labelhouse.web.params import ID_MAX, Id

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/annotate", response_class=HTMLResponse)
def annotate(
    project_id: Id,
    ctx: Ctx,
    task: int | None = Query(
        default=None, ge=1, le=ID_MAX, description="open this task to edit it"
    ),
    returned: bool = Query(default=False, description="open the Returned to you panel"),
) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        project = projects.get_project(s, actor, project_id)
        actor = actor.in_project(project_id)
        _, document = projects.load_schema_and_document(s, project)
        config: dict[str, Any] = {
            "project": {"id": project.id, "name": project.name},
            "user": {"id": actor.user_id, "role": actor.role.value},
            "schema": document,
            "schema_version": project.schema_version,
            "open_task": task,
            "show_returned": returned,
        }
        return render(
            ctx.request,
            "annotate.html",
            actor=actor,
            csrf_token=csrf,
            project=project,
            config=config,
            skip_reasons=skip_reasons_of(project),  # offered by the skip confirmation
        )
