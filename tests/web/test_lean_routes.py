"""The annotator's two hot routes as ``web/api/lean_routes.py`` serves them: the same answers
as the regular FastAPI routes (which stay the ones in the OpenAPI document), every security
rule included, and anything unusual handed to the regular route."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.storage import LocalStorage
from labelhouse.web.api import tasks as tasks_api
from labelhouse.web.api.lean_routes import LeanRoute
from labelhouse.web.app import create_app
from labelhouse.web.deps import Context
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows

NEXT = "/api/projects/{project_id}/next"
SUBMIT = "/api/tasks/{task_id}/annotations"
SNAPSHOT = Path(__file__).parent.parent / "fixtures" / "openapi" / "hot_routes.json"
ANSWER = {"value": {"label": "pos"}, "lead_time_ms": 900}


@pytest.fixture
def project(db, owner) -> int:
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(8))
    return pid


@pytest.fixture
def handed(app) -> list[str]:
    """The paths the lean routes handed to the regular route (a spy on their fallback)."""
    seen: list[str] = []
    for route in app.router.routes:
        if isinstance(route, LeanRoute):
            original = route.fallback

            async def spy(scope: Any, receive: Any, send: Any, original: Any = original) -> None:
                seen.append(scope["path"])
                await original(scope, receive, send)

            route.fallback = spy
    return seen


@pytest.fixture
def regular(settings, db):
    """The same app without its lean routes: the answers they must give."""
    app = create_app(settings, database=db, storage=LocalStorage(settings.resolved_storage_dir))
    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, LeanRoute)]
    return app


def token(db, member, *, read_only: bool = False) -> str:
    with db.session() as s:
        _, secret = accounts.create_api_token(s, member.actor, name="t", read_only=read_only)
    return secret


def bearer(app, secret: str) -> TestClient:
    c = TestClient(app)
    c.headers["Authorization"] = f"Bearer {secret}"
    return c


def test_the_openapi_document_is_unchanged(app, regular):
    assert [type(r) for r in app.router.routes[:2]] == [LeanRoute, LeanRoute]
    doc = app.openapi()
    assert doc == regular.openapi()
    stored = json.loads(SNAPSHOT.read_text())
    assert {p: doc["paths"][p] for p in stored["paths"]} == stored["paths"]
    assert doc["components"]["schemas"]["AnnotationIn"] == stored["AnnotationIn"]


def test_ordinary_requests_are_served_lean(app, db, annotator, project, handed):
    c = bearer(app, token(db, annotator))
    task = c.post(f"/api/projects/{project}/next").json()["task"]
    r = c.post(f"/api/tasks/{task['id']}/annotations", json=ANSWER)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["created"]) == ("submitted", True)
    # the browser's way: cookie, CSRF header, one trip per task, progress, rendering
    b = login(app, annotator)
    task = b.post(f"/api/projects/{project}/next?progress=1").json()["task"]
    r = b.post(
        f"/api/tasks/{task['id']}/annotations?next=1&render=1&progress=true"
        "&day_start=2026-12-04T00:00:00%2B01:00",
        content=json.dumps({**ANSWER, "draft": False}),
        headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": "k-1"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["annotation"]["task_id"] == task["id"]
    assert {"rendered", "data"} <= set(body["next"]["task"])
    assert body["next"]["progress"]["done"] == 2
    again = b.post(
        f"/api/tasks/{task['id']}/annotations?next=1&render=1&progress=true"
        "&day_start=2026-12-04T00:00:00%2B01:00",
        content=json.dumps({**ANSWER, "draft": False}),
        headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": "k-1"},
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["annotation"] == body["annotation"]
    assert handed == []


def test_every_security_rule_holds_on_the_lean_routes(app, db, owner, annotator, project, handed):
    task_id = bearer(app, token(db, annotator)).post(f"/api/projects/{project}/next").json()
    task_id = task_id["task"]["id"]
    nobody = TestClient(app)
    r = nobody.post(f"/api/projects/{project}/next")
    assert r.status_code == 401 and "Log in" in r.json()["error"]["message"]
    # a browser session: the CSRF header is required, and must be the session's
    b = login(app, annotator)
    del b.headers["X-CSRF-Token"]
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        for path, body in ((f"/api/projects/{project}/next", None), (f"/api/tasks/{task_id}/annotations", ANSWER)):  # fmt: skip
            r = b.post(path, json=body, headers=headers)
            assert r.status_code == 403, r.text
            assert "CSRF token" in r.json()["error"]["message"]
    # a read-only token writes nothing
    ro = bearer(app, token(db, annotator, read_only=True))
    r = ro.post(f"/api/tasks/{task_id}/annotations", json=ANSWER)
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]
    # another organization's project and task do not exist
    stranger = make_org(db, "Other")
    outsider = bearer(app, token(db, add_member(db, stranger, Role.annotator)))
    assert outsider.post(f"/api/projects/{project}/next").status_code == 404
    assert outsider.post(f"/api/tasks/{task_id}/annotations", json=ANSWER).status_code == 404
    # a cross-site browser write is refused before any route
    r = login(app, annotator).post(
        f"/api/projects/{project}/next", headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    assert handed == []


def test_a_lean_route_matches_as_the_regular_route_does(app):
    """Same path pattern, POST only, and the regular route in the scope: the denial audit
    names requests by ``scope["route"].path`` (a template, not the ids)."""
    lean = {r.path: r for r in app.router.routes if isinstance(r, LeanRoute)}
    assert set(lean) == {NEXT, SUBMIT}

    def scope(method: str, path: str) -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path, "root_path": "", "path_params": {}}

    match, child = lean[NEXT].matches(scope("POST", "/api/projects/12/next"))
    assert match is Match.FULL and child["path_params"] == {"project_id": "12"}
    assert child["route"].path == NEXT and child["route"] is lean[NEXT].route
    assert lean[NEXT].matches(scope("GET", "/api/projects/12/next"))[0] is Match.NONE
    assert lean[SUBMIT].matches(scope("POST", "/api/tasks/3/annotations/x"))[0] is Match.NONE
    assert lean[SUBMIT].matches(scope("POST", "/api/tasks/3/annotations"))[0] is Match.FULL


def unusual(project: int, task_id: int) -> list[tuple[str, dict[str, Any]]]:
    nxt, sub = f"/api/projects/{project}/next", f"/api/tasks/{task_id}/annotations"
    good = json.dumps(ANSWER)
    return [
        ("/api/projects/0/next", {}),
        ("/api/projects/99999999999999999999/next", {}),
        ("/api/projects/abc/next", {}),
        (nxt + "?render=maybe", {}),
        (nxt + "?progress=1&day_start=yesterday", {}),
        (nxt + "?render=%00", {}),
        (nxt + "?x%00=1", {}),
        ("/api/tasks/0/annotations", {"content": good}),
        (sub, {}),
        (sub, {"content": b"not json"}),
        (sub, {"content": good, "headers": {"Content-Type": "text/plain"}}),
        (sub, {"content": good, "headers": {"Content-Type": ""}}),
        (sub, {"content": b"null"}),
        (sub, {"json": {**ANSWER, "extra": 1}}),
        (sub, {"json": {"value": "pos"}}),
        (sub, {"json": {**ANSWER, "lead_time_ms": -1}}),
        (sub, {"content": b'{"value": {"label": "pos"}, "lead_time_ms": NaN}'}),
        (sub, {"content": b'{"value": {"label": "pos"}, "lead_time_ms": 1E400}'}),
        (sub, {"json": {"value": {"label": "a\u0000"}}}),
        (sub + "?next=maybe", {"json": ANSWER}),
        (sub + "?next=1", {"json": {**ANSWER, "draft": True}}),
        (sub, {"json": ANSWER, "headers": {"Idempotency-Key": ""}}),
        (sub, {"json": ANSWER, "headers": {"Idempotency-Key": "x" * 500}}),
        (sub, {"json": {"value": {"label": "neither"}}}),
    ]


def test_unusual_requests_get_the_regular_routes_answers(
    app, regular, db, annotator, project, handed
):
    secret = token(db, annotator)
    lean, plain = bearer(app, secret), bearer(regular, secret)
    task_id = lean.post(f"/api/projects/{project}/next").json()["task"]["id"]
    for path, kwargs in unusual(project, task_id):
        kwargs.setdefault("headers", {}).setdefault("Content-Type", "application/json")
        a, b = lean.post(path, **kwargs), plain.post(path, **kwargs)
        assert a.status_code >= 400, (path, kwargs, a.text)
        assert (a.status_code, a.json(), a.headers.get("retry-after")) == (
            b.status_code,
            b.json(),
            b.headers.get("retry-after"),
        ), (path, kwargs)
    # the valid ones among them were answered lean (their errors come from the endpoint)
    assert len(handed) == len(unusual(project, task_id)) - 4
    assert lean.get(f"/api/projects/{project}/next").status_code == 405


def test_valid_json_only_the_stdlib_reads_goes_the_regular_way(app, db, annotator, project, handed):
    c = bearer(app, token(db, annotator))
    task_id = c.post(f"/api/projects/{project}/next").json()["task"]["id"]
    r = c.post(
        f"/api/tasks/{task_id}/annotations",
        content=b"\xef\xbb\xbf" + json.dumps(ANSWER).encode(),  # a byte order mark
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["value"] == {"label": "pos"}
    assert handed == [f"/api/tasks/{task_id}/annotations"]


def test_an_oversized_streamed_answer_is_413_on_the_lean_route(app, db, annotator, project):
    c = bearer(app, token(db, annotator))
    task_id = c.post(f"/api/projects/{project}/next").json()["task"]["id"]
    text = "x" * (300 * 1024)  # over the tests' 256 KiB limit

    def chunks():
        body = json.dumps({"value": {"label": text}}).encode()
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    r = c.post(
        f"/api/tasks/{task_id}/annotations",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def _on_loop() -> bool:
    """Whether the caller runs on the event loop's own thread (not a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def where(monkeypatch) -> list[bool]:
    """For each unit of work of a request (``Context.write``): on the event loop or not."""
    seen: list[bool] = []
    original = Context.write

    def spy(self: Context, **kwargs: Any) -> Any:
        seen.append(_on_loop())
        return original(self, **kwargs)

    monkeypatch.setattr(Context, "write", spy)
    return seen


