"""Models in the loop over the real app and a real (fake) model server on 127.0.0.1:
predictions and candidates stored per model version, the egress policy refusing before
any request leaves, every call in the audit log, the API key encrypted and never shown,
and one organization never reaching another's endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text

from labelhouse.accounts.models import Role
from labelhouse.audit.models import AuditEvent
from labelhouse.tasks.models import Prediction, Task
from tests.factories import (
    add_member,
    add_tasks,
    jsonl,
    login,
    make_org,
    make_project,
    text_rows,
)
from tests.models_loop.fake_model import FakeModel

API_KEY = "sk-test-0123456789-VERYSECRET-wxyz"
PAIRWISE_SCHEMA = {
    "fields": [
        {"name": "preference", "kind": "pairwise", "prompt": "prompt", "responses": "responses"}
    ]
}


def _endpoint(c: Any, server: FakeModel, name: str = "fake", model: str = "labeler") -> dict:
    r = c.post(
        "/api/model-endpoints",
        json={
            "name": name,
            "kind": "openai",
            "url": f"{server.url}/v1",
            "model": model,
            "version": "v1",
            "temperature": 0.2,
            "api_key": API_KEY,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def _allow(c: Any, endpoint: int, project: int, fields: list[str]) -> None:
    r = c.put(
        "/api/model-egress", json={"endpoint": endpoint, "project_id": project, "fields": fields}
    )
    assert r.status_code == 200, r.text


def _events(db: Any, org: int, action: str) -> list[AuditEvent]:
    with db.read_session() as s:
        rows = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )
        s.expunge_all()
        return rows


def test_predictions_are_stored_per_model_version_and_logged(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [*text_rows(3), {"text": "garble me", "external_id": "bad"}])
    c = login(app, owner)
    ep = _endpoint(c, model_server)
    _allow(c, ep["id"], pid, ["text"])
    before = len(model_server.log)

    r = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "fake"})

    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_version"] == "fake/labeler/v1"
    assert (out["tasks"], out["stored"], out["failed"]) == (4, 3, 1)
    with db.read_session() as s:
        bad = s.scalar(select(Task.id).where(Task.external_id == "bad"))
        rows = s.execute(
            select(Prediction.task_id, Prediction.model_version, Prediction.value)
        ).all()
    assert out["failures"][0]["task_id"] == bad
    assert f"Task {bad}:" in out["failures"][0]["error"]
    assert "not a JSON object" in out["failures"][0]["error"]
    assert len(rows) == 3 and bad not in {r.task_id for r in rows}
    assert {(r.model_version, r.value["label"]) for r in rows} == {("fake/labeler/v1", "pos")}
    sent = model_server.log[before:]
    assert len(sent) == 4
    assert all(x.headers["authorization"] == f"Bearer {API_KEY}" for x in sent)
    assert all(x.body["model"] == "labeler" and x.body["temperature"] == 0.2 for x in sent)
    assert {x.body["messages"][1]["content"] for x in sent} >= {'{"text":"item 0"}'}

    # A second run replaces the version's predictions rather than adding to them.
    c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": ep["id"]})
    with db.read_session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Prediction)) == 3

    # The annotate API serves them as predictions of that model version.
    t = c.get(f"/api/tasks/{rows[0].task_id}").json()
    assert t["predictions"][0]["model_version"] == "fake/labeler/v1"

    calls = _events(db, owner.organization_id, "models.call")
    assert len(calls) == 2
    d = calls[0].details
    assert calls[0].actor_id == owner.user_id
    assert d["endpoint"] == "fake" and d["fields"] == ["text"] and d["kind"] == "predictions"
    assert d["tasks"]["count"] == 4 and len(d["tasks"]["ids"]) == 4
    assert d["statuses"] == {"200": 4} and d["stored"] == 3 and d["failed"] == 1
    assert isinstance(d["duration_ms"], int) and d["host"] == "127.0.0.1"


def test_candidates_fill_empty_responses_marked_as_generated(app, db, owner, model_server):
    pid = make_project(db, owner, PAIRWISE_SCHEMA)
    chat = [{"role": "user", "content": "Say hi"}]
    add_tasks(
        db,
        owner,
        pid,
        [
            {"prompt": "Write a haiku", "responses": [], "external_id": "a"},
            {"prompt": chat, "responses": [], "external_id": "b"},
            {"prompt": "Kept", "responses": ["one", "two"], "external_id": "c"},
        ],
    )
    c = login(app, owner)
    _endpoint(c, model_server, name="writer", model="writer")
    _allow(c, "writer", pid, ["prompt"])
    before = len(model_server.log)

    r = c.post(
        f"/api/projects/{pid}/models/predict", json={"endpoint": "writer", "kind": "candidates"}
    )

    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["skipped"]) == (2, 1)
    with db.read_session() as s:
        data = {t.external_id: t.data for t in s.scalars(select(Task))}
    assert data["a"]["responses"] == [
        {"text": f"Candidate {i} to: Write a haiku", "model": "writer/writer/v1", "generated": True}
        for i in range(2)
    ]
    assert [x["text"] for x in data["b"]["responses"]] == [
        "Candidate 0 to: Say hi",
        "Candidate 1 to: Say hi",
    ]
    assert data["c"]["responses"] == ["one", "two"]  # never overwritten
    sent = model_server.log[before:]
    assert [x.body["n"] for x in sent] == [2, 2]  # one request per task that needed them
    assert chat in [x.body["messages"] for x in sent]
    # The annotate page draws them: the field's rendered responses are there.
    annotator = add_member(db, owner, Role.annotator)
    nxt = login(app, annotator).post(f"/api/projects/{pid}/next?render=true").json()
    shown = nxt["task"]["rendered"]["preference"]["responses"]
    assert len(shown) == 2 and "Candidate 1 to:" in shown[1]
    assert all(r["generated"] for r in nxt["task"]["data"]["responses"])


def test_egress_policy_refuses_before_any_request(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": "hello", "email": "a@b.c", "external_id": "x"}])
    c = login(app, owner)
    ep = _endpoint(c, model_server)
    other = _endpoint(c, model_server, name="other")
    _allow(c, ep["id"], pid, ["text"])
    before = len(model_server.log)

    r = c.post(
        f"/api/projects/{pid}/models/predict",
        json={"endpoint": "fake", "fields": ["text", "email"]},
    )
    assert r.status_code == 403
    message = r.json()["error"]["message"]
    assert "may not send field 'email' to endpoint 'fake'" in message
    assert "allows only 'text'" in message

    r = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": other["id"]})
    assert r.status_code == 403
    assert "may not send anything to endpoint 'other'" in r.json()["error"]["message"]

    assert len(model_server.log) == before  # nothing reached the model server
    refused = _events(db, owner.organization_id, "models.call_refused")
    assert [e.details["endpoint"] for e in refused] == ["fake", "other"]
    assert refused[0].details["fields"] == ["text", "email"]
    assert refused[0].details["tasks"]["count"] == 1


def test_private_address_needs_the_operators_allow_list(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    c = login(app, owner)
    _endpoint(c, model_server)
    _allow(c, "fake", pid, ["text"])
    app.state.settings.models_allow = ""  # as if the operator had listed nothing
    before = len(model_server.log)
    r = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "fake"})
    assert r.status_code == 403
    assert "LABELHOUSE_MODELS_ALLOW" in r.json()["error"]["message"]
    assert len(model_server.log) == before


def test_only_owners_set_the_policy_and_managers_call(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    manager = login(app, add_member(db, owner, Role.manager))
    reviewer = login(app, add_member(db, owner, Role.reviewer))
    c = login(app, owner)
    ep = _endpoint(c, model_server)
    r = manager.put(
        "/api/model-egress", json={"endpoint": ep["id"], "project_id": pid, "fields": ["text"]}
    )
    assert r.status_code == 403
    assert (
        manager.post(
            "/api/model-endpoints", json={"name": "x", "url": "https://x.org", "model": "m"}
        ).status_code
        == 403
    )
    _allow(c, ep["id"], pid, ["text"])
    assert manager.get(f"/api/projects/{pid}/models").json()["endpoints"][0]["fields"] == ["text"]
    r = reviewer.post(f"/api/projects/{pid}/models/predict", json={"endpoint": ep["id"]})
    assert r.status_code == 403
    r = manager.post(f"/api/projects/{pid}/models/predict", json={"endpoint": ep["id"]})
    assert r.status_code == 200 and r.json()["stored"] == 1


def test_api_key_is_encrypted_and_never_shown(app, db, owner, model_server, settings):
    c = login(app, owner)
    created = _endpoint(c, model_server)
    listed = c.get("/api/model-endpoints")
    for body in (str(created), listed.text):
        assert API_KEY not in body and "VERYSECRET" not in body
    assert created["api_key"] == "set (…wxyz)"
    with db.read_session() as s:
        raw = s.execute(text("SELECT secret FROM model_endpoint")).scalar_one()
    raw = bytes(raw)
    assert raw and API_KEY.encode() not in raw and b"VERYSECRET" not in raw
    assert settings.models_secret_key.get_secret_value().encode() not in raw

    app.state.settings.models_secret_key = None  # no key configured: refuse to store one
    r = c.post(
        "/api/model-endpoints",
        json={"name": "n", "url": "https://x.org/v1", "model": "m", "api_key": "sk-abc"},
    )
    assert r.status_code == 422
    assert "set LABELHOUSE_MODELS_SECRET_KEY" in r.json()["error"]["message"]


def test_another_organization_never_reaches_the_endpoints(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    c = login(app, owner)
    ep = _endpoint(c, model_server)
    _allow(c, ep["id"], pid, ["text"])
    owner_b = make_org(db, "B")
    pid_b = make_project(db, owner_b)
    add_tasks(db, owner_b, pid_b, text_rows(1))
    b = login(app, owner_b)

    assert b.get("/api/model-endpoints").json() == {"endpoints": []}
    assert b.get("/api/model-egress").json() == {"rules": []}
    missing = b.delete("/api/model-endpoints/999999")
    theirs = b.delete(f"/api/model-endpoints/{ep['id']}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["message"].replace(str(ep["id"]), "N") == missing.json()["error"][
        "message"
    ].replace("999999", "N")
    r = b.put(
        "/api/model-egress", json={"endpoint": ep["id"], "project_id": pid_b, "fields": ["text"]}
    )
    assert r.status_code == 404
    r = b.post(f"/api/projects/{pid_b}/models/predict", json={"endpoint": ep["id"]})
    assert r.status_code == 404
    r = c.put(
        "/api/model-egress", json={"endpoint": ep["id"], "project_id": pid_b, "fields": ["text"]}
    )
    assert r.status_code == 404  # A's owner cannot allow B's project either
    assert c.get("/api/model-endpoints").json()["endpoints"][0]["id"] == ep["id"]


def test_big_batches_run_as_a_job_with_retries(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(25))
    c = login(app, owner)
    _endpoint(c, model_server, name="flaky", model=f"flaky-{uuid.uuid4()}")
    _allow(c, "flaky", pid, ["text"])
    before = len(model_server.log)

    r = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "flaky"})

    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert app.state.jobs.run(job_id) == "succeeded"
    job = c.get(f"/api/jobs/{job_id}").json()
    assert job["outcome"]["stored"] == 25 and job["progress"]["done"] == 25
    assert len(model_server.log) - before == 50  # each task: a 503, then the answer
    with db.read_session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Prediction)) == 25
    [event] = _events(db, owner.organization_id, "models.call")
    tasks = event.details["tasks"]
    assert tasks["count"] == 25 and "ids" not in tasks and tasks["first"] < tasks["last"]
    assert event.details["job"] == job_id


def test_settings_page_shows_the_models_section(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    c = login(app, owner)
    ep = _endpoint(c, model_server, name="page model")
    page = c.get(f"/projects/{pid}/settings").text
    assert 'id="models-none"' in page and 'id="models-allow-form"' in page
    assert f'<option value="{ep["id"]}">page model</option>' in page
    # The owner's form as the browser sends it (fields as a list, no on-import: "").
    r = c.put(
        "/api/model-egress",
        json={
            "endpoint": str(ep["id"]),
            "project_id": str(pid),
            "fields": ["text", "<i>x</i>"],
            "on_import": "",
        },
    )
    assert r.status_code == 200, r.text
    manager = login(app, add_member(db, owner, Role.manager))
    page = manager.get(f"/projects/{pid}/settings").text
    assert 'id="models-predict-form"' in page and 'id="models-allow-form"' not in page
    assert "page model/labeler/v1" in page
    row = page[page.index('id="models-table"') :][:900]
    assert "&lt;i&gt;x&lt;/i&gt;" in row and "<i>x</i>" not in page, row
    r = manager.post(
        f"/api/projects/{pid}/models/predict",
        json={"endpoint": str(ep["id"]), "kind": "predictions"},
    )
    assert r.status_code == 200 and r.json()["message"].startswith("1 of 1 tasks got predictions")


def test_an_import_job_asks_the_model_when_the_project_says_so(app, db, owner, model_server):
    pid = make_project(db, owner)
    c = login(app, owner)
    ep = _endpoint(c, model_server)
    r = c.put(
        "/api/model-egress",
        json={
            "endpoint": ep["id"],
            "project_id": pid,
            "fields": ["text"],
            "on_import": "predictions",
        },
    )
    assert r.status_code == 200 and r.json()["on_import"] == "predictions"
    r = c.post(
        f"/api/projects/{pid}/import/jobs",
        content=jsonl(text_rows(3)),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 202, r.text
    assert app.state.jobs.run(r.json()["id"]) == "succeeded"
    outcome = c.get(f"/api/jobs/{r.json()['id']}").json()["outcome"]
    assert outcome["created"] == 3
    assert [(m["stored"], m["model_version"]) for m in outcome["models"]] == [
        (3, "fake/labeler/v1")
    ]
    with db.read_session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Prediction)) == 3
    [event] = _events(db, owner.organization_id, "models.call")
    assert event.details["tasks"]["count"] == 3

    # An import in the request (the import page's) queues a model job for its new tasks.
    r = c.post(
        f"/api/projects/{pid}/import",
        content=jsonl(text_rows(2, start=10)),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    [queued] = r.json()["models"]
    assert app.state.jobs.run(queued["job"]) == "succeeded"
    with db.read_session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Prediction)) == 5


def test_a_generic_endpoint_is_read_through_its_mapping(app, db, owner, model_server):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": "item 1", "secret": "no", "external_id": "g"}])
    c = login(app, owner)
    bad = c.post(
        "/api/model-endpoints",
        json={"name": "g", "kind": "http", "url": f"{model_server.url}/generic",
              "mapping": {"predictions": {"label": "result/label"}}},
    )  # fmt: skip
    assert bad.status_code == 422
    assert 'must map field names to paths like "result.label"' in bad.json()["error"]["message"]
    r = c.post(
        "/api/model-endpoints",
        json={"name": "g", "kind": "http", "url": f"{model_server.url}/generic", "version": "2",
              "mapping": {"predictions": {"label": "result.label"}, "score": "result.confidence"}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _allow(c, "g", pid, ["text"])
    before = len(model_server.log)

    out = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "g"}).json()

    assert out["stored"] == 1, out
    [sent] = model_server.log[before:]
    assert sent.path == "/generic"
    assert sent.body == {"data": {"text": "item 1"}, "want": "predictions", "n": 1}  # no "secret"
    assert "authorization" not in sent.headers  # no key stored, none sent
    with db.read_session() as s:
        p = s.execute(select(Prediction.model_version, Prediction.score, Prediction.value)).one()
    assert (p.model_version, p.score, p.value) == ("g/2", 0.75, {"label": "neg"})


def test_an_answer_over_the_size_limit_fails_its_task_once(app, db, owner, model_server):
    pid = make_project(db, owner, PAIRWISE_SCHEMA)
    add_tasks(db, owner, pid, [{"prompt": "long " * 300, "responses": [], "external_id": "L"}])
    c = login(app, owner)
    _endpoint(c, model_server, name="big", model="writer")
    _allow(c, "big", pid, ["prompt"])
    app.state.settings.models_max_bytes = 1024
    before = len(model_server.log)
    out = c.post(
        f"/api/projects/{pid}/models/predict", json={"endpoint": "big", "kind": "candidates"}
    ).json()
    [failure] = out["failures"]
    assert failure["error"].startswith(f"Task {failure['task_id']}: ")
    assert "larger than 1024 bytes" in failure["error"]
    assert len(model_server.log) - before == 1  # not retried: the same answer would come back
    with db.read_session() as s:
        assert s.scalar(select(Task.data)).get("responses") == []


def test_model_predictions_move_their_tasks_in_an_uncertainty_ordered_queue(
    app, db, owner, model_server
):
    """Cross-branch: predictions a live endpoint stores feed the queue's uncertainty order
    (``tasks.queue_order.store_uncertainty``), as imported predictions do."""
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, [{"text": "item 1", "external_id": "g"}, {"text": "other"}])
    c = login(app, owner)
    assert c.patch(f"/api/projects/{pid}", json={"queue_order": "margin"}).status_code == 200
    r = c.post(
        "/api/model-endpoints",
        json={"name": "g", "kind": "http", "url": f"{model_server.url}/generic", "version": "2",
              "mapping": {"predictions": {"label": "result.label"}, "score": "result.confidence"}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _allow(c, "g", pid, ["text"])

    out = c.post(f"/api/projects/{pid}/models/predict", json={"endpoint": "g"}).json()

    assert out["stored"] == 2, out
    with db.read_session() as s:
        rows = s.execute(
            select(Task.external_id, Task.uncertainty_margin, Task.queue_rank).where(
                Task.project_id == pid
            )
        ).all()
    # score 0.75 is read as (0.75, 0.25): margin 1 - (0.75 - 0.25) = 0.5, served by -0.5.
    assert sorted((m, q) for _, m, q in rows) == [(0.5, -0.5), (0.5, -0.5)]
