"""The work queue, tasks and annotations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Header, Query, Response
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.annotations import idempotency
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.annotations.queries import TaskFilters, browse_tasks
from labelhouse.errors import Conflict, InvalidInput, PermissionDenied, Problem
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.service import load_schema, load_schema_and_document, project_row
from labelhouse.review.gold import pause_gate
from labelhouse.review.task_state import task_review_state
from labelhouse.tasks import gold, heartbeat, queue
from labelhouse.tasks import service as tasks
from labelhouse.tasks.outside_policy import OutsideServing, serving_for
from labelhouse.tasks.progress import annotator_progress
from labelhouse.tasks.progress import day_start as start_of_day
from labelhouse.web.api.schemas import AnnotationIn, Body, SkipIn
from labelhouse.web.api.serializers import (
    annotation_out,
    json_response,
    revision_out,
    task_out,
    tasks_out,
)
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import ID_MAX, Cursor, Id

router = APIRouter(prefix="/api", tags=["work"])


RENDER_HELP = "add 'rendered': {field: {...}}, sanitized Markdown HTML the widgets show"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        description="a new random value (a UUID) per request, the same one when retrying it: "
        "a retry gets the first answer back (with 'Idempotent-Replayed: true') and nothing "
        "is written twice; the same key with another request is a 422. Kept 24 hours.",
    ),
]
REPLAYED = {"Idempotent-Replayed": "true"}


# Plain query parameters of the two hot routes, not a sub-dependency: each dependency FastAPI
# solves costs the annotator's every request, and a sync one a hop to a worker thread.
Progress = Annotated[
    bool,
    Query(
        description="add 'progress': {done_today, done, remaining, remaining_capped}, the "
        "caller's counts in this project (remaining includes the task served, and stops "
        "counting at 1000: remaining_capped)",
    ),
]
DayStart = Annotated[
    datetime | None,
    Query(
        description="with progress: when the caller's day began (e.g. local midnight as an "
        "ISO time with its offset), for done_today; default: midnight UTC",
    ),
]


def progress_since(progress: bool, day_start: datetime | None) -> datetime | None:
    """When "today" began for the progress counts, or None when they were not asked for."""
    return start_of_day(day_start) if progress else None


def _fingerprint(ctx: Context, body: Body | None) -> str:
    sent = body.model_dump(mode="json") if body is not None else None
    return idempotency.fingerprint(ctx.request.method, ctx.request.url.path, sent)


def disguise_gold(out: dict[str, Any], task: Any, overlap: int, *, submitted: bool) -> None:
    """A gold task shown to an annotator: counters as an ordinary task would have them
    (``submitted``: the viewer has submitted their answer). Every route an annotator uses
    goes through here, so ``/next``, the task and the listing tell the same story."""
    done = gold.disguised_done(task, overlap, submitted_by_viewer=submitted)
    out["annotations_done"] = done
    out["status"] = "done" if done >= overlap else "in_progress" if task.taken or done else "new"


def _submitted(own: list[Any]) -> bool:
    return any(a.status == "submitted" for a in own)


@dataclass
class Rendering:
    """A task's display HTML, to render once the unit of work has ended: Markdown may take
    a noticeable time (see :mod:`labelhouse.markdown`), and inside ``ctx.write()`` it would
    hold SQLite's write lock (every other writer waits) or a PostgreSQL transaction open.
    Needs no session: the schema is parsed and ``data`` is the task's plain JSON."""

    schema: LabelSchema
    data: dict[str, Any]
    into: dict[str, Any]

    def __call__(self) -> None:
        self.into["rendered"] = self.schema.display(self.data)


def render_after(rendering: Rendering | None) -> None:
    if rendering is not None:
        rendering()


# Display HTML of data up to this size (its JSON, in bytes) is rendered wherever the answer
# is made, even on the event loop (web/api/lean_routes.py): well under a millisecond for
# ordinary text, 4 ms for the renderer's worst case at this size (bench/bench_markdown.py).
SMALL_RENDERING = 16_384


@dataclass
class Answer:
    """A hot route's answer once its unit of work has ended: the body, and the display HTML
    still to render into it. Two steps, so the lean route can run the first on the event
    loop and send a big rendering to a worker thread."""

    body: dict[str, Any]
    rendering: Rendering | None = None
    status_code: int = 200
    replayed: bool = False

    @property
    def quick(self) -> bool:
        """Whether making the response costs next to nothing (see SMALL_RENDERING)."""
        r = self.rendering
        return r is None or len(orjson.dumps(r.data)) <= SMALL_RENDERING

    def response(self) -> Response:
        render_after(self.rendering)
        response = json_response(self.body, status_code=self.status_code)
        if self.replayed:
            response.headers.update(REPLAYED)
        return response


