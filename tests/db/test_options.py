"""Database options from the settings: the web's interactive timeouts, the CLI's long ones,
and each web worker's share of the host's connection budget."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from labelhouse.config import Settings
from labelhouse.db.engine import DatabaseOptions, open_database
from labelhouse.db.options import CLI_POOL_SIZE

NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/labelhouse"  # never connected to


def test_four_workers_share_the_budget_instead_of_opening_120_connections(monkeypatch):
    """`serve --workers 4` used to let each worker open 10 + 20 connections: 120 against
    PostgreSQL's default max_connections of 100. Now the host's budget is split."""
    monkeypatch.setenv("LABELHOUSE_WORKERS", "4")
    monkeypatch.setenv("LABELHOUSE_DB_MAX_CONNECTIONS", "40")
    options = DatabaseOptions.interactive(Settings())
    assert options.pool_size == 10
    db = open_database(NOWHERE, options)
    try:
        assert db.engine.pool.size() == 10
        assert db.engine.pool._max_overflow == 0  # type: ignore[attr-defined]
        assert db.engine.pool.timeout() == options.connect_timeout
    finally:
        db.dispose()


def test_the_default_budget_fits_a_default_postgresql_with_room_to_spare():
    for workers in (1, 2, 4, 8):
        per_worker = DatabaseOptions.interactive(Settings(workers=workers)).pool_size
        assert per_worker * workers <= 30
    assert DatabaseOptions.interactive(Settings(workers=64, db_max_connections=30)).pool_size == 2


def test_web_and_cli_get_their_own_kind_of_timeouts():
    settings = Settings()
    web, cli = DatabaseOptions.interactive(settings), DatabaseOptions.long(settings)
    assert (web.statement_timeout, web.lock_timeout, web.connect_timeout) == (15, 5, 5)
    assert web.long_statement_timeout == 0  # exports and imports may run long
    assert (cli.statement_timeout, cli.lock_timeout, cli.pool_size) == (0, 60, CLI_POOL_SIZE)
    defaults = DatabaseOptions()
    assert (defaults.statement_timeout, defaults.lock_timeout) == (15, 5)


class _Captured(Exception):
    pass


def connect_params(options: DatabaseOptions) -> dict[str, Any]:
    """What the engine would hand psycopg to connect (captured, not connected)."""
    db = open_database(NOWHERE, options)
    seen: dict[str, Any] = {}

    @event.listens_for(db.engine, "do_connect")
    def _capture(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise _Captured

    try:
        with pytest.raises(_Captured):
            db.engine.connect()
    finally:
        db.dispose()
    return seen


def test_timeouts_travel_with_the_connection_request_and_dead_peers_are_noticed():
    params = connect_params(DatabaseOptions(statement_timeout=15, lock_timeout=5))
    assert "-c statement_timeout=15000" in params["options"]
    assert "-c lock_timeout=5000" in params["options"]
    assert params["connect_timeout"] == 5
    assert params["keepalives"] == 1 and params["tcp_user_timeout"] > 0
    assert "prepare_threshold" not in params  # psycopg's default: prepared after 5 uses


def test_behind_pgbouncer_nothing_is_prepared_and_no_startup_options_are_sent():
    """PgBouncer 1.18 refuses the ``options`` startup parameter, and in transaction mode a
    statement prepared on one server connection is unknown on the next."""
    params = connect_params(DatabaseOptions(pgbouncer=True))
    assert "options" not in params
    assert params["prepare_threshold"] is None
