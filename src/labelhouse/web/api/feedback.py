"""Review feedback to annotators: their returned answers, the decisions on their answers,
fixing a returned task; the task's honest review state for the lab."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from labelhouse.projects.service import get_project, load_schema
from labelhouse.review import returned
from labelhouse.review.returned import ReturnedItem
from labelhouse.tasks.outside_policy import OutsideServing, serving_for
from labelhouse.web.api.schemas import ReturnedSeenIn
from labelhouse.web.api.serializers import json_response
from labelhouse.web.api.tasks import next_payload, render_after
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Cursor, Id

router = APIRouter(prefix="/api", tags=["review feedback"])


def returned_out(item: ReturnedItem, outside: OutsideServing | None) -> dict[str, Any]:
    """A returned answer; a vendor's person sees values and ids as the outside policy
    allows (a spans answer carries the text it marks)."""

    def shown(value: Any) -> Any:
        return value if outside is None or value is None else outside.answer(value)

    return {
        "task_id": item.task_id,
        "external_id": item.external_id if outside is None else outside.text(item.external_id),
        "annotation_id": item.annotation_id,
        "revision": item.revision,
        "outcome": item.outcome,
        "decision": item.decision,
        "reason": item.reason,
        "your_value": shown(item.your_value),
        "corrected_value": shown(item.corrected_value),
        "reviewed_at": item.reviewed_at,
        "reviewer": item.reviewer,
        "state": item.state,
        "can_fix": item.can_fix,
        "fixing": item.fixing,
        "seen": item.seen,
    }


@router.get("/projects/{project_id}/returned")
def returned_list(
    project_id: Id, ctx: Ctx, cursor: Cursor = 0, limit: int = Query(default=50, ge=1, le=200)
) -> Response:
    """Your answers that review rejected or corrected (and you have not submitted again),
    newest decision first: the reason, your value, the corrected value, and whether you can
    still fix it (``state``: ``to_fix``, ``closed`` — others have answered the task since —
    or ``corrected``). ``needs_attention``: those you can fix plus those not seen yet."""
    with ctx.read() as (s, actor):
        page = returned.returned_to_me(s, actor, project_id, after=cursor, limit=limit)
        outside = None
        if page.items and actor.vendor:
            schema = load_schema(s, get_project(s, actor, project_id))
            ids = [i.task_id for i in page.items]
            outside = serving_for(s, actor, project_id, schema, task_ids=ids)
        body = {
            "items": [returned_out(i, outside) for i in page.items],
            "next_cursor": page.next_cursor,
            "needs_attention": page.needs_attention,
        }
    return json_response(body)


@router.post("/projects/{project_id}/returned/seen")
def returned_seen(project_id: Id, ctx: Ctx, body: ReturnedSeenIn | None = None) -> dict[str, Any]:
    """Mark your returned answers in the project (all, or ``annotation_ids``) as seen: they
    stop counting as needing attention unless you can still fix them."""
    ids = body.annotation_ids if body is not None else None
    with ctx.write() as (s, actor):
        changed = returned.mark_seen(s, actor, project_id, ids)
        left = returned.needs_attention(s, actor, project_ids=[project_id]).get(project_id, 0)
    return {"marked": changed, "needs_attention": left}


@router.get("/projects/{project_id}/reviewed")
def reviewed_mine(
    project_id: Id,
    ctx: Ctx,
    tasks: str = Query(
        default="",
        max_length=10_000,
        pattern=r"^(\d{1,19}(,\d{1,19})*)?$",
        description="task ids, comma-separated (at most 500)",
    ),
) -> dict[str, Any]:
    """What review made of your answers on these tasks: ``accepted``, ``rejected``,
    ``corrected``, or ``resubmitted`` (submitted again after a rejection, waiting for
    review). Tasks without a decision on your answer are left out."""
    ids = [int(t) for t in tasks.split(",") if t]
    with ctx.read() as (s, actor):
        items = [d.as_dict() for d in returned.decisions_on_mine(s, actor, project_id, ids)]
    return {"items": items, "next_cursor": None}


@router.get("/me/returned")
def returned_counts(ctx: Ctx) -> dict[str, Any]:
    """Per project you may see: how many of your returned answers need your attention."""
    with ctx.read() as (s, actor):
        counts = returned.needs_attention(s, actor)
    items = [{"project_id": pid, "needs_attention": n} for pid, n in sorted(counts.items())]
    return {"items": items, "next_cursor": None}


@router.post("/tasks/{task_id}/fix")
def fix_task(task_id: Id, ctx: Ctx, render: bool = Query(default=False)) -> Response:
    """Take the task whose answer review rejected back, to fix it: it is leased to you (your
    lease on another task of the project is given back) and the answer is the body of
    ``/next`` (the task with your rejected answer). Submit the fixed answer as usual; it is
    a new revision and goes to review again. 409 when nothing of yours on it was rejected,
    or when others have answered the task since."""
    rendering = None
    with ctx.write() as (s, actor):
        project_id = returned.fix(s, actor, task_id)
        body, rendering = next_payload(s, actor, project_id, render=render)
    render_after(rendering)
    return json_response(body)
