"""``labelhouse models …`` against the fake model server: add an endpoint (key from an
environment variable, never shown), allow a project, predict with results on stdout."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.tasks.models import Prediction
from tests.factories import add_tasks, make_project, text_rows
from tests.models_loop.conftest import SECRET_KEY


def test_endpoint_add_allow_predict_list_remove(db, db_url, owner, model_server, tmp_path):
    pid = make_project(db, owner, name="Reviews")
    add_tasks(db, owner, pid, text_rows(3))
    env = {
        "LABELHOUSE_DATABASE_URL": db_url,
        "LABELHOUSE_MODELS_SECRET_KEY": SECRET_KEY,
        "LABELHOUSE_MODELS_ALLOW": "127.0.0.1/32",
        "LABELHOUSE_MODELS_ALLOW_HTTP": "true",
        "MY_KEY": "sk-cli-key-0123456789-abcd",
    }

    def cli(*args: str):
        result = CliRunner().invoke(
            cli_app, [*args, "--data-dir", str(tmp_path / "d")], env=env, catch_exceptions=False
        )
        assert "Traceback" not in result.output
        return result

    r = cli("models", "endpoint", "add", "fake", "--url", f"{model_server.url}/v1",
            "--model", "labeler", "--api-key-env", "MY_KEY")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().isdigit()

    r = cli("models", "predict", "--project", "Reviews", "--endpoint", "fake")
    assert r.exit_code == 1
    assert "may not send anything to endpoint 'fake'" in r.stderr
    assert r.stdout == ""

    assert cli("models", "allow", "fake", "--project", "Reviews", "--field", "text").exit_code == 0
    r = cli("models", "predict", "--project", "Reviews", "--endpoint", "fake")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["stored"], out["model_version"]) == (3, "fake/labeler")
    with db.read_session() as s:
        assert len(s.scalars(select(Prediction.id)).all()) == 3

    listed = cli("models", "endpoint", "list", "--json")
    [row] = json.loads(listed.stdout)
    assert row["api_key"] == "set (…abcd)" and "sk-cli" not in listed.stdout
    assert cli("models", "endpoint", "remove", "fake").exit_code == 0
    assert json.loads(cli("models", "endpoint", "list", "--json").stdout) == []
