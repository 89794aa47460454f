"""``labelhouse models …`` against the fake model server: add an endpoint (key from an
environment variable, never shown), allow a project, predict with results on stdout."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from labelhouse.tasks.models import Prediction, Task
from tests.factories import add_tasks, make_project, text_rows
from tests.helpers_data import jsonl_bytes
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


def test_cli_import_asks_the_model_when_the_project_says_so(
    db, db_url, owner, model_server, tmp_path
):
    """`labelhouse import` makes the on-import calls as an import job does: the same
    egress check (a refusal noted, audited, the import standing), the same audit event,
    progress and outcome on stderr, stdout kept for the import's result."""
    make_project(db, owner, name="Imported")
    env = {
        "LABELHOUSE_DATABASE_URL": db_url,
        "LABELHOUSE_MODELS_SECRET_KEY": SECRET_KEY,
        "LABELHOUSE_MODELS_ALLOW": "127.0.0.1/32",
        "LABELHOUSE_MODELS_ALLOW_HTTP": "true",
        "COLUMNS": "200",
    }

    def cli(*args: str):
        result = CliRunner().invoke(
            cli_app, [*args, "--data-dir", str(tmp_path / "d")], env=env, catch_exceptions=False
        )
        assert "Traceback" not in result.output
        return result

    def rows_file(name: str, start: int) -> str:
        path = tmp_path / name
        path.write_bytes(jsonl_bytes(text_rows(2, start=start)))
        return str(path)

    r = cli("models", "endpoint", "add", "fake", "--url", f"{model_server.url}/v1",
            "--model", "labeler")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = cli("models", "allow", "fake", "--project", "Imported", "--field", "other",
            "--on-import", "predictions")  # fmt: skip
    assert r.exit_code == 0, r.output
    before = len(model_server.log)

    refused = cli("import", "Imported", rows_file("a.jsonl", 0))

    assert refused.exit_code == 0, refused.output
    assert (
        refused.stdout.strip()
        == "Imported 2 new tasks from 2 rows (0 already present, 0 rejected)."
    )
    said = " ".join(refused.stderr.split())
    assert "endpoint fake was not asked for predictions" in said
    assert "may not send field 'text' to endpoint 'fake'" in said
    assert len(model_server.log) == before  # nothing left
    with db.read_session() as s:
        refusals = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "models.call_refused")
        ).all()
        assert [e.actor_id for e in refusals] == [owner.user_id]

    cli("models", "allow", "fake", "--project", "Imported", "--field", "text",
        "--on-import", "predictions")  # fmt: skip
    asked = cli("import", "Imported", rows_file("b.jsonl", 10))

    assert asked.exit_code == 0, asked.output
    assert (
        asked.stdout.strip() == "Imported 2 new tasks from 2 rows (0 already present, 0 rejected)."
    )
    said = " ".join(asked.stderr.split())
    assert "Asking fake for predictions" in said  # the progress bar
    assert (
        "Asked fake/labeler for predictions about 2 new tasks: 2 stored, 0 skipped, 0 failed."
        in said
    )
    assert len(model_server.log) == before + 2
    with db.read_session() as s:
        rows = s.execute(
            select(Task.data["text"].as_string(), Prediction.scores).join(
                Prediction, Prediction.task_id == Task.id
            )
        ).all()
        [(actor_id, details)] = s.execute(
            select(AuditEvent.actor_id, AuditEvent.details).where(
                AuditEvent.action == "models.call"
            )
        ).all()
    assert sorted(t for t, _ in rows) == ["item 10", "item 11"]  # the new import's tasks only
    assert all(scores["label"]["pos"] > 0.7 for _, scores in rows)
    assert actor_id == owner.user_id and details["tasks"]["count"] == 2
