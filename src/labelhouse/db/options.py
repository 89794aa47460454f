"""How an engine talks to its database: timeouts and pool size, per kind of work.

Two kinds: *interactive* (web requests: a person waits, so a stalled or locked database
must give a quick "try again" rather than a hang) and *long* (CLI commands, which import
or export millions of rows in one statement stream: no statement timeout by default, and a
longer wait for locks, e.g. behind another import). Built from :class:`Settings` once at
start-up; the defaults here are the settings' defaults for one web process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelhouse.config import Settings

# A CLI command works on one connection at a time (an import's COPY thread shares it).
CLI_POOL_SIZE = 3


@dataclass(frozen=True)
class DatabaseOptions:
    connect_timeout: float = 5.0  # opening a connection, and waiting for a pooled one
    statement_timeout: float = 15.0  # 0: none
    long_statement_timeout: float = 0.0  # for sessions opened with long_running=True
    lock_timeout: float = 5.0  # PostgreSQL's lock_timeout; SQLite's busy timeout, write gate
    pool_size: int = 30  # PostgreSQL connections this process may hold open
    pgbouncer: bool = False  # behind PgBouncer in transaction pooling mode
    application_name: str = "labelhouse"

    @classmethod
    def interactive(cls, settings: Settings) -> DatabaseOptions:
        """For a web process: its share of the host's connection budget."""
        return cls(
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_statement_timeout,
            long_statement_timeout=settings.db_long_statement_timeout,
            lock_timeout=settings.db_lock_timeout,
            pool_size=pool_share(settings.db_max_connections, settings.workers),
            pgbouncer=settings.db_pgbouncer,
            application_name="labelhouse-web",
        )

    @classmethod
    def long(cls, settings: Settings) -> DatabaseOptions:
        """For a CLI command (imports, exports, checks)."""
        return cls(
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_long_statement_timeout,
            long_statement_timeout=settings.db_long_statement_timeout,
            lock_timeout=settings.db_long_lock_timeout,
            pool_size=CLI_POOL_SIZE,
            pgbouncer=settings.db_pgbouncer,
            application_name="labelhouse-cli",
        )


def pool_share(total: int, workers: int) -> int:
    """One worker's part of the connections all workers of a host may open together (at
    least 2: a request and the work it leaves for after its response)."""
    return max(2, total // max(1, workers))