def next_payload(
    s: Session,
    actor: Actor,
    project_id: int,
    *,
    render: bool,
    durable: bool = True,
    since: datetime | None = None,
) -> tuple[dict[str, Any], Rendering | None]:
    """Lease (or re-read) the caller's current task: the body of ``/next`` (``durable``: see
    :func:`labelhouse.tasks.queue.claim_next`), and with ``render`` its display HTML to
    render after the commit (``rendered``, filled in by :func:`render_after`). With
    ``since`` (:func:`progress_since`) the caller's progress counts too (``progress``)."""
    lease = queue.claim_next(s, actor, project_id, gate=pause_gate, durable=durable)
    if lease is None:
        row = project_row(s, actor, project_id)
        body: dict[str, Any] = {"task": None, "lease": None, "schema_version": row.schema_version}
        if since is not None:
            progress = annotator_progress(s, actor, row, since=since, holding=False)
            body["progress"] = progress.as_dict()
        return body, None
    project = lease.project
    schema, document = load_schema_and_document(s, project)
    task_id = lease.task.id
    preds = tasks.predictions_of_task(s, task_id) if lease.any_predictions else []
    # A fresh lease cannot have an annotation yet (a task is never leased twice).
    own = [] if lease.created else annotations.own_annotations(s, actor, task_id)
    outside = serving_for(s, actor, project.id, schema, leases={task_id: lease.assignment_id})
    task = task_out(s, lease.task, project, predictions=preds, annotations=own, outside=outside)
    if lease.task.gold is not None:
        disguise_gold(task, lease.task, project.overlap, submitted=_submitted(own))
    body = {
        "task": task,
        "lease": {
            "expires_at": lease.expires_at,
            "new": lease.created,
            "hold": lease.hold_token,
            "seconds": project.lease_seconds,
        },
        "schema_version": project.schema_version,
        "schema": document,
    }
    if since is not None:
        progress = annotator_progress(s, actor, project, since=since, holding=True)
        body["progress"] = progress.as_dict()
    # Rendered from what is shown: a vendor's Markdown from the redacted, marked data.
    return body, Rendering(schema, task["data"], task) if render else None


@router.post("/projects/{project_id}/next")
def next_task(
    project_id: Id,
    ctx: Ctx,
    render: bool = Query(default=False, description=RENDER_HELP),
    progress: Progress = False,
    day_start: DayStart = None,
) -> Response:
    """Lease the next task for the caller (the same one again while the lease is held).

    ``task`` is null when nothing is left for this annotator. The response carries the
    schema so a client needs no second request; ``annotations`` holds the caller's own
    draft or submission if there is one.
    """
    return lease_next(project_id, ctx, render, progress, day_start).response()


def lease_next(
    project_id: int, ctx: Context, render: bool, progress: bool, day_start: datetime | None
) -> Answer:
    """:func:`next_task`'s unit of work (the lean route calls it apart from the response)."""
    with ctx.write(hot=True) as (s, actor):
        # A lease lost in a database crash just returns to the queue: no need to wait for
        # the disk at commit.
        body, rendering = next_payload(
            s,
            actor,
            project_id,
            render=render,
            durable=False,
            since=progress_since(progress, day_start),
        )
    return Answer(body, rendering)  # rendered once committed: the write lock is free again


@router.post("/tasks/{task_id}/skip", status_code=204)
def skip_task(
    task_id: Id, ctx: Ctx, body: SkipIn | None = None, idempotency_key: IdempotencyKey = None
) -> Response:
    """Give the task back for good (it will not come to you again); ``reason`` and
    ``note`` are kept (shown on the task page). A reason ending in "(write it)" needs a
    ``note`` (422 without one)."""
    request = _fingerprint(ctx, body)
    with ctx.write() as (s, actor):

        def write() -> idempotency.Reply:
            reason, note = (body.reason, body.note) if body else (None, None)
            queue.skip(s, actor, task_id, reason=reason, note=note)
            return idempotency.Reply(204)

        reply = idempotency.run_once(s, actor.user_id, idempotency_key, request, write)
    return Response(status_code=204, headers=REPLAYED if reply.replayed else None)


_HOLD_HELP = (
    "the `lease.hold` of the /next answer this client was served: the lease is given back "
    "only if nobody was served it since (409 otherwise); without it, whoever holds it"
)
_HOLD_PATTERN = r"^[0-9]{1,19}\.[0-9]{1,10}$"