def test_a_free_sqlite_gate_runs_the_unit_of_work_on_the_event_loop(
    app, db, annotator, project, where, handed
):
    """No hand-off to a worker thread and back (about 0.13 ms of CPU a request) on SQLite;
    PostgreSQL's statements wait for a server, so there it always is a worker thread."""
    c = bearer(app, token(db, annotator))
    task = c.post(f"/api/projects/{project}/next").json()["task"]
    r = c.post(f"/api/tasks/{task['id']}/annotations?next=1", json=ANSWER)
    assert r.status_code == 200, r.text
    assert r.json()["next"]["task"]["id"] != task["id"]
    assert where == [db.is_sqlite, db.is_sqlite]
    assert handed == []


def test_a_held_gate_sends_the_request_to_a_worker_thread_and_the_loop_keeps_serving(
    app, db, annotator, project, where
):
    if not db.is_sqlite:
        pytest.skip("PostgreSQL has no write gate: its hot requests always use a worker thread")
    secret = token(db, annotator)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:  # another writer, e.g. an import's batch
        with db.session():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    asked: dict[str, Any] = {}
    try:
        assert taken.wait(10)
        with TestClient(app) as c:  # one event loop for every request below
            c.headers["Authorization"] = f"Bearer {secret}"
            asking = threading.Thread(
                target=lambda: asked.update(r=c.post(f"/api/projects/{project}/next"))
            )
            asking.start()
            time.sleep(0.3)
            assert asking.is_alive()  # it waits for the gate…
            t0 = time.monotonic()
            assert c.get("/api/health").status_code == 200  # …and not on the event loop
            assert time.monotonic() - t0 < 2
            release.set()
            asking.join(10)
    finally:
        release.set()
        holder.join(10)
    assert asked["r"].status_code == 200, asked["r"].text
    assert asked["r"].json()["task"] is not None
    assert where == [False]


