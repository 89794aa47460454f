"""Gold tasks, the review queue and decisions, annotators' gold and review scores."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.projects.service import load_schema_and_document
from labelhouse.review import gold as gold_scores
from labelhouse.review import service as review
from labelhouse.review.models import Review
from labelhouse.review.service import ReviewItem
from labelhouse.tasks import gold, gold_exposure
from labelhouse.tasks.outside_policy import serving_for
from labelhouse.web.api.schemas import GoldIn, GoldStateIn, ReviewIn
from labelhouse.web.api.serializers import annotation_out, json_response, task_out
from labelhouse.web.api.tasks import Rendering, render_after
from labelhouse.web.deps import Ctx
from labelhouse.web.params import ID_MAX, Id

router = APIRouter(prefix="/api", tags=["quality control"])


def review_out(r: Review) -> dict[str, Any]:
    return {
        "id": r.id,
        "task_id": r.task_id,
        "reviewer_id": r.reviewer_id,
        "decision": r.decision,
        "reason": r.reason,
        "value": r.value,
        "created_at": r.created_at,
    }


def review_item_out(s: Session, actor: Actor, item: ReviewItem) -> tuple[dict[str, Any], Rendering]:
    """The review payload, and its task's display HTML to render once the unit of work has
    ended (see :class:`~labelhouse.web.api.tasks.Rendering`). A vendor's reviewer is shown
    the task data and answers as the project's outside policy allows; the annotations are
    their own workforce's only (``review/workforce_scope.py``)."""
    _, document = load_schema_and_document(s, item.project)
    outside = serving_for(s, actor, item.project.id, item.schema, task_ids=[item.task.id])
    task = task_out(s, item.task, item.project, outside=outside)  # type: ignore[arg-type]
    task["annotations"] = [
        {
            **annotation_out(a, outside),
            "annotator_email": item.emails.get(a.user_id, ""),
            "differs": item.differs.get(a.id, []),
            # Submitted again after an earlier revision was rejected (and why it was).
            "resubmitted_after": (
                item.resubmitted[a.id].as_dict() if a.id in item.resubmitted else None
            ),
        }
        for a in item.annotations
    ]
    body = {
        "task": task,
        "majority": item.majority if outside is None else outside.answer(item.majority),
        "agreement": item.agreement,
        "schema": document,
        "schema_version": item.project.schema_version,
        "review_mode": item.project.review_mode,
        "lease_expires_at": item.lease_expires_at,
        "lease_seconds": item.project.lease_seconds,  # the page renews it a third as often
    }
    return body, Rendering(item.schema, task["data"], task)


@router.put("/tasks/{task_id}/gold")
def set_gold(task_id: Id, body: GoldIn, ctx: Ctx) -> dict[str, Any]:
    """Mark a task gold with its expected value per field (managers). Gold tasks are mixed
    into every annotator's queue (see the project's ``gold_rate``/``gold_first_n``)."""
    with ctx.write() as (s, actor):
        task = gold.set_gold(s, actor, task_id, body.value, reserve=body.reserve)
        state = gold_exposure.api_state(task.gold_state)
        return {"task_id": task.id, "gold": task.gold, "state": state}


@router.delete("/tasks/{task_id}/gold", status_code=204)
def clear_gold(task_id: Id, ctx: Ctx) -> None:
    with ctx.write() as (s, actor):
        gold.clear_gold(s, actor, task_id)


@router.put("/tasks/{task_id}/gold/state")
def set_gold_state(task_id: Id, body: GoldStateIn, ctx: Ctx) -> dict[str, Any]:
    """Put a gold task in use (``active``), in ``reserve`` (it replaces an over-exposed item
    at the next rotation) or ``retire`` it (never served again; its answers still count)."""
    with ctx.write() as (s, actor):
        task = gold_exposure.set_gold_state(s, actor, task_id, body.state)
        return {"task_id": task.id, "state": gold_exposure.api_state(task.gold_state)}


