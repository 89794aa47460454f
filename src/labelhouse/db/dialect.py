"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(
    session: Session | str, table: Table, index_elements: list[str] | None
) -> Any:
    """``INSERT … ON CONFLICT [(index_elements)] DO NOTHING`` for the session's dialect (or
    the dialect named, to build the statement once ahead of time).

    Without ``index_elements`` any unique violation (including partial indexes) is ignored.
    """
    name = session if isinstance(session, str) else session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
