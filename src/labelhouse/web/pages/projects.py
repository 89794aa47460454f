"""Projects list (with creation) and the project overview."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.annotations.stats import project_overview
from labelhouse.projects import service as projects
from labelhouse.review.returned import needs_attention
from labelhouse.tasks.service import progress_by_project
from labelhouse.web.charts import bar_chart, daily_bars
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render
from labelhouse.web.params import Id

router = APIRouter(include_in_schema=False)

STARTER_SCHEMA = """\
fields:
  - name: label
    kind: choice
    reads: [text]
    options:
      - {value: positive, hotkey: "1"}
      - {value: negative, hotkey: "2"}
"""


@router.get("/", response_class=HTMLResponse)
def project_list(ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        items = projects.list_projects(s, actor)
        progress = progress_by_project(s, items)
        returned = needs_attention(s, actor, project_ids=[p.id for p in items])
        return render(
            ctx.request,
            "projects.html",
            actor=actor,
            csrf_token=csrf,
            projects=items,
            progress=progress,
            returned=returned,
            can_create=actor.sees_all_projects,
            overview_ids={p.id for p in items if actor.in_project(p.id).sees_whole_project},
            starter_schema=STARTER_SCHEMA,
        )


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def overview(project_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        view = project_overview(s, actor, project_id)
        chart = bar_chart(
            daily_bars(view.per_day),
            label=f"Submitted annotations per day, last {len(view.per_day)} days",
            label_every=5,
        )
        return render(
            ctx.request,
            "overview.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=view.project,
            tabs=project_tabs(actor, project_id),
            current_tab="overview",
            view=view,
            chart=chart,
            total_last_days=sum(n for _, n in view.per_day),
        )
