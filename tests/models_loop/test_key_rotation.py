"""Rotating a model endpoint's API key in place (API and CLI): owners only, audited without
either key, the new key encrypted and never shown, and the next call sending it while the
endpoint's rules and predictions stay."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Role
from labelhouse.audit.models import AuditEvent
from labelhouse.cli.main import app as cli_app
from labelhouse.models_loop.models import EgressRule, ModelEndpoint
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows
from tests.models_loop.conftest import SECRET_KEY
from tests.models_loop.test_models_api import API_KEY, _allow, _endpoint

NEW_KEY = "sk-rotated-0123456789-NEWSECRET-abcd"


def _rotations(db, org: int) -> list[tuple[int, dict]]:
    with db.read_session() as s:
        return [
            (actor, details)
            for actor, details in s.execute(
                select(AuditEvent.actor_id, AuditEvent.details)
                .where(
                    AuditEvent.organization_id == org,
                    AuditEvent.action == "models.endpoint_key_rotated",
                )
                .order_by(AuditEvent.id)
            )
        ]


def test_owners_rotate_the_key_and_the_next_call_sends_it(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    c = login(app, owner)
    ep = _endpoint(c, model_server, name="rotated")
    _allow(c, ep["id"], pid, ["text"])
    url = f"/api/model-endpoints/{ep['id']}/api-key"
    with db.read_session() as s:
        old_cipher = s.scalar(select(ModelEndpoint.secret).where(ModelEndpoint.id == ep["id"]))

    manager = login(app, add_member(db, owner, Role.manager))
    assert manager.put(url, json={"api_key": NEW_KEY}).status_code == 403
    stranger = login(app, make_org(db, "Elsewhere"))
    assert stranger.put(url, json={"api_key": NEW_KEY}).status_code == 404
    empty = c.put(url, json={"api_key": "  "})
    assert empty.status_code == 422 and "give the new key" in empty.json()["error"]["message"]
    assert _rotations(db, owner.organization_id) == []

    r = c.put(url, json={"api_key": NEW_KEY})

    assert r.status_code == 200, r.text
    assert r.json()["api_key"] == "set (…abcd)" and NEW_KEY not in r.text
    assert NEW_KEY not in c.get("/api/model-endpoints").text
    with db.read_session() as s:
        cipher = s.scalar(select(ModelEndpoint.secret).where(ModelEndpoint.id == ep["id"]))
        rules = s.scalars(select(EgressRule.id).where(EgressRule.endpoint_id == ep["id"])).all()
    assert cipher != old_cipher and NEW_KEY.encode() not in cipher
    assert len(rules) == 1  # the policy stays with the endpoint
    [(actor, details)] = _rotations(db, owner.organization_id)
    assert actor == owner.user_id and details == {"name": "rotated", "had_key": True}
    assert NEW_KEY[-4:] not in json.dumps(details) and API_KEY[-4:] not in json.dumps(details)

    before = len(model_server.log)
    out = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "rotated"}).json()
    assert out["stored"] == 1, out
    [sent] = model_server.log[before:]
    assert sent.headers["authorization"] == f"Bearer {NEW_KEY}"


def test_cli_rotates_from_an_environment_variable_or_stdin(db, db_url, owner, tmp_path):
    env = {
        "LABELHOUSE_DATABASE_URL": db_url,
        "LABELHOUSE_MODELS_SECRET_KEY": SECRET_KEY,
        "NEW_KEY": NEW_KEY,
        "COLUMNS": "200",
    }

    def cli(*args: str, stdin: str | None = None):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(tmp_path / "d")],
            env=env,
            input=stdin,
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output and NEW_KEY not in result.output
        return result

    r = cli("models", "endpoint", "add", "keyless", "--url", "https://models.example.org/v1",
            "--model", "m")  # fmt: skip
    assert r.exit_code == 0, r.output
    missing = cli("models", "endpoint", "rotate-key", "keyless")
    assert missing.exit_code == 1 and "--api-key-env VARIABLE or --api-key-stdin" in missing.stderr

    r = cli("models", "endpoint", "rotate-key", "keyless", "--api-key-env", "NEW_KEY")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert "Stored a new API key for endpoint keyless: set (…abcd)." in r.stderr
    r = cli("models", "endpoint", "rotate-key", "keyless", "--api-key-stdin",
            stdin="sk-from-stdin-0123456789-wxyz\n")  # fmt: skip
    assert r.exit_code == 0 and "set (…wxyz)" in r.stderr, r.output
    [row] = json.loads(cli("models", "endpoint", "list", "--json").stdout)
    assert row["api_key"] == "set (…wxyz)"
    rotations = _rotations(db, owner.organization_id)
    assert [d["had_key"] for _, d in rotations] == [False, True]


def test_a_key_is_one_line_when_added_and_when_rotated(app, db, owner, model_server):
    """The first key and a rotated one follow one rule: a line break would only fail later,
    on every call, as a header the HTTP client refuses; so it is a 422 naming api_key."""
    c = login(app, owner)
    added = c.post(
        "/api/model-endpoints",
        json={
            "name": "two-lines",
            "kind": "openai",
            "url": f"{model_server.url}/v1",
            "model": "labeler",
            "api_key": "sk-first\nsk-second",
        },
    )
    assert added.status_code == 422, added.text
    assert "api_key" in added.text and "one line" in added.text
    ep = _endpoint(c, model_server, name="one-line")
    rotated = c.put(f"/api/model-endpoints/{ep['id']}/api-key", json={"api_key": "a\r\nb"})
    assert rotated.status_code == 422 and "one line" in rotated.text
    padded = c.put(f"/api/model-endpoints/{ep['id']}/api-key", json={"api_key": f"  {NEW_KEY}\n"})
    assert padded.status_code == 200 and padded.json()["api_key"] == "set (…abcd)"
