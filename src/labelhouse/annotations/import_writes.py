"""Writing a checked annotation import: answers, revisions, assignments and the queue's
counters, in set-based statements (one ``executemany`` each, whatever the file's size).

Nothing here checks anything: :mod:`labelhouse.annotations.imports` has planned every row
and found the slots free (holding the task rows locked on PostgreSQL). An imported answer
holds its slot exactly as a submitted one does (``tasks/invariants.py``): a ``submitted``
assignment by the same person (served in their workforce), ``task.taken`` and
``task.done`` one up, the route of their workforce one up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, insert, update
from sqlalchemy.orm import Session

from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.tasks.gold import open_expr
from labelhouse.tasks.models import Assignment, Task, TaskRoute

SUBMITTED = "submitted"
LEASED, EXPIRED, SKIPPED = "leased", "expired", "skipped"
# What an answer's assignment needs: a new row, a live lease closed (its slot is held
# already), an ended one (expired, skipped) submitted again, or nothing (submitted already).
NEW, CLOSE, REOPEN, KEEP = "new", "close", "reopen", "keep"

_AN: Table = Annotation.__table__  # type: ignore[assignment]
_REV: Table = AnnotationRevision.__table__  # type: ignore[assignment]
_A: Table = Assignment.__table__  # type: ignore[assignment]
_T: Table = Task.__table__  # type: ignore[assignment]
_R: Table = TaskRoute.__table__  # type: ignore[assignment]


@dataclass(slots=True)
class NewAnswer:
    task_id: int
    user_id: int
    value: dict[str, Any]
    created_at: datetime
    lead_time_ms: int
    assignment: str  # NEW, CLOSE, REOPEN or KEEP
    workforce_id: int | None  # the workforce whose route slot it takes


@dataclass(slots=True)
class Replacement:
    annotation_id: int
    revision: int  # the new one
    value: dict[str, Any]
    lead_time_ms: int  # the total, with this row's added
    added_lead_time_ms: int
    created_at: datetime


_UPDATE_ANSWER = (
    update(_AN)
    .where(_AN.c.id == bindparam("aid"))
    .values(
        revision=bindparam("revision"),
        status=SUBMITTED,
        value=bindparam("value"),
        schema_version=bindparam("schema_version"),
        lead_time_ms=bindparam("lead_time_ms"),
        updated_at=bindparam("updated_at"),
        review_status=None,  # a changed answer is a new answer: it waits for review again
        import_id=bindparam("import_id"),
    )
)
_ASSIGNMENT_SUBMITTED = (
    update(_A)
    .where(
        _A.c.task_id == bindparam("tid"),
        _A.c.user_id == bindparam("uid"),
        _A.c.status.in_([LEASED, EXPIRED, SKIPPED]),
    )
    .values(status=SUBMITTED, finished_at=bindparam("now"))
)
_COUNT = (
    update(_T)
    .where(_T.c.id == bindparam("tid"))
    .values(
        taken=_T.c.taken + bindparam("slots"),
        done=_T.c.done + bindparam("answers"),
        is_open=open_expr(_T.c.taken + bindparam("slots"), bindparam("overlap")),
    )
)
_COUNT_ROUTE = (
    update(_R)
    .where(and_(_R.c.task_id == bindparam("tid"), _R.c.workforce_id == bindparam("wf")))
    .values(
        taken=_R.c.taken + bindparam("n"),
        is_open=_R.c.taken + bindparam("n") < _R.c.quota,
    )
)


def write_new(
    session: Session,
    *,
    project_id: int,
    schema_version: int,
    overlap: int,
    import_id: int,
    answers: list[NewAnswer],
    routed: bool,
    now: datetime,
) -> None:
    """Store new answers with their first revision and their slots in the queue."""
    if not answers:
        return
    conn = session.connection()
    rows = [
        {
            "project_id": project_id,
            "task_id": a.task_id,
            "user_id": a.user_id,
            "status": SUBMITTED,
            "review_status": None,
            "value": a.value,
            "schema_version": schema_version,
            "revision": 1,
            "lead_time_ms": a.lead_time_ms,
            "created_at": a.created_at,
            "updated_at": a.created_at,
            "import_id": import_id,
        }
        for a in answers
    ]
    ids = conn.execute(insert(_AN).returning(_AN.c.id, sort_by_parameter_order=True), rows)
    conn.execute(
        insert(_REV),
        [
            {
                "annotation_id": aid,
                "revision": 1,
                "status": SUBMITTED,
                "value": a.value,
                "schema_version": schema_version,
                "lead_time_ms": a.lead_time_ms,
                "created_at": a.created_at,
                "import_id": import_id,
            }
            for aid, a in zip(ids.scalars().all(), answers, strict=True)
        ],
    )
    new = [a for a in answers if a.assignment == NEW]
    if new:
        conn.execute(
            insert(_A),
            [
                {
                    "project_id": project_id,
                    "task_id": a.task_id,
                    "user_id": a.user_id,
                    "status": SUBMITTED,
                    "leased_at": a.created_at,
                    "expires_at": a.created_at,
                    "finished_at": a.created_at,
                    "workforce_id": a.workforce_id,
                    "hold": 0,
                }
                for a in new
            ],
        )
    ended = [a for a in answers if a.assignment in (CLOSE, REOPEN)]
    if ended:
        conn.execute(
            _ASSIGNMENT_SUBMITTED, [{"tid": a.task_id, "uid": a.user_id, "now": now} for a in ended]
        )
    slots = Counter(a.task_id for a in answers if a.assignment != CLOSE)
    done = Counter(a.task_id for a in answers)
    conn.execute(
        _COUNT,
        [
            {"tid": tid, "slots": slots.get(tid, 0), "answers": n, "overlap": overlap}
            for tid, n in sorted(done.items())
        ],
    )
    if routed:
        taken = Counter(
            (a.task_id, a.workforce_id)
            for a in answers
            if a.assignment != CLOSE and a.workforce_id is not None
        )
        if taken:
            conn.execute(
                _COUNT_ROUTE,
                [{"tid": tid, "wf": wf, "n": n} for (tid, wf), n in sorted(taken.items())],
            )


def write_replacements(
    session: Session,
    *,
    schema_version: int,
    import_id: int,
    replacements: list[Replacement],
) -> None:
    """New revisions of answers that hold their slot already (``update=True``)."""
    if not replacements:
        return
    conn = session.connection()
    conn.execute(
        _UPDATE_ANSWER,
        [
            {
                "aid": r.annotation_id,
                "revision": r.revision,
                "value": r.value,
                "schema_version": schema_version,
                "lead_time_ms": r.lead_time_ms,
                "updated_at": r.created_at,
                "import_id": import_id,
            }
            for r in replacements
        ],
    )
    conn.execute(
        insert(_REV),
        [
            {
                "annotation_id": r.annotation_id,
                "revision": r.revision,
                "status": SUBMITTED,
                "value": r.value,
                "schema_version": schema_version,
                "lead_time_ms": r.added_lead_time_ms,
                "created_at": r.created_at,
                "import_id": import_id,
            }
            for r in replacements
        ],
    )
