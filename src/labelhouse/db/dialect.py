"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(session: Session | str, table: Table) -> Any:
    """The dialect's own ``INSERT`` (the one with ``on_conflict_do_nothing/do_update``), for
    the session's database or the dialect named (to build a statement once, ahead of time)."""
    name = session if isinstance(session, str) else session.get_bind().dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


def insert_ignoring_conflicts(
    session: Session | str, table: Table, index_elements: list[str] | None
) -> Any:
    """``INSERT … ON CONFLICT [(index_elements)] DO NOTHING`` for the session's dialect (or
    the dialect named).

    Without ``index_elements`` any unique violation (including partial indexes) is ignored.
    """
    return dialect_insert(session, table).on_conflict_do_nothing(index_elements=index_elements)


def relaxed_durability_column() -> ColumnElement[Any]:
    """A PostgreSQL column expression that lets its transaction's commit return before the
    WAL reaches the disk (``set_config('synchronous_commit', 'off', true)``, which is ``SET
    LOCAL``: this transaction only). A hot path adds it to a one-row SELECT it runs anyway,
    rather than paying a round trip for a ``SET`` statement.

    Only for transactions whose loss in a server crash is harmless, such as leasing a task:
    a lost lease just returns the task to the queue. A later synchronous commit (a submitted
    annotation) flushes the WAL up to itself, earlier relaxed commits included, so nothing a
    user was told is saved can be lost. SQLite in WAL mode with ``synchronous=NORMAL`` never
    waits for the disk at commit, so there is nothing to relax there.
    """
    return func.set_config("synchronous_commit", "off", True)
