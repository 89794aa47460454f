"""Prebuilt Core statements run straight on the DBAPI cursor, for the annotator's hot path.

Around each statement SQLAlchemy sets up an execution context, result metadata and rows:
~25 µs per statement, when SQLite itself needs a few (a task lookup: 34 µs through
``Connection.execute``, 7 µs on the cursor). A :class:`Prepared` statement is compiled by
SQLAlchemy, once per dialect and set of parameter names (as its own compiled cache keys
it), and run on the connection's cursor with SQLAlchemy's own bind and result processing
for each column's type: the same SQL, the same values in and out.

What the engine does around a statement is kept: it goes through the dialect's
``do_execute`` (where the PostgreSQL watchdog sits), and an error goes through SQLAlchemy's
own handling (the engine's ``handle_error`` hook turns faults into ``Busy``, a lost
connection is invalidated, anything else is raised as SQLAlchemy's wrapper, e.g.
``IntegrityError``). While anyone listens for statements (``before_cursor_execute``: a
test counting them, a profiler listing them) the statement takes the regular way.

Only for single-row statements whose SQL does not depend on the values (no expanding
``IN``, no Python-side column defaults to fill in): :class:`Prepared` refuses the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Prepared"]

Processor = Callable[[Any], Any]
_CACHE = "_labelhouse_prepared"  # the attribute of a dialect holding its compiled statements


@dataclass
class _Compiled:
    compiled: SQLCompiler
    sql: str
    order: tuple[str, ...] | None  # bind names in order for a positional paramstyle
    escaped: Mapping[str, str]  # bind name → the name in the SQL, where they differ
    binds: Mapping[str, Processor]
    returns_rows: bool
    results: tuple[Processor | None, ...] | None = None  # set at the first rows

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        values: Mapping[str, Any] = self.compiled.construct_params(params, escape_names=False)
        binds = self.binds
        if binds:
            values = {k: binds[k](v) if k in binds else v for k, v in values.items()}
        if self.order is not None:
            return tuple(values[k] for k in self.order)
        escaped = self.escaped
        return {escaped.get(k, k): v for k, v in values.items()} if escaped else values


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    if not isinstance(compiled, SQLCompiler):
        raise TypeError("not a SQL statement")
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a statement whose SQL depends on its values (expanding IN)")
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("a statement with Python-side column defaults to fill in")
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _Compiled(
        compiled=compiled,
        sql=compiled.string,
        order=order,
        escaped=dict(compiled.escaped_bind_names or {}),
        binds=dict(compiled._bind_processors),  # type: ignore[arg-type]
        returns_rows=bool(compiled._result_columns),  # a SELECT, or RETURNING
    )


class Prepared:
    """``statement`` compiled once per dialect and run on the DBAPI cursor; see the module
    docstring. ``execute`` returns the result rows as tuples (values processed as SQLAlchemy
    would), ``first`` the first or None."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement

    def _for(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        # Kept on the dialect (one per engine), so it lives and dies with its engine.
        cache: dict[tuple[Prepared, tuple[str, ...]], _Compiled] | None = getattr(
            dialect, _CACHE, None
        )
        if cache is None:
            cache = {}
            setattr(dialect, _CACHE, cache)
        found = cache.get((self, keys))
        if found is None:
            found = cache[(self, keys)] = _compile(self.statement, dialect, keys)
        return found

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dispatch = conn.dispatch
        if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
            result = conn.execute(self.statement, dict(params))
            return [tuple(row) for row in result] if result.returns_rows else []
        dialect = conn.dialect
        compiled = self._for(dialect, tuple(params))
        sql = compiled.sql
        parameters = compiled.parameters(params)
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            dialect.do_execute(cursor, sql, parameters, None)
            # Not cursor.description unless needed: psycopg builds it anew on every read
            # (an object per column, ~4 µs each: a project row has twenty).
            rows = cursor.fetchall() if compiled.returns_rows else []
            results = compiled.results
            if rows and results is None:
                results = compiled.results = _result_processors(
                    compiled, dialect, cursor.description
                )
        except BaseException as error:
            conn._handle_dbapi_exception(error, sql, parameters, cursor, None)
            raise  # not reached: the handler raises
        finally:
            cursor.close()
        if not rows:
            return []
        assert results is not None
        if not any(results):
            return [tuple(row) for row in rows]
        return [
            tuple(v if p is None or v is None else p(v) for p, v in zip(results, row, strict=True))
            for row in rows
        ]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.execute(conn, params)
        return rows[0] if rows else None


def _result_processors(
    compiled: _Compiled, dialect: Dialect, description: Sequence[Any]
) -> tuple[Processor | None, ...]:
    """Each column's result processor, as SQLAlchemy's result metadata picks it (by the
    column's type and the driver's type code)."""
    columns = compiled.compiled._result_columns
    if len(columns) != len(description):
        raise ValueError("result columns do not line up with the statement's")
    return tuple(
        column.type._cached_result_processor(dialect, described[1])
        for column, described in zip(columns, description, strict=True)
    )
