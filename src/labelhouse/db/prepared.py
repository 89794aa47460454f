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

``standalone=True`` lets the statement run as its own transaction in a hot unit of work
that has begun none yet (PostgreSQL: :mod:`labelhouse.db.deferred_begin`, which says what
that promises); anywhere else it runs as any other statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from labelhouse.db.deferred_begin import mark_standalone, standalone_cursors

__all__ = ["Prepared"]

Processor = Callable[[Any], Any]
_CACHE = "_labelhouse_prepared"  # the attribute of a dialect holding its compiled statements


class _Given:
    """Stands for a caller's value while a statement's parameters are planned."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


# One parameter in the order the driver takes them: (its name for a named paramstyle, the
# caller's key, or None for a value of the statement's own; its bind processor; that value).
_Step = tuple[str, str | None, Processor | None, Any]


@dataclass
class _Compiled:
    compiled: SQLCompiler
    sql: str
    order: tuple[str, ...] | None  # bind names in order for a positional paramstyle
    escaped: Mapping[str, str]  # bind name → the name in the SQL, where they differ
    binds: Mapping[str, Processor]
    returns_rows: bool
    plan: tuple[_Step, ...] | None = None  # see planned(); None: the general way
    # (column index, result processor) of the columns that have one; set at the first rows
    converters: tuple[tuple[int, Processor], ...] | None = None

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        plan = self.plan
        if plan is not None:
            if self.order is not None:
                return tuple(
                    [
                        value if key is None else params[key] if p is None else p(params[key])
                        for _, key, p, value in plan
                    ]
                )
            return {
                name: value if key is None else params[key] if p is None else p(params[key])
                for name, key, p, value in plan
            }
        values: Mapping[str, Any] = self.compiled.construct_params(params, escape_names=False)
        binds = self.binds
        if binds:
            values = {k: binds[k](v) if k in binds else v for k, v in values.items()}
        if self.order is not None:
            return tuple(values[k] for k in self.order)
        escaped = self.escaped
        return {escaped.get(k, k): v for k, v in values.items()} if escaped else values

    def planned(self, keys: tuple[str, ...]) -> _Compiled:
        """With :attr:`plan` made: what ``construct_params`` does with these keys (which
        caller's value goes where, which values are the statement's own), worked out once
        by running it on stand-ins, so that each run only picks the values and processes
        them (``construct_params`` cost about as much as the statement itself on SQLite).
        Not for binds whose value is computed at each run (``callable_``)."""
        if any(b.callable is not None for b in self.compiled.binds.values()):
            return self
        stand_ins = {k: _Given(k) for k in keys}
        names = self.compiled.construct_params(stand_ins, escape_names=False)
        steps: dict[str, _Step] = {}
        for name, value in names.items():
            p = self.binds.get(name)
            if isinstance(value, _Given):
                steps[name] = (self.escaped.get(name, name), value.key, p, None)
            else:  # the statement's own value, processed once
                steps[name] = (self.escaped.get(name, name), None, None, p(value) if p else value)
        self.plan = tuple(steps[n] for n in self.order) if self.order else tuple(steps.values())
        return self


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
    ).planned(keys)


class Prepared:
    """``statement`` compiled once per dialect and run on the DBAPI cursor; see the module
    docstring. ``execute`` returns the result rows as tuples (values processed as SQLAlchemy
    would), ``first`` the first or None. ``standalone``: see the module docstring."""

    def __init__(self, statement: Executable, *, standalone: bool = False) -> None:
        self.statement = statement
        self.standalone = standalone

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
        # The engine's listeners (its own and its class's: a test counting statements, a
        # profiler listing them). Not a Connection's own: nothing listens on one, and
        # asking the Connection's joined dispatcher costs more than the question.
        dispatch = conn.engine.dispatch
        if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
            dbapi = conn.connection.dbapi_connection
            with standalone_cursors(dbapi) if self.standalone else nullcontext():
                result = conn.execute(self.statement, dict(params))
            return [tuple(row) for row in result] if result.returns_rows else []
        dialect = conn.dialect
        compiled = self._for(dialect, tuple(params))
        sql = compiled.sql
        parameters = compiled.parameters(params)
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        if self.standalone:
            mark_standalone(cursor)
        try:
            dialect.do_execute(cursor, sql, parameters, None)
            # Not cursor.description unless needed: psycopg builds it anew on every read
            # (an object per column, ~4 µs each: a project row has twenty).
            rows = cursor.fetchall() if compiled.returns_rows else []
            converters = compiled.converters
            if rows and converters is None:
                results = _result_processors(compiled, dialect, cursor.description)
                converters = compiled.converters = tuple(
                    (i, p) for i, p in enumerate(results) if p is not None
                )
        except BaseException as error:
            conn._handle_dbapi_exception(error, sql, parameters, cursor, None)
            raise  # not reached: the handler raises
        finally:
            cursor.close()
        if not rows:
            return []
        assert converters is not None
        if not converters:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, p in converters:
                v = values[i]
                if v is not None:
                    values[i] = p(v)
            out.append(tuple(values))
        return out

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
