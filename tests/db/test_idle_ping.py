"""``ping_when_idle``: a pooled PostgreSQL connection is tested only after sitting idle, and
one the server dropped meanwhile is replaced instead of failing the request."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, exc, text

from labelhouse.db.engine import ping_when_idle


@pytest.fixture
def pg_url(pg_migrated):
    if pg_migrated is None:
        pytest.skip("needs LABELHOUSE_TEST_PG_URL")
    return pg_migrated


def _engine(url: str, after: float):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    pings = []
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection):
        pings.append(1)
        return real_ping(dbapi_connection)

    engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    ping_when_idle(engine, after=after)
    return engine, pings


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()


def test_recently_returned_connections_are_not_pinged(pg_url):
    engine, pings = _engine(pg_url, after=3600)
    first = _backend_pid(engine)
    for _ in range(5):
        assert _backend_pid(engine) == first  # the same pooled connection, reused
    assert pings == []
    engine.dispose()


def test_idle_connection_dropped_by_the_server_is_replaced(pg_url):
    engine, pings = _engine(pg_url, after=0.0)
    first = _backend_pid(engine)
    _terminate(pg_url, first)
    second = _backend_pid(engine)  # no error: the ping failed and the pool reconnected
    assert second != first
    assert len(pings) >= 1
    engine.dispose()


def test_without_the_idle_ping_a_dropped_connection_fails_its_request(pg_url):
    """The control for the test above: the ping is what saves that request."""
    engine, _ = _engine(pg_url, after=3600)
    _terminate(pg_url, _backend_pid(engine))
    with pytest.raises(exc.OperationalError):
        _backend_pid(engine)
    engine.dispose()
