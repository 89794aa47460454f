"""The work queue's invariants, checked over the whole database with set-based SQL, and a
repair for the counters the queue derives from its rows.

The queue keeps counters on its rows so that a claim needs no aggregate. They are caches of
rows kept elsewhere, moved in the same transaction as those rows (tasks/queue.py,
tasks/routing.py, annotations/service.py, review/service.py):

- a **counted submission** is an annotation with status ``submitted`` that review has not
  rejected (a rejection gives the slot back: ``done`` and ``taken`` drop, the assignment
  stays ``submitted`` so the person is not served the task again);
- ``task.taken`` = live leases (assignments ``leased``, including ones past ``expires_at``
  that the next claim has not reclaimed yet) + counted submissions;
- ``task.done`` = counted submissions;
- ``task.is_open`` = ``taken < project.overlap`` and the task is not gold (checked against
  the ``taken`` the rows give, so a wrong ``taken`` alone is one problem, not two);
- ``task_route.taken`` = the live leases and counted submissions on the task whose
  assignment was served in the route's workforce (``assignment.workforce_id``), and
  ``task_route.is_open`` = ``taken < quota``. Routes of gold tasks are not checked: gold is
  served outside routing (a task routed first and marked gold later keeps dead route rows).

Further rules of the rows themselves: nobody has a task twice (one assignment and one
annotation per task and person: unique constraints, checked anyway since a damaged index
stops enforcing them); at most one live lease per person and project; a live lease has an
expiry and no finish time, an ended assignment a finish time; a submitted assignment has a
submitted annotation and the other way round; rows belong to their task's project; no
ordinary task holds more live leases and counted submissions than the project's overlap
(lowering the overlap later leaves such tasks legitimately: those are reported as notes).

Every check is one statement over whole tables (GROUP BY and anti-joins, no per-row
round trips), so a million-task database is checked in seconds. :func:`repair_counters`
(in :mod:`labelhouse.tasks.invariant_repair`) recomputes only the derived counters, never
assignments or annotations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from labelhouse.audit.models import AuditEvent
from labelhouse.tasks import invariant_queries as q
from labelhouse.tasks.invariant_queries import GROUPS, Found

_T, _R, _P = q.TASK, q.ROUTE, q.PROJECT

PROBLEM, NOTE = "problem", "note"
EXAMPLES = 5


def _yes(flag: Any) -> str:
    return "true" if flag else "false"


# What lease_fields' code column means
_FIELD_PROBLEMS: dict[int, str] = {
    1: "unknown status",
    2: "a live lease with a finish time",
    3: "a live lease without an expiry",
    4: "an ended assignment without a finish time",
}


@dataclass(frozen=True)
class Check:
    """One invariant: its ``key`` (stable, for scripts), the rule in words, how one example
    reads (from the task id and up to three numbers the check's query returns), and whether
    :func:`repair_counters` restores it."""

    key: str
    rule: str
    example: Callable[[int, Any, Any, Any], str]
    repairable: bool = False


CHECKS = {
    c.key: c
    for c in (
        Check(
            "task_taken",
            "task.taken equals the task's live leases plus its submitted annotations",
            lambda t, a, b, c: f"task {t}: taken {a}, rows say {b}",
            True,
        ),
        Check(
            "task_done",
            "task.done equals the task's submitted annotations (not rejected in review)",
            lambda t, a, b, c: f"task {t}: done {a}, rows say {b}",
            True,
        ),
        Check(
            "task_is_open",
            "task.is_open is true exactly when the task's rows leave it under the overlap "
            "and it is not gold",
            lambda t, a, b, c: (
                f"task {t}: is_open {_yes(not (a < b and c))}, rows say taken {a} of overlap {b}"
                + ("" if c else ", gold")
            ),
            True,
        ),
        Check(
            "task_over_overlap",
            "no ordinary task has more live leases plus submitted annotations than the overlap",
            lambda t, a, b, c: f"task {t}: {a} for an overlap of {b}",
        ),
        Check(
            "route_taken",
            "task_route.taken equals the live leases plus submitted annotations of the "
            "route's workforce on the task",
            lambda t, a, b, c: f"task {t}, workforce {a}: taken {b}, rows say {c}",
            True,
        ),
        Check(
            "route_is_open",
            "task_route.is_open is true exactly when the workforce's rows leave it under the quota",
            lambda t, a, b, c: (
                f"task {t}, workforce {a}: is_open {_yes(b >= c)}, rows say taken {b} of quota {c}"
            ),
            True,
        ),
        Check(
            "route_over_quota",
            "no workforce has more live leases plus submitted annotations on a task than its quota",
            lambda t, a, b, c: f"task {t}, workforce {a}: {b} for a quota of {c}",
        ),
        Check(
            "assignment_twice",
            "one assignment per task and person",
            lambda t, a, b, c: f"task {t}: person {a} has {b} assignments",
        ),
        Check(
            "annotation_twice",
            "one annotation per task and person",
            lambda t, a, b, c: f"task {t}: person {a} has {b} annotations",
        ),
        Check(
            "leases_per_person",
            "at most one live lease per person and project",
            lambda t, a, b, c: f"person {a} holds {b} live leases (one on task {t})",
        ),
        Check(
            "lease_fields",
            "a live lease has an expiry and no finish time; an ended assignment has a finish "
            "time; the status is leased, submitted, skipped or expired",
            lambda t, a, b, c: f"task {t}, person {a}: {_FIELD_PROBLEMS.get(b, b)}",
        ),
        Check(
            "submitted_without_annotation",
            "a submitted assignment has a submitted annotation by the same person",
            lambda t, a, b, c: f"task {t}, person {a}",
        ),
        Check(
            "annotation_without_submission",
            "a submitted annotation has a submitted assignment by the same person",
            lambda t, a, b, c: f"task {t}, person {a}",
        ),
        Check(
            "wrong_project",
            "assignments and annotations belong to their task's project",
            lambda t, a, b, c: (
                f"task {t}: {'an assignment' if c == 1 else 'an annotation'} of person {a} "
                f"says project {b}"
            ),
        ),
    )
}


@dataclass
class Violation:
    """One check failing in one project: how many rows, and the first few."""

    check: str
    project_id: int
    count: int
    examples: list[str]
    task_ids: list[int]
    severity: str = PROBLEM
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "rule": CHECKS[self.check].rule,
            "project_id": self.project_id,
            "count": self.count,
            "task_ids": self.task_ids,
            "examples": self.examples,
            "severity": self.severity,
            "note": self.note,
            "repairable": CHECKS[self.check].repairable,
        }


@dataclass
class QueueReport:
    violations: list[Violation]
    tasks: int
    projects: dict[int, str]  # names of the projects named in violations
    timings: dict[str, float] = field(default_factory=dict)  # seconds per group of checks

    @property
    def problems(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == PROBLEM]

    def repairable_projects(self) -> list[int]:
        return sorted({v.project_id for v in self.problems if CHECKS[v.check].repairable})

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": [{"key": c.key, "rule": c.rule} for c in CHECKS.values()],
            "tasks": self.tasks,
            "violations": [
                {**v.as_dict(), "project": self.projects.get(v.project_id)} for v in self.violations
            ],
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _run(session: Session, found: Found, examples: int) -> list[Violation]:
    """Count each check's rows per project and keep the first few, in one statement."""
    u = union_all(*found).subquery("found")
    part = (u.c.check, u.c.project_id)
    ranked = select(
        u,
        func.count().over(partition_by=part).label("n"),
        func.row_number().over(partition_by=part, order_by=(u.c.task_id, u.c.a)).label("rn"),
    ).subquery("ranked")
    rows = session.execute(
        select(ranked)
        .where(ranked.c.rn <= examples)
        .order_by(ranked.c.check, ranked.c.project_id, ranked.c.rn)
    )
    out: dict[tuple[str, int], Violation] = {}
    for key, project_id, task_id, a, b, c, n, _rn in rows:
        v = out.setdefault((key, project_id), Violation(key, project_id, int(n), [], []))
        v.task_ids.append(task_id)
        v.examples.append(CHECKS[key].example(task_id, a, b, c))
    return list(out.values())


def find_violations(
    session: Session,
    *,
    examples: int = EXAMPLES,
    progress: Callable[[str, int, int], None] | None = None,
) -> QueueReport:
    """Every check over the whole database: per check and project, how many rows break it
    and the first ``examples`` of them (by task id)."""
    found: dict[tuple[str, int], Violation] = {}
    timings: dict[str, float] = {}
    routed = session.execute(select(_R.c.id).limit(1)).first() is not None
    for done, (name, group) in enumerate(GROUPS.items()):
        if progress:
            progress(name, done, len(GROUPS))
        if name == "route counters" and not routed:
            continue  # nothing routed anywhere: skip the pass over every assignment
        started = time.perf_counter()
        for v in _run(session, group(), examples):
            seen = found.get((v.check, v.project_id))
            if seen is None:
                found[(v.check, v.project_id)] = v
            else:  # wrong_project comes from two groups
                seen.count += v.count
                seen.task_ids = (seen.task_ids + v.task_ids)[:examples]
                seen.examples = (seen.examples + v.examples)[:examples]
        timings[name] = time.perf_counter() - started
    if progress:
        progress("done", len(GROUPS), len(GROUPS))
    violations = sorted(found.values(), key=lambda v: (v.project_id, list(CHECKS).index(v.check)))
    _explain_lowered_overlap(session, violations)
    ids = sorted({v.project_id for v in violations})
    names = (
        {i: n for i, n in session.execute(select(_P.c.id, _P.c.name).where(_P.c.id.in_(ids)))}
        if ids
        else {}
    )
    tasks = session.execute(select(func.count()).select_from(_T)).scalar_one()
    return QueueReport(violations, int(tasks), names, timings)


def _explain_lowered_overlap(session: Session, violations: list[Violation]) -> None:
    """A task over its overlap is expected when the overlap was lowered after its work was
    handed out (``project.update`` in the audit log): then it is a note, not a problem."""
    for v in violations:
        if v.check != "task_over_overlap":
            continue
        org = session.scalar(select(_P.c.organization_id).where(_P.c.id == v.project_id))
        changes = session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.organization_id == org,
                AuditEvent.action == "project.update",
                AuditEvent.object_type == "project",
                AuditEvent.object_id == str(v.project_id),
            )
        )
        if any(isinstance(d, dict) and "overlap" in d for d in changes):
            v.severity = NOTE
            v.note = (
                "the project's overlap was changed (audit log: project.update); tasks served "
                "before it was lowered keep their annotators"
            )
