"""The task browser (filters, keyset pages) and the task detail page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from labelhouse.accounts.models import Role
from labelhouse.annotations.queries import (
    MATCHES,
    TaskDetail,
    TaskFilters,
    browse_view,
    task_detail,
)
from labelhouse.kinds.conversation import render_value as render_chat
from labelhouse.review.task_state import rejected_tasks, task_review_state
from labelhouse.tasks.service import TASK_STATUSES, task_status
from labelhouse.tasks.skips import skips_of_task
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render, widget_stylesheet
from labelhouse.web.pages.formatting import snippet
from labelhouse.web.params import Cursor, Id

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25


@router.get("/projects/{project_id}/tasks", response_class=HTMLResponse)
def task_browser(
    project_id: Id,
    ctx: Ctx,
    cursor: Cursor = 0,
    status: str = Query(default="", max_length=20),
    annotator: str = Query(default="", max_length=18, pattern=r"^\d*$"),  # "" from the form
    field: str = Query(default="", max_length=64),
    value: str = Query(default="", max_length=200),
    match: str = Query(default="is", max_length=20),
    q: str = Query(default="", max_length=200),
) -> HTMLResponse:
    filters = TaskFilters(
        status=status or None,
        search=q or None,
        annotator_id=int(annotator) if annotator else None,
        field=field or None,
        value=value or None,
        match=match,
    )
    with page_session(ctx) as (s, actor, csrf):
        actor.in_project(project_id).require_lab_reviewer("browse tasks")
        view = browse_view(s, actor, project_id, filters, after_id=cursor, limit=PAGE_SIZE)
        project, page = view.project, view.page
        rejected = rejected_tasks(s, page.items, project.overlap)  # not "new": see task_state
        params = {
            k: v
            for k, v in {
                "status": status,
                "annotator": annotator,
                "field": field,
                "value": value,
                "match": match if value else "",
                "q": q,
            }.items()
            if v
        }
        return render(
            ctx.request,
            "tasks.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=project,
            tabs=project_tabs(actor, project_id),
            current_tab="tasks",
            rows=[
                (
                    t,
                    "rejected" if t.id in rejected else task_status(t, project.overlap),
                    snippet(t.data),
                )
                for t in page.items
            ],
            filters=filters,
            statuses=TASK_STATUSES,
            matches=MATCHES,
            fields=view.field_names,
            annotators=view.annotators,
            first_url=f"?{urlencode(params)}" if params else "?",
            next_url=(
                f"?{urlencode({**params, 'cursor': page.next_cursor})}"
                if page.next_cursor
                else None
            ),
            cursor=cursor,
        )


def conversations_shown(data: dict[str, Any]) -> dict[str, Markup]:
    """Data values that are conversations, as chats (system prompt shown: this page is for
    reviewers and managers). The HTML is built by the domain from escaped roles and
    nh3-cleaned Markdown only (kinds/conversation.py), hence safe to insert as is."""
    chats = {}
    for key, value in data.items():
        html = render_chat(value, key, "show")
        if html is not None:
            chats[key] = Markup(html)  # noqa: S704 (sanitized by kinds.conversation)
    return chats


def answers_config(detail: TaskDetail, *, with_gold: bool) -> dict[str, Any]:
    """What static/js/task-detail.js draws the answers with (each field's widget in display
    mode): the schema, the task's data, media and display HTML, every answer under the
    ``data-answer`` key of the element that shows it, which of them are submitted (the
    most common answer is theirs) and each annotation's revisions, newest first."""
    task = detail.task
    answers: dict[str, Any] = {f"prediction:{p.id}": p.value for p in detail.predictions}
    answers.update(
        {f"annotation:{v.annotation.id}": v.annotation.value for v in detail.annotations}
    )
    if with_gold and task.gold is not None:
        answers["gold"] = task.gold
    return {
        "schema": detail.document,
        "task": {
            "id": task.id,
            "data": task.data,
            "media": detail.media,
            "rendered": detail.schema.display(task.data),
        },
        "answers": answers,
        "submitted": [
            f"annotation:{v.annotation.id}"
            for v in detail.annotations
            if v.annotation.status == "submitted"
        ],
        "revisions": {
            str(v.annotation.id): [{"revision": r.revision, "value": r.value} for r in v.revisions]
            for v in detail.annotations
        },
    }


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(task_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        detail = task_detail(s, actor, task_id)
        in_project = actor.in_project(detail.project.id)
        in_project.require_lab_reviewer("open tasks outside the annotate page")
        can_gold = in_project.at_least(Role.manager)
        review_state = task_review_state(s, detail.task, detail.project.overlap)
        return render(
            ctx.request,
            "task.html",
            actor=actor.in_project(detail.project.id),
            csrf_token=csrf,
            project=detail.project,
            tabs=project_tabs(actor, detail.project.id),
            current_tab="tasks",
            detail=detail,
            review_state=review_state,
            media_keys={k for f in detail.schema.fields for k in f.media_keys()},
            chats=conversations_shown(detail.task.data),
            can_gold=can_gold,
            answers=answers_config(detail, with_gold=can_gold),
            widget_css=widget_stylesheet(),
            skips=skips_of_task(s, actor, detail.task.id, detail.project.id),
        )
