"""The import page (task files with upload progress, images) and the export page."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.exports.writers import FORMATS
from labelhouse.tasks.queries import transfer_view
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render
from labelhouse.web.params import Id

router = APIRouter(include_in_schema=False)

FORMAT_HELP = {
    "jsonl": "one JSON object per line: task data, annotations, predictions (streams well)",
    "json": "one JSON array of the same records",
    "csv": "one row per annotation (an empty one for unlabelled tasks), a column per data "
    "key and label field, structured values as JSON; safe to open in a spreadsheet",
}


@router.get("/projects/{project_id}/import", response_class=HTMLResponse)
def import_page(project_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        view = transfer_view(s, actor, project_id)
        return render(
            ctx.request,
            "import.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=view.project,
            tabs=project_tabs(actor, project_id),
            current_tab="import",
            view=view,
            example=json.dumps(view.example, ensure_ascii=False),
        )


@router.get("/projects/{project_id}/export", response_class=HTMLResponse)
def export_page(project_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        view = transfer_view(s, actor, project_id)
        formats = [(name, FORMAT_HELP.get(name, "")) for name in FORMATS]
        return render(
            ctx.request,
            "export.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=view.project,
            tabs=project_tabs(actor, project_id),
            current_tab="export",
            view=view,
            formats=formats,
        )
