"""The CLI with the database away: a sentence that says what happened and to try again,
the operator's detail underneath, exit status 75 (EX_TEMPFAIL: try later), no traceback."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from labelhouse.cli.common import EXIT_TRY_AGAIN
from labelhouse.cli.main import app as cli_app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens there once it is closed


def test_a_database_that_refuses_connections_is_one_sentence(tmp_path):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/labelhouse"
    result = CliRunner().invoke(
        cli_app,
        ["users", "list", "--data-dir", str(tmp_path)],
        env={
            "LABELHOUSE_DATABASE_URL": url,
            "LABELHOUSE_DB_CONNECT_TIMEOUT": "2",
            "COLUMNS": "300",
        },
        catch_exceptions=False,
    )
    assert result.exit_code == EXIT_TRY_AGAIN, result.output
    assert "The database cannot be reached right now" in result.output
    assert "Connection refused" in result.output  # the operator's hint
    assert "Traceback" not in result.output