@router.delete("/tasks/{task_id}/lease", status_code=204)
def release_task(
    task_id: Id,
    ctx: Ctx,
    hold: str | None = Query(default=None, pattern=_HOLD_PATTERN, description=_HOLD_HELP),
) -> None:
    """Give the task back at once, without a trace (another annotator may take it now)."""
    with ctx.write() as (s, actor):
        queue.release(s, actor, task_id, hold=hold)


@router.post("/tasks/{task_id}/lease/release", status_code=204)
def release_task_by_beacon(
    task_id: Id,
    ctx: Ctx,
    csrf_token: str | None = Form(
        default=None,
        max_length=200,
        description="for a browser session, when the X-CSRF-Token header cannot be sent",
    ),
    hold: str | None = Form(default=None, pattern=_HOLD_PATTERN, description=_HOLD_HELP),
) -> None:
    """``DELETE /lease`` for ``navigator.sendBeacon``, which can only POST and cannot set
    headers: the annotate page gives its task back as it closes, the CSRF token in a form
    field, and names its ``hold`` so that a reload's late beacon leaves the reloaded page's
    lease alone. Cross-site requests are refused as for any other write."""
    with ctx.write(csrf=csrf_token) as (s, actor):
        queue.release(s, actor, task_id, hold=hold)


@router.post("/tasks/{task_id}/lease/renew")
def renew_lease(task_id: Id, ctx: Ctx) -> Response:
    """Heartbeat of an open page: the lease runs the project's ``lease_seconds`` from now.
    An ended lease (submitted, skipped, expired and taken back) is a 409 saying which."""
    with ctx.write() as (s, actor):
        renewal = heartbeat.renew(s, actor, task_id)
    return json_response(
        {
            "task_id": task_id,
            "expires_at": renewal.expires_at,
            "lease_seconds": renewal.lease_seconds,
        }
    )


@router.get("/projects/{project_id}/tasks")
def list_tasks(
    project_id: Id,
    ctx: Ctx,
    cursor: Cursor = 0,
    limit: int = Query(default=50, ge=1, le=500),
    status: str | None = None,
    external_id: str | None = None,
    q: str | None = Query(default=None, max_length=200, description="text in the task data"),
    annotator: int | None = Query(
        default=None, ge=1, le=ID_MAX, description="user id with a submission"
    ),
    field: str | None = Query(default=None, max_length=64, description="label field…"),
    value: str | None = Query(default=None, max_length=200, description="…and its value"),
    match: str = Query(default="is", description="'is' or 'contains' (for value)"),
) -> dict[str, Any]:
    """Keyset pages of tasks; filters combine (see ``annotations/queries.py`` for how label
    values match). For annotators ``status`` selects by the status they are shown, so a
    page may hold fewer than ``limit`` items (follow ``next_cursor``)."""
    with ctx.read() as (s, actor):
        # An annotator is shown gold tasks' counters disguised: filtering on the true ones
        # would list a gold task under a status it does not show (or leave a gap).
        shown_status = None
        if status in tasks.TASK_STATUSES and not actor.in_project(project_id).sees_whole_project:
            shown_status, status = status, None
        filters = TaskFilters(status, external_id, q, annotator, field, value, match)
        page = browse_tasks(s, actor, project_id, filters, after_id=cursor, limit=limit)
        project = project_row(s, actor, project_id)
        outside = serving_for(
            s, actor, project_id, load_schema(s, project), task_ids=[t.id for t in page.items]
        )
        if outside is not None and outside.hides_data and q:
            raise PermissionDenied(  # a search would tell hidden or redacted text apart
                "Searching task text is not available to outside workforces in this project."
            )
        items = tasks_out(s, page.items, project, outside=outside)
        golds = [t.id for t in page.items if t.gold is not None]
        if golds and not actor.in_project(project_id).sees_whole_project:  # they look ordinary
            mine = gold.submitted_by(s, actor.user_id, golds)
            for out, t in zip(items, page.items, strict=True):
                if t.gold is not None:
                    disguise_gold(out, t, project.overlap, submitted=t.id in mine)
        if shown_status is not None:
            items = [out for out in items if out["status"] == shown_status]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/tasks/{task_id}")
def get_task(
    task_id: Id, ctx: Ctx, render: bool = Query(default=False, description=RENDER_HELP)
) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        task, project = tasks.get_task(s, actor, task_id)
        preds = tasks.predictions_of_task(s, task.id)
        anns = annotations.annotations_of_task(s, actor, task.id)
        schema = load_schema(s, project)
        outside = serving_for(s, actor, project.id, schema, task_ids=[task.id])
        out = task_out(s, task, project, predictions=preds, annotations=anns, outside=outside)
        if actor.in_project(project.id).sees_whole_project:  # review speaks of every answer
            out["review_state"] = task_review_state(s, task, project.overlap).as_dict()
        if actor.in_project(project.id).at_least(Role.manager):
            out["gold"] = task.gold  # only managers see expected values
        elif task.gold is not None:
            disguise_gold(out, task, project.overlap, submitted=_submitted(anns))
        rendering = Rendering(schema, out["data"], out) if render else None
    render_after(rendering)  # after the read transaction, like /next
    return out


