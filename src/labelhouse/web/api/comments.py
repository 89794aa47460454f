"""Questions and answers on tasks (see :mod:`labelhouse.comments.service`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from labelhouse.comments import service as comments
from labelhouse.web.api.schemas import CommentIn, CommentsReadIn
from labelhouse.web.api.serializers import json_response
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["comments"])


@router.get("/tasks/{task_id}/comments")
def list_comments(task_id: Id, ctx: Ctx) -> Response:
    """The comments on the task you may read, oldest first: annotators their own questions
    and the answers to them, the lab's reviewers and managers every thread. ``threads``:
    where you may write; ``unread``: comments by others after your read marker."""
    with ctx.read() as (s, actor):
        body = comments.task_comments(s, actor, task_id).as_dict()
    return json_response(body)


@router.post("/tasks/{task_id}/comments", status_code=201)
def post_comment(task_id: Id, body: CommentIn, ctx: Ctx) -> Response:
    """Ask (annotators: in your own thread) or answer (the lab: ``thread`` is the annotator's
    user id; without it, a lab note only the lab sees). Plain text, at most 4000 characters."""
    with ctx.write() as (s, actor):
        comment = comments.post(s, actor, task_id, body=body.body, thread=body.thread)
        out = {"id": comment.id, "task_id": comment.task_id, "thread": comment.thread_user_id}
    return json_response(out, status_code=201)


@router.post("/tasks/{task_id}/comments/read")
def read_comments(task_id: Id, ctx: Ctx, body: CommentsReadIn | None = None) -> dict[str, Any]:
    """Mark the task's comments read (up to ``up_to``, or all you can see); a marker never
    moves back. Answers the task's unread count for you afterwards."""
    with ctx.write() as (s, actor):
        left = comments.mark_read(s, actor, task_id, up_to=body.up_to if body else None)
    return {"task_id": task_id, "unread": left}


@router.get("/projects/{project_id}/comments/unread")
def unread_comments(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Tasks with comments you have not read, and how many (annotators: answers to their
    own questions; the lab: every comment in the project)."""
    with ctx.read() as (s, actor):
        unread = comments.unread_in_project(s, actor, project_id)
    items = [{"task_id": tid, "unread": n} for tid, n in unread.items()]
    return {"items": items, "total": sum(unread.values()), "next_cursor": None}
