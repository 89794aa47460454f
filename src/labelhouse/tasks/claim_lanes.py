"""Which walk a PostgreSQL claim takes: the head of the queue, or one lane of it (issue 18).

Every claimer used to start at the head of the same ix_task_queue range. Each walk steps
over the entries of tasks already closed (a claim that closes a task is a non-HOT update:
its old ``is_open`` entry stays until vacuum, and cannot even be marked dead while a
snapshot may still see the row) and over the rows other claims have locked (SKIP LOCKED
still visits and tries each): both grow with the number of claims since the last vacuum
and with the number of claimers. So a claim made while another is in flight in the same
process walks one lane (``id % CLAIM_LANES``, index ix_task_lane, open tasks only) from a
*floor*, the lowest open id as last read (at most :data:`FLOOR_SECONDS` old). Lanes are
dealt round-robin, so they drain at one pace and the order stays "oldest open first"
within a few ids; a claim alone takes the exact head walk as before. The floor is only
where the walk starts: a task reopened below it (a release, a skip, an expired lease) is
found by the next read of the floor, and an empty lane falls back to the head walk, so
"nothing left" still means nothing left. Nothing here decides who may take what: the
statements' row locks, counters and constraints do (tasks/queue.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from labelhouse.tasks.models import CLAIM_LANES

FLOOR_SECONDS = 1.0  # how old a project's floor may be before a claim reads it again


@dataclass(frozen=True)
class Lane:
    """A lane to walk: ``lane`` (0 ≤ lane < CLAIM_LANES) from ``floor`` on; ``floor`` is
    None when this claim must read it first (:meth:`Lanes.set_floor` afterwards)."""

    lane: int
    floor: int | None


class Lanes:
    """Deals lanes to the claims in flight in this process and keeps each project's floor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._turn = 0
        self._floors: dict[int, tuple[int | None, float]] = {}
        self.dealt = 0  # lanes dealt so far (tests and benchmarks read it)

    @contextmanager
    def claiming(self, project_id: int) -> Iterator[Lane | None]:
        """For the duration of one claim: None while it is alone (walk the head), else the
        lane to walk. One claim per project and :data:`FLOOR_SECONDS` is asked to read the
        floor; the others meanwhile use the last one read (none yet: the head walk)."""
        now = time.monotonic()
        with self._lock:
            alone = self._in_flight == 0
            self._in_flight += 1
            self._turn += 1
            lane: Lane | None = None
            if not alone:
                floor, read_at = self._floors.get(project_id, (None, -FLOOR_SECONDS))
                if now - read_at >= FLOOR_SECONDS:
                    self._floors[project_id] = (floor, now)  # this claim reads it
                    lane = Lane(self._turn % CLAIM_LANES, None)
                elif floor is not None:
                    lane = Lane(self._turn % CLAIM_LANES, floor)
                self.dealt += lane is not None
        try:
            yield lane
        finally:
            with self._lock:
                self._in_flight -= 1

    def set_floor(self, project_id: int, floor: int | None) -> None:
        """The project's lowest open task id as just read (None: no open task)."""
        with self._lock:
            self._floors[project_id] = (floor, time.monotonic())
            if len(self._floors) > 10_000:  # projects come and go: keep the map small
                self._floors = {project_id: self._floors[project_id]}


LANES = Lanes()
