"""The import page (task files with upload progress, images) and the export page."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.exports.service import CONTENTS
from labelhouse.exports.writers import FORMATS
from labelhouse.quality_report.fields import METHODS
from labelhouse.tasks.queries import transfer_view
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render
from labelhouse.web.params import Id

router = APIRouter(include_in_schema=False)

# Formats without their own ``Format.description``; every format's options come from its
# ``Format.option_help``, so a new format shows up here without a change to this page.
FORMAT_HELP = {
    "jsonl": "one JSON object per line: task data, annotations, predictions (streams well)",
    "json": "one JSON array of the same records",
    "csv": "one row per annotation (an empty one for unlabelled tasks), a column per data "
    "key and label field, structured values as JSON; safe to open in a spreadsheet",
    "label_studio": "a Label Studio JSON export (tasks, annotations, predictions); import it "
    "into Label Studio with the labeling config below",
}
# The page offers every ``content`` and consensus method the API takes (the browser test
# compares the lists with exports.service.CONTENTS and quality_report.fields.METHODS).
CONTENT_HELP = {
    "raw": ("Annotations", "every annotator's answers, as submitted"),
    "consensus": (
        "Consensus only",
        "one value per field and task, with its confidence, instead of the answers",
    ),
    "both": ("Annotations and consensus", "the answers and the consensus value per field"),
}
METHOD_HELP = {
    "majority": "Majority vote",
    "dawid_skene": "Dawid–Skene (weighs annotators by their estimated accuracy)",
    "gold_weighted": "Gold-weighted vote (weighs annotators by their gold accuracy)",
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
        formats = [
            (name, fmt.description or FORMAT_HELP.get(name, ""), fmt.option_help, fmt.extension)
            for name, fmt in FORMATS.items()
        ]
        contents = [(name, *CONTENT_HELP.get(name, (name, ""))) for name in CONTENTS]
        methods = [(name, METHOD_HELP.get(name, name)) for name in METHODS]
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
            contents=contents,
            methods=methods,
        )