@router.get("/projects/{project_id}/gold/exposure")
def gold_exposure_list(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Every gold item: how often it was served (leases), per workforce, its state and
    whether it is over the project's ``gold_exposure_limit`` (project managers)."""
    with ctx.read() as (s, actor):
        items = [g.as_dict() for g in gold_exposure.gold_exposure(s, actor, project_id)]
    return {"items": items, "next_cursor": None}


@router.post("/projects/{project_id}/gold/rotate")
def rotate_gold(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Retire every gold item in use served more than the exposure limit, each replaced by
    the oldest reserve item; ``unreplaced`` counts those left without a replacement. 409
    when the project has no limit (project managers)."""
    with ctx.write() as (s, actor):
        return gold_exposure.rotate_gold(s, actor, project_id).as_dict()


@router.get("/projects/{project_id}/gold/accuracy")
def gold_accuracy(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Each annotator's gold accuracy, per field and pooled (reviewers and up)."""
    with ctx.read() as (s, actor):
        items = [g.as_dict() for g in gold_scores.gold_accuracy(s, actor, project_id)]
    return {"items": items, "next_cursor": None}


@router.post("/projects/{project_id}/annotators/{user_id}/unpause", status_code=204)
def unpause(project_id: Id, user_id: Id, ctx: Ctx) -> None:
    """Lift a gold-accuracy pause (managers); earlier gold answers stop counting."""
    with ctx.write() as (s, actor):
        gold_scores.unpause(s, actor, project_id, user_id)


@router.post("/projects/{project_id}/review/next")
def review_next(
    project_id: Id,
    ctx: Ctx,
    after: int = Query(default=0, ge=0, le=ID_MAX, description="pass over tasks up to this id"),
) -> Response:
    """The next finished task waiting for this reviewer, with its pending annotations, the
    most common value per field and the fields where each annotation differs from it;
    ``task`` is null when none is left. 409 when the project's review mode is ``off``.

    The task is leased to the reviewer until ``lease_expires_at`` (other reviewers are
    shown other tasks); asking again returns it, ``after`` gives it up and moves on."""
    rendering = None
    with ctx.write() as (s, actor):
        item = review.next_for_review(s, actor, project_id, after_id=after)
        body: dict[str, Any] = {"task": None}
        if item is not None:
            body, rendering = review_item_out(s, actor, item)
    render_after(rendering)  # Markdown outside the write transaction
    return json_response(body)


@router.post("/tasks/{task_id}/review/lease/renew")
def renew_review_lease(task_id: Id, ctx: Ctx) -> Response:
    """Heartbeat of an open review page: the reviewer's lease on the task runs the project's
    ``lease_seconds`` from now. 409 when it ended (decided, or another reviewer was given
    the task after it ran out)."""
    with ctx.write() as (s, actor):
        renewal = review.renew_lease(s, actor, task_id)
    return json_response(
        {
            "task_id": task_id,
            "expires_at": renewal.expires_at,
            "lease_seconds": renewal.lease_seconds,
        }
    )


@router.post("/tasks/{task_id}/review", status_code=201)
def review_task(task_id: Id, body: ReviewIn, ctx: Ctx) -> Response:
    """accept; reject (``reason`` required: the task goes back to the queue, and the answers
    are returned to their annotators, who see the reason and may fix and resubmit them while
    the task needs answers); correct (``value`` validated like an annotation, kept as the reviewed
    value; the originals stay)."""
    with ctx.write() as (s, actor):
        r = review.decide(
            s, actor, task_id, decision=body.decision, reason=body.reason, value=body.value
        )
        out = review_out(r)
    return json_response(out, status_code=201)


@router.get("/tasks/{task_id}/reviews")
def task_reviews(task_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        items = [review_out(r) for r in review.reviews_of_task(s, actor, task_id)]
    return {"items": items, "next_cursor": None}


@router.get("/projects/{project_id}/review/stats")
def review_stats(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Per annotator: annotations accepted, rejected and corrected in review."""
    with ctx.read() as (s, actor):
        items = [r.as_dict() for r in review.review_stats(s, actor, project_id)]
    return {"items": items, "next_cursor": None}
