"""Questions and answers on a task, and who has read what.

Threads. Every comment belongs to one annotator's thread (their questions on the task and
the answers to them) or is a lab note (no thread). Who sees what:

- the lab's reviewers and managers (``Actor.sees_whole_project``): every thread and note of
  a task they can see, and they may write in any of them — in the thread of anybody who was
  served the task, or as a note;
- an annotator: their own thread only, on a task given to them (the task lookup already
  hides every other task), so one annotator's question never shows another annotator what
  they think, and a vendor's people never see another workforce's;
- a vendor's reviewer: their own thread and the threads of the people served the task in
  their workforce (the work they review), on the tasks they can see.

Names. The lab's people see everyone's e-mail address. A vendor's people see no address
but their own (the same rule as everywhere else): other people are named by their role —
"a reviewer", "a project manager", "annotator #12" (a person's id, within their own
workforce's threads only).

Bodies are plain text (at most :data:`MAX_BODY` characters, no control characters but line
breaks and tabs), shown escaped: never HTML.

Unread. A person's read marker per task is the last comment id they have read; comments
after it that they can see and did not write are unread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role, User
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.comments.models import TaskComment, TaskCommentRead
from labelhouse.db.base import utcnow
from labelhouse.db.dialect import dialect_insert
from labelhouse.errors import Conflict, InvalidInput, Problem
from labelhouse.projects.service import get_project
from labelhouse.tasks.models import Assignment
from labelhouse.tasks.service import get_task

MAX_BODY = 4000
MAX_PER_TASK = 500  # comments on one task: a conversation, not a chat room
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ROLE_NAMES = {
    Role.owner.value: "a project manager",
    Role.manager.value: "a project manager",
    Role.reviewer.value: "a reviewer",
}


def clean_body(body: Any) -> str:
    """The comment text as stored, or InvalidInput saying what to change."""
    if not isinstance(body, str):
        raise InvalidInput("Write the comment as text.", [Problem("body", "expected text")])
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidInput("Write something first.", [Problem("body", "empty")])
    if len(text) > MAX_BODY:
        raise InvalidInput(
            f"The comment is too long ({len(text)} characters).",
            [Problem("body", f"at most {MAX_BODY} characters")],
        )
    if _CONTROL.search(text):
        raise InvalidInput(
            "The comment holds control characters; remove them (line breaks are fine).",
            [Problem("body", "no control characters")],
        )
    return text


def _served_here(actor: Actor, user_id: Any) -> ColumnElement[bool]:
    """``user_id`` was served the comment's task in the actor's workforce."""
    return exists().where(
        Assignment.task_id == TaskComment.task_id,
        Assignment.user_id == user_id,
        Assignment.workforce_id == actor.workforce_id,
    )


def _workforce_reviewer(actor: Actor) -> bool:
    return actor.vendor and actor.workforce_id is not None and actor.at_least(Role.reviewer)


def visible(actor: Actor) -> ColumnElement[bool]:
    """The comments this actor (scoped to the project) may read, on tasks they can see."""
    if actor.sees_whole_project:
        return true()
    mine = TaskComment.thread_user_id == actor.user_id
    if _workforce_reviewer(actor):
        return or_(mine, _served_here(actor, TaskComment.thread_user_id))
    return mine


def _unread(actor: Actor, last_read: Any) -> ColumnElement[bool]:
    return and_(
        TaskComment.id > func.coalesce(last_read, 0),
        or_(TaskComment.author_id.is_(None), TaskComment.author_id != actor.user_id),
    )


@dataclass
class CommentView:
    id: int
    thread: int | None
    author: str
    mine: bool
    body: str
    created_at: datetime
    unread: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread": self.thread,
            "author": self.author,
            "mine": self.mine,
            "body": self.body,
            "created_at": self.created_at,
            "unread": self.unread,
        }


@dataclass
class ThreadView:
    user_id: int | None  # None: the lab's notes
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "label": self.label}


@dataclass
class TaskComments:
    task_id: int
    items: list[CommentView]
    threads: list[ThreadView]  # where the caller may write
    unread: int
    last_read_id: int
    lab: bool = False  # the caller sees every thread (and may write lab notes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "items": [c.as_dict() for c in self.items],
            "threads": [t.as_dict() for t in self.threads],
            "unread": self.unread,
            "last_read_id": self.last_read_id,
            "next_cursor": None,
        }


def _name(viewer: Actor, user_id: int | None, email: str | None, role: str, wf: Any) -> str:
    if user_id is not None and user_id == viewer.user_id:
        return "you"
    if not viewer.vendor:
        return email or "(a deleted account)"
    if role == Role.annotator.value and wf is not None and wf == viewer.workforce_id:
        return f"annotator #{user_id}" if user_id is not None else "an annotator"
    if wf is not None and wf == viewer.workforce_id:
        return "your workforce's reviewer"
    return _ROLE_NAMES.get(role, "an annotator")


def _thread_label(viewer: Actor, user_id: int | None, email: str | None) -> str:
    if user_id is None:
        return "Lab notes (only the lab's reviewers and managers see them)"
    if user_id == viewer.user_id:
        return "Your questions"
    if viewer.vendor or not email:
        return f"Annotator #{user_id}"
    return email


def _writable_threads(session: Session, actor: Actor, task_id: int) -> list[ThreadView]:
    """Whose threads the actor may write in on this task."""
    if not actor.sees_whole_project and not _workforce_reviewer(actor):
        return [ThreadView(actor.user_id, _thread_label(actor, actor.user_id, None))]
    served = select(Assignment.user_id).where(Assignment.task_id == task_id)
    if not actor.sees_whole_project:
        served = served.where(Assignment.workforce_id == actor.workforce_id)
    people = set(session.scalars(served))
    if actor.sees_whole_project:
        people |= set(
            session.scalars(
                select(TaskComment.thread_user_id).where(
                    TaskComment.task_id == task_id, TaskComment.thread_user_id.is_not(None)
                )
            )
        )
    else:
        people.add(actor.user_id)  # a vendor's reviewer may ask, too
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(people))).all())
    threads = [
        ThreadView(uid, _thread_label(actor, uid, emails.get(uid)))
        for uid in sorted(people, key=lambda u: (u != actor.user_id, emails.get(u, ""), u))
        if uid in emails
    ]
    if actor.sees_whole_project:
        threads.append(ThreadView(None, _thread_label(actor, None, None)))
    return threads


def _marker(session: Session, actor: Actor, task_id: int) -> int:
    return int(
        session.scalar(
            select(TaskCommentRead.last_read_id).where(
                TaskCommentRead.user_id == actor.user_id, TaskCommentRead.task_id == task_id
            )
        )
        or 0
    )


def task_comments(session: Session, actor: Actor, task_id: int) -> TaskComments:
    """The comments on a task the actor may read, oldest first, with their unread count."""
    task, project = get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    last_read = _marker(session, actor, task.id)
    rows = session.execute(
        select(TaskComment, User.email, User.id)
        .outerjoin(User, User.id == TaskComment.author_id)
        .where(TaskComment.task_id == task.id, visible(actor))
        .order_by(TaskComment.id)
        .limit(MAX_PER_TASK)
    ).all()
    items = [
        CommentView(
            id=c.id,
            thread=c.thread_user_id,
            author=_name(actor, uid, email, c.author_role, c.author_workforce_id),
            mine=uid is not None and uid == actor.user_id,
            body=c.body,
            created_at=c.created_at,
            unread=c.id > last_read and uid != actor.user_id,
        )
        for c, email, uid in rows
    ]
    return TaskComments(
        task_id=task.id,
        items=items,
        threads=_writable_threads(session, actor, task.id),
        unread=sum(1 for c in items if c.unread),
        last_read_id=last_read,
        lab=actor.sees_whole_project,
    )


def post(
    session: Session, actor: Actor, task_id: int, *, body: Any, thread: int | None = None
) -> TaskComment:
    """Write a comment on a task: in the caller's own thread by default; the lab in anyone's
    thread (``thread``: their user id) or, without one, as a lab note; a vendor's reviewer in
    their workforce's people's threads."""
    task, project = get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    text = clean_body(body)
    if thread is None and not actor.sees_whole_project:
        thread = actor.user_id
    if thread is not None and thread != actor.user_id:
        allowed = {t.user_id for t in _writable_threads(session, actor, task.id)}
        if thread not in allowed:
            raise InvalidInput(
                "You can write only in your own questions on this task"
                if not (actor.sees_whole_project or _workforce_reviewer(actor))
                else "Nobody by that id was given this task; pick one of its annotators.",
                [Problem("thread", "not a thread you may write in")],
            )
    count = session.scalar(select(func.count()).where(TaskComment.task_id == task.id)) or 0
    if count >= MAX_PER_TASK:
        raise Conflict(
            f"Task {task.id} already has {MAX_PER_TASK} comments; continue the conversation "
            "elsewhere (e.g. in the project's instructions)."
        )
    comment = TaskComment(
        project_id=project.id,
        task_id=task.id,
        thread_user_id=thread,
        author_id=actor.user_id,
        author_role=actor.role.value,
        author_workforce_id=actor.workforce_id,
        body=text,
        created_at=utcnow(),
    )
    session.add(comment)
    session.flush()
    _move_marker(session, actor.user_id, task.id, comment.id)  # one's own words are read
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="task.comment",
        object_type="task",
        object_id=task.id,
        details={"comment": comment.id, "thread": thread, "length": len(text)},
    )
    return comment


def _move_marker(session: Session, user_id: int, task_id: int, last_id: int) -> None:
    """Read up to ``last_id``; a marker never moves back (an older tab marking less)."""
    table = TaskCommentRead.__table__
    now = utcnow()
    stmt = dialect_insert(session, table).values(  # type: ignore[arg-type]
        user_id=user_id, task_id=task_id, last_read_id=last_id, read_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id", "task_id"],
            set_={"last_read_id": stmt.excluded.last_read_id, "read_at": stmt.excluded.read_at},
            where=table.c.last_read_id < stmt.excluded.last_read_id,  # type: ignore[attr-defined]
        )
    )


def mark_read(session: Session, actor: Actor, task_id: int, *, up_to: int | None = None) -> int:
    """Mark the task's comments the actor can see as read (up to ``up_to``, if given); the
    task's unread count for them afterwards."""
    task, project = get_task(session, actor, task_id)
    actor = actor.in_project(project.id)
    last = session.scalar(
        select(func.max(TaskComment.id)).where(TaskComment.task_id == task.id, visible(actor))
    )
    if last is not None:
        _move_marker(session, actor.user_id, task.id, min(last, up_to) if up_to else last)
    marker = _marker(session, actor, task.id)
    return int(
        session.scalar(
            select(func.count()).where(
                TaskComment.task_id == task.id,
                visible(actor),
                _unread(actor, marker),
            )
        )
        or 0
    )


MAX_UNREAD_TASKS = 200


def unread_in_project(session: Session, actor: Actor, project_id: int) -> dict[int, int]:
    """``{task id: unread comments}`` for the caller in a project (the first
    :data:`MAX_UNREAD_TASKS` tasks by id). Annotators and a vendor's people: their own
    threads; the lab: every comment in the project."""
    actor = actor.in_project(project_id)
    get_project(session, actor, project_id)
    read = TaskCommentRead
    condition = true() if actor.sees_whole_project else TaskComment.thread_user_id == actor.user_id
    rows = session.execute(
        select(TaskComment.task_id, func.count())
        .outerjoin(read, and_(read.user_id == actor.user_id, read.task_id == TaskComment.task_id))
        .where(
            TaskComment.project_id == project_id,
            condition,
            _unread(actor, read.last_read_id),
        )
        .group_by(TaskComment.task_id)
        .order_by(TaskComment.task_id)
        .limit(MAX_UNREAD_TASKS)
    )
    return {task_id: n for task_id, n in rows}
