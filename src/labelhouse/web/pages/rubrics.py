"""The organization's rubrics page: every rubric with its versions, and forms to create a
rubric or add a version (organization owners and managers).

The forms post to the JSON API (``data-api``); the criteria are typed as JSON or YAML and
the API names every problem. This handler only renders the current state.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.accounts.models import Role
from labelhouse.rubrics import service as rubrics
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, render

router = APIRouter(include_in_schema=False)

EXAMPLE = """- name: helpfulness
  title: Helpfulness
  min: 1
  max: 5
  weight: 2
  anchors: {1: Ignores the request, 3: Partly answers, 5: Fully answers}
- name: correctness
  scale: pass_fail
  critical: true
"""


@router.get("/rubrics", response_class=HTMLResponse)
def rubrics_page(ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        actor.require_org(Role.manager, "manage rubrics")
        views = [rubrics.get_rubric(s, actor, r.id) for r, _ in rubrics.list_rubrics(s, actor)]
        return render(
            ctx.request,
            "rubrics.html",
            actor=actor,
            csrf_token=csrf,
            rubrics=[rubrics.as_dict(v) for v in views],
            example=EXAMPLE,
        )
