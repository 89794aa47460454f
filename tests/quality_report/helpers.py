"""Small generated projects whose answers the tests control."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelhouse.annotations import service as annotations
from labelhouse.db.engine import Database
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.factories import Member

Answer = Any | Callable[[Task], Any]


def annotate(
    db: Database, member: Member, pid: int, answers: dict[str, Answer], *, seconds: float = 5.0
) -> dict[str, int]:
    """Lease tasks in queue order and submit ``answers[external_id]`` (a value, or a function
    of the task); tasks without an answer are skipped. Returns {external_id: task id}."""
    done: dict[str, int] = {}
    while True:
        with db.session() as s:
            lease = queue.claim_next(s, member.actor, pid)
            if lease is None:
                return done
            ext = lease.task.external_id
            if ext in answers:
                answer = answers[ext]
                value = answer(lease.task) if callable(answer) else answer
                annotations.save(
                    s, member.actor, lease.task.id, value=value, lead_time_ms=int(seconds * 1000)
                )
                done[ext] = lease.task.id
            else:
                queue.skip(s, member.actor, lease.task.id)
