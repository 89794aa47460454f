"""Checking an annotation import against the project before anything is written: which task
each row names, whether its value is valid there, who the annotator is, what is stored
already, and whether the queue has the slots (see :mod:`labelhouse.annotations.imports`).

Reads go in chunks of ids (``IN`` lists of at most :data:`CHUNK`); on PostgreSQL the task
rows that will get answers are locked (``FOR UPDATE``) so that no claim takes a slot between
this check and the write (claims skip locked rows); SQLite's write transaction already
holds the database's only write lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from labelhouse.accounts import externals
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.import_rows import Row
from labelhouse.annotations.import_writes import (
    CLOSE,
    EXPIRED,
    KEEP,
    LEASED,
    NEW,
    REOPEN,
    SKIPPED,
    NewAnswer,
    Replacement,
)
from labelhouse.annotations.models import Annotation
from labelhouse.errors import InvalidInput
from labelhouse.kinds.registry import LabelSchema
from labelhouse.projects.models import Project
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from labelhouse.tasks.visibility import visible_tasks

CHUNK = 500
SUBMITTED, REJECTED = "submitted", "rejected"
AddProblem = Callable[[str, str], None]


@dataclass(slots=True)
class _Task:
    id: int
    data: dict[str, Any]
    gold: bool
    taken: int


@dataclass(slots=True)
class _Stored:
    id: int
    status: str
    review_status: str | None
    value: Any
    revision: int
    lead_time_ms: int


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _chunks(items: list[Any]) -> Any:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


class Planner:
    """One import's checks; after :meth:`check` found no problem, what to write."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        project: Project,
        schema: LabelSchema,
        problem: AddProblem,
        *,
        update: bool,
    ) -> None:
        self.session, self.actor, self.project, self.schema = session, actor, project, schema
        self.problem = problem
        self.update = update
        self.lock = session.get_bind().dialect.name == "postgresql"
        self.users: dict[str, int] = {}  # identity → user id (negative: to be created)
        self.to_create: list[str] = []
        self.fresh: list[tuple[Row, _Task, dict[str, Any], str, int | None]] = []
        self.updates: list[tuple[Row, _Stored, dict[str, Any]]] = []
        self.unchanged = 0

    # -- checking ----------------------------------------------------------------------------
    def check(self, rows: list[Row], workforce_id: int | None) -> None:
        tasks = self._tasks(rows)
        valid: list[tuple[Row, _Task, dict[str, Any]]] = []
        for row in rows:
            task = tasks.get(
                ("x", row.external_id) if row.external_id is not None else ("i", row.task_id)
            )
            if task is None:
                key = "external_id" if row.external_id is not None else "task_id"
                self.problem(row.where, f"{key}: there is no task {row.task_ref} in this project")
                continue
            try:
                clean = self.schema.validate_annotation(row.value, task.data)
            except InvalidInput as exc:
                for d in exc.details:
                    self.problem(row.where, f"value.{d.field}: {d.problem}")
                continue
            valid.append((row, task, clean))
        self._resolve_annotators({row.annotator for row, _, _ in valid})
        real = sorted({uid for uid in self.users.values() if uid > 0})
        task_ids = sorted({task.id for _, task, _ in valid})
        stored, assigned = self._stored(task_ids, set(real))
        workforces = externals.workforces_of_users(self.session, self.actor.organization_id, real)
        seen: dict[tuple[int, int], str] = {}
        for row, task, clean in valid:
            uid = self.users[row.annotator]
            first = seen.setdefault((task.id, uid), row.where)
            if first != row.where:
                self.problem(
                    row.where,
                    f"annotator: {row.annotator} answers task {row.task_ref} on {first} already",
                )
                continue
            existing = stored.get((task.id, uid))
            if existing is not None:
                self._check_existing(row, existing, clean)
                continue
            status, served_in = assigned.get((task.id, uid), (None, None))
            how = {None: NEW, LEASED: CLOSE, EXPIRED: REOPEN, SKIPPED: REOPEN}.get(status, KEEP)
            wf = (
                served_in
                if status is not None
                else (workforces.get(uid) or (workforce_id if uid < 0 else None))
            )
            self.fresh.append((row, task, clean, how, wf))
        self._check_slots()

    def _tasks(self, rows: list[Row]) -> dict[tuple[str, Any], _Task]:
        """The project's (visible) tasks the rows name, by ("x", external id) / ("i", id)."""
        out: dict[tuple[str, Any], _Task] = {}
        keys = sorted({f"x:{r.external_id}" for r in rows if r.external_id is not None})
        ids = sorted({r.task_id for r in rows if r.task_id is not None})
        visible = visible_tasks(self.session, self.project.id)
        columns = (
            Task.id,
            Task.external_id,
            Task.dedup_key,
            cast(Task.data, Text),
            Task.gold.is_not(None),
            Task.taken,
        )
        for column, values in ((Task.dedup_key, keys), (Task.id, ids)):
            for chunk in _chunks(values):
                query = select(*columns).where(
                    Task.project_id == self.project.id, column.in_(chunk), visible
                )
                if self.lock:
                    query = query.with_for_update(of=Task)
                for tid, ext, dedup, data, gold, taken in self.session.execute(query):
                    task = _Task(tid, orjson.loads(data), bool(gold), taken)
                    out[("i", tid)] = task
                    if dedup.startswith("x:") and ext is not None:
                        out[("x", ext)] = task
        return out

    def _resolve_annotators(self, identities: set[str]) -> None:
        org = self.actor.organization_id
        members = externals.members_by_email(self.session, org, identities)
        others = [i for i in identities if i.lower() not in members]
        known = externals.externals_by_identity(self.session, org, others)
        for identity in sorted(identities):
            uid = members.get(identity.lower()) or known.get(identity)
            if uid is None:
                self.to_create.append(identity)
                uid = -len(self.to_create)
            self.users[identity] = uid

    def _stored(
        self, task_ids: list[int], users: set[int]
    ) -> tuple[dict[tuple[int, int], _Stored], dict[tuple[int, int], tuple[str, int | None]]]:
        """Answers and assignments of these people on these tasks."""
        stored: dict[tuple[int, int], _Stored] = {}
        assigned: dict[tuple[int, int], tuple[str, int | None]] = {}
        if not users:
            return stored, assigned
        for chunk in _chunks(task_ids):
            for tid, uid, *rest in self.session.execute(
                select(
                    Annotation.task_id,
                    Annotation.user_id,
                    Annotation.id,
                    Annotation.status,
                    Annotation.review_status,
                    cast(Annotation.value, Text),
                    Annotation.revision,
                    Annotation.lead_time_ms,
                ).where(Annotation.task_id.in_(chunk))
            ):
                if uid in users:
                    aid, status, review, value, revision, lead = rest
                    stored[(tid, uid)] = _Stored(
                        aid, status, review, orjson.loads(value), revision, lead
                    )
            for tid, uid, status, wf in self.session.execute(
                select(
                    Assignment.task_id,
                    Assignment.user_id,
                    Assignment.status,
                    Assignment.workforce_id,
                ).where(Assignment.task_id.in_(chunk))
            ):
                if uid in users:
                    assigned[(tid, uid)] = (status, wf)
        return stored, assigned

    def _check_existing(self, row: Row, existing: _Stored, clean: dict[str, Any]) -> None:
        if existing.status != SUBMITTED:
            self.problem(
                row.where,
                f"value: {row.annotator} has a draft for task {row.task_ref} (annotation "
                f"{existing.id}); an import cannot replace a draft: leave the row out",
            )
        elif _canonical(existing.value) == _canonical(clean):
            self.unchanged += 1  # stored already: a file imported again
        elif not self.update:
            self.problem(
                row.where,
                f"value: {row.annotator} already has a different answer to task {row.task_ref} "
                f"(annotation {existing.id}); import with update to store this one as its "
                "new revision, or leave the row out",
            )
        elif existing.review_status == REJECTED:
            self.problem(
                row.where,
                f"value: {row.annotator}'s answer to task {row.task_ref} was rejected in review "
                "and gave its slot back; an import cannot replace it",
            )
        else:
            self.updates.append((row, existing, clean))

    def _check_slots(self) -> None:
        """No ordinary task beyond the overlap, no workforce beyond its route's quota."""
        overlap = self.project.overlap
        needs = Counter(task.id for _, task, _, how, _ in self.fresh if how != CLOSE)
        by_id = {task.id: task for _, task, _, _, _ in self.fresh}
        over = {
            tid: by_id[tid].taken + n
            for tid, n in needs.items()
            if not by_id[tid].gold and by_id[tid].taken + n > overlap
        }
        if over:
            wanted = max(over.values())
            given: Counter[int] = Counter()
            for row, task, _, how, _ in self.fresh:
                if task.id not in over or how == CLOSE:
                    continue
                given[task.id] += 1
                if task.taken + given[task.id] == overlap + 1:
                    self.problem(
                        row.where,
                        f"task {row.task_ref} would hold {over[task.id]} answers for the "
                        f"project's overlap of {overlap} ({task.taken} held already by answers "
                        f"and live leases); raise the overlap to at least {wanted} (what this "
                        f"file needs) first, or leave {over[task.id] - overlap} of its rows out",
                    )
        if self.project.routed:
            self._check_routes()

    def _check_routes(self) -> None:
        wanted = Counter(
            (task.id, wf)
            for _, task, _, how, wf in self.fresh
            if how != CLOSE and wf is not None and not task.gold
        )
        if not wanted:
            return
        room: dict[tuple[int, int], tuple[int, int]] = {}
        for chunk in _chunks(sorted({tid for tid, _ in wanted})):
            query = select(
                TaskRoute.task_id, TaskRoute.workforce_id, TaskRoute.quota, TaskRoute.taken
            ).where(TaskRoute.task_id.in_(chunk))
            for tid, wf, quota, taken in self.session.execute(query):
                room[(tid, wf)] = (quota, taken)
        reported: set[tuple[int, int]] = set()
        for row, task, _, how, wf in self.fresh:
            key = (task.id, wf)
            if how == CLOSE or wf is None or key not in room or key in reported:
                continue
            quota, taken = room[key]
            if taken + wanted[key] > quota:
                reported.add(key)
                self.problem(
                    row.where,
                    f"task {row.task_ref} is routed to workforce {wf} with a quota of {quota} "
                    f"({taken} taken); this file adds {wanted[key]} answers from its people",
                )

    # -- what to write -----------------------------------------------------------------------
    def create_externals(self, workforce_id: int | None) -> int:
        if not self.to_create:
            return 0
        made = externals.create_externals(
            self.session, self.actor.organization_id, self.to_create, workforce_id
        )
        for identity, uid in made.items():
            self.users[identity] = uid
        return len(made)

    def new_answers(self, now: datetime) -> list[NewAnswer]:
        return [
            NewAnswer(
                task_id=task.id,
                user_id=self.users[row.annotator],
                value=clean,
                created_at=row.created_at or now,
                lead_time_ms=row.lead_time_ms,
                assignment=how,
                workforce_id=wf,
            )
            for row, task, clean, how, wf in self.fresh
        ]

    def replacements(self, now: datetime) -> list[Replacement]:
        return [
            Replacement(
                annotation_id=stored.id,
                revision=stored.revision + 1,
                value=clean,
                lead_time_ms=stored.lead_time_ms + row.lead_time_ms,
                added_lead_time_ms=row.lead_time_ms,
                created_at=row.created_at or now,
            )
            for row, stored, clean in self.updates
        ]