def test_a_big_rendering_is_made_on_a_worker_thread(app, db, owner, annotator, monkeypatch):
    """Display HTML of a small task is made with the answer, wherever that is; a big one
    (the renderer's worst case is ~0.2 µs a character) never on the event loop."""
    schema = {
        "fields": [
            {"name": "label", "kind": "choice", "reads": ["text"], "options": [{"value": "pos"}]},
            {"name": "reply", "kind": "text", "reads": ["response"], "markdown": True},
        ]
    }
    pid = make_project(db, owner, schema)
    big = "*word* " * (tasks_api.SMALL_RENDERING // 6)
    add_tasks(
        db, owner, pid, [{"text": "short", "response": "*hi*"}, {"text": big, "response": big}]
    )
    rendered_on_loop: list[bool] = []
    original = tasks_api.Rendering.__call__

    def spy(self: Any) -> None:
        rendered_on_loop.append(_on_loop())
        original(self)

    monkeypatch.setattr(tasks_api.Rendering, "__call__", spy)
    c = bearer(app, token(db, annotator))
    first = c.post(f"/api/projects/{pid}/next?render=1").json()["task"]
    answer = {"value": {"label": "pos", "reply": "fine"}}
    r = c.post(f"/api/tasks/{first['id']}/annotations?next=1&render=1", json=answer)
    assert r.status_code == 200, r.text
    second = r.json()["next"]["task"]
    assert (first["data"]["text"], second["data"]["text"]) == ("short", big)
    assert "<em>hi</em>" in str(first["rendered"])
    assert str(second["rendered"]).count("<em>word</em>") == tasks_api.SMALL_RENDERING // 6
    assert rendered_on_loop == [db.is_sqlite, False]
