"""The task browser's status filters, read from an index on the task's progress.

A task's status is derived from its counters and the project's overlap (``task_status``):
new (``taken = 0 AND done = 0``), in progress (started, ``done < overlap``), done
(``done >= overlap``). Walking ``ix_task_browse`` in id order and testing that filtered past
every task of another status: 0.9-1.5 s a page at 1M tasks for a sparse status mid-project.
The overlap is the project's and may change, so no index can hold the status itself;
``ix_task_status (project_id, status_key, id)`` (migration 0024) holds the next best thing,
``-1`` for a new task and ``done`` otherwise. Each status is a few key values (new: -1; in
progress: 0 .. overlap-1; done: overlap and up), and each key value is one index range in id
order. A page reads each present key value's range from the cursor and merges them by id, so
its cost no longer depends on how many tasks have another status. The key values present
are found by a skip scan of the same index (one probe per value), usually two or three.

The planners: SQLite (no statistics) walks ``key = ? AND id > ? ORDER BY id`` in this index
by itself. PostgreSQL would rather walk the primary key from the cursor whenever its
statistics promise matches soon, and cannot know that the done tasks all lie before the
cursor (0.9 s for one empty page). It is given ``ORDER BY key, id`` with the key as a range
and a row comparison ``(key, id) > (k, cursor)``: only this index returns that order, from
the cursor on. (SQLite does not seek on a row comparison over an expression column, hence
the two spellings.)

Counters are counts (never negative), which the key values rely on; the status predicates
of in progress and done are kept as filters too, so a page holds what the old query returned.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from labelhouse.tasks.models import Task

NEW_KEY = -1
# More key values than this (gold tasks answered by very many people) and a page walks the
# project in id order as before: correct, only slower.
MAX_ARMS = 64

# ``models.STATUS_KEY_SQL``, the index's expression, with literals (not bound parameters) so
# that both planners match it to the index.
_ZERO = literal_column("0")
status_key: ColumnElement[int] = case(
    (and_(Task.taken == _ZERO, Task.done == _ZERO), literal_column(str(NEW_KEY))),
    else_=Task.done,
)


def status_condition(status: str, overlap: int) -> ColumnElement[bool]:
    """The status filter as a plain predicate (the browser's definition, ``task_status``)."""
    if status == "done":
        return Task.done >= overlap
    if status == "new":
        return and_(Task.taken == 0, Task.done == 0)
    return and_(or_(Task.taken > 0, Task.done > 0), Task.done < overlap)


def key_range(status: str, overlap: int) -> tuple[int, int | None]:
    """The status key values a status covers, as (lowest, highest or None for no bound)."""
    if status == "new":
        return NEW_KEY, NEW_KEY
    if status == "in_progress":
        return 0, overlap - 1
    return overlap, None


_PROBE = select(func.min(status_key)).where(
    Task.project_id == bindparam("pid"), status_key >= bindparam("lo")
)


def present_keys(session: Session, project_id: int, lo: int, hi: int | None) -> list[int] | None:
    """The key values in ``lo..hi`` that some task of the project has, ascending: a skip scan
    of ``ix_task_status``, one index probe per value. None past :data:`MAX_ARMS` values."""
    if lo == hi == NEW_KEY:
        return [NEW_KEY]
    keys: list[int] = []
    while True:
        key = session.execute(_PROBE, {"pid": project_id, "lo": lo}).scalar()
        if key is None or (hi is not None and key > hi):
            return keys
        if len(keys) == MAX_ARMS:
            return None
        keys.append(int(key))
        lo = int(key) + 1


def _arm(query: Select[tuple[Task]], key: int, after_id: int, dialect: str) -> Select[tuple[Task]]:
    """The tasks of ``query`` with one key value, after the cursor, in id order."""
    if dialect == "postgresql":
        return query.where(
            status_key >= key,
            status_key <= key,
            tuple_(status_key, Task.id) > tuple_(key, after_id),
        ).order_by(status_key, Task.id)
    return query.where(status_key == key).order_by(Task.id)


def status_page(
    session: Session,
    query: Select[tuple[Task]],
    *,
    project_id: int,
    status: str,
    overlap: int,
    after_id: int,
    limit: int,
) -> list[Task] | None:
    """Up to ``limit`` + 1 tasks of ``query`` (every other filter already applied, no order)
    with ``status``, after ``after_id`` in id order; None when the key values are too many
    (the caller then walks in id order with :func:`status_condition`)."""
    keys = present_keys(session, project_id, *key_range(status, overlap))
    if keys is None:
        return None
    if status != "new":
        # For new the key says it all (-1 is only ever taken = 0 AND done = 0), and SQLite
        # would substitute those constants into the key expression, which then no longer
        # matches the index (its constant propagation): the page walked ix_task_browse.
        query = query.where(status_condition(status, overlap))
    dialect = session.get_bind().dialect.name
    arms: list[Iterator[Task]] = [
        iter(session.scalars(_arm(query, key, after_id, dialect).limit(limit + 1)).all())
        for key in keys
    ]
    merged = heapq.merge(*arms, key=lambda task: task.id)
    return list(itertools.islice(merged, limit + 1))