@router.post("/tasks/{task_id}/annotations")
def save_annotation(
    task_id: Id,
    body: AnnotationIn,
    ctx: Ctx,
    next: bool = Query(
        default=False,
        description="also lease the caller's next task in this project and return "
        '{"annotation": ..., "next": <the /next body>} (one round trip per task)',
    ),
    render: bool = Query(default=False, description=RENDER_HELP + " (with next)"),
    progress: Progress = False,
    day_start: DayStart = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Submit (or, with ``draft``, save) the caller's annotation; resubmitting updates it and
    keeps the previous revision. Saving again exactly what is stored changes nothing (no
    revision, no lead time added). Invalid values: 422 listing every field's problem.

    With ``next=1`` the submission and the next lease share one transaction, so the browser
    shows the next task as soon as this answer arrives: the queue holds one lease per
    annotator, so the next task cannot be leased ahead of the submit. A replayed answer
    (``Idempotency-Key``) carries the annotation as first answered and the lease held now.
    """
    return submit(task_id, body, ctx, next, render, progress, day_start, idempotency_key).response()


def submit(
    task_id: int,
    body: AnnotationIn,
    ctx: Context,
    next: bool,
    render: bool,
    progress: bool,
    day_start: datetime | None,
    idempotency_key: str | None,
) -> Answer:
    """:func:`save_annotation`'s unit of work (the lean route calls it apart from the
    response)."""
    if next and body.draft:
        raise InvalidInput(
            "A draft is not finished, so there is no next task to fetch with it.",
            [Problem("next", "send next=1 only with a submission (draft: false)")],
        )
    # Only a keyed request is compared with an earlier one (the browser's are; scripts' may not be).
    request = _fingerprint(ctx, body) if idempotency_key is not None else ""
    rendering: Rendering | None = None
    project_ids: list[int] = []  # the write's, so the next lease needs no second lookup
    with ctx.write(hot=True) as (s, actor):

        def write() -> idempotency.Reply:
            result = annotations.save(
                s,
                actor,
                task_id,
                value=body.value,
                draft=body.draft,
                lead_time_ms=body.lead_time_ms,
            )
            project_ids.append(result.annotation.project_id)
            shown = _answers_view(s, actor, result.annotation.project_id)
            return idempotency.Reply(
                200, {**annotation_out(result.annotation, shown), "created": result.created}
            )

        reply = idempotency.run_once(s, actor.user_id, idempotency_key, request, write)
        out: dict[str, Any] = reply.body
        if next:
            # a replay wrote nothing: the task's project, looked up (and scoped) now
            project_id = project_ids[0] if project_ids else tasks.get_task(s, actor, task_id)[1].id
            following: dict[str, Any] | None
            try:
                following, rendering = next_payload(
                    s, actor, project_id, render=render, since=progress_since(progress, day_start)
                )
            except (Conflict, PermissionDenied):
                # Archived meanwhile, or this answer paused the annotator (gold accuracy): the
                # submission still counts; the client's plain /next then shows why.
                following = None
            out = {"annotation": out, "next": following}
    # rendered once committed: the write lock is free again
    return Answer(out, rendering, reply.status, reply.replayed)


@router.get("/tasks/{task_id}/annotations")
def task_annotations(task_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        found = annotations.annotations_of_task(s, actor, task_id)
        shown = _answers_view(s, actor, found[0].project_id) if found else None
        items = [annotation_out(a, shown) for a in found]
    return {"items": items, "next_cursor": None}


@router.get("/annotations/{annotation_id}/history")
def annotation_history(annotation_id: Id, ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        revisions = annotations.history(s, actor, annotation_id)
        shown = None
        if actor.vendor:  # history() has just loaded the annotation: no second query
            project_id = s.get_one(Annotation, annotation_id).project_id
            shown = _answers_view(s, actor, project_id)
        items = [revision_out(r, shown) for r in revisions]
    return {"items": items, "next_cursor": None}


def _answers_view(s: Session, actor: Actor, project_id: int) -> OutsideServing | None:
    """How a vendor's person is shown their own answers (redacted like the task data)."""
    if not actor.vendor:
        return None
    return serving_for(s, actor, project_id, load_schema(s, project_row(s, actor, project_id)))
