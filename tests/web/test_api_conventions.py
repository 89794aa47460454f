"""Conventions every API route shares: OpenAPI, list envelopes and cursors, one error shape,
request validation, body size limits, security headers, health."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from labelhouse import __version__
from labelhouse.accounts.models import Role
from labelhouse.storage import LocalStorage
from labelhouse.web.access_rules import RULES, WORKFORCE_MANAGER
from labelhouse.web.app import create_app
from tests.factories import (
    add_member,
    add_tasks,
    jsonl,
    login,
    make_org,
    make_project,
    text_rows,
    token_client,
)

LIMIT = 256 * 1024  # settings fixture: max_request_bytes


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"].strip()
    assert isinstance(err["details"], list)
    for d in err["details"]:
        assert set(d) == {"field", "problem"}, d
        assert isinstance(d["field"], str) and d["field"]
        assert isinstance(d["problem"], str) and d["problem"]
    return err


def fields_of(err: dict[str, Any]) -> list[str]:
    return [d["field"] for d in err["details"]]


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), "green").save(buf, format="PNG")
    return buf.getvalue()


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A streamed JSON body of about ``total`` bytes (no Content-Length)."""
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'", "schema": [{"name": "t", "kind": "text"}]}'


def streamed(body: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def big_valid_project(total: int, name: str = "big") -> bytes:
    """A valid project body of ``total`` bytes (description and instructions fill it); a
    project's name is unique in its organization."""
    head = b'{"name": "%s", "schema": [{"name": "t", "kind": "text"}], "description": "' % (
        name.encode()
    )
    middle = b'", "instructions": "'
    room = total - len(head) - len(middle) - 2
    body = head + b"d" * (room // 2) + middle + b"i" * (room - room // 2) + b'"}'
    assert len(body) == total
    return body


# -- OpenAPI and health ---------------------------------------------------------------------


def test_openapi_document_is_served_under_api(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Labelhouse"
    assert doc["info"]["version"] == __version__
    paths = doc["paths"]
    assert all(p.startswith("/api/") for p in paths)
    for expected in (
        "/api/auth/login",
        "/api/projects",
        "/api/projects/{project_id}/tasks",
        "/api/tasks/{task_id}/annotations",
        "/api/projects/{project_id}/export",
        "/api/audit",
        "/api/health",
    ):
        assert expected in paths
    # request bodies are documented (schema names come from the Pydantic models)
    assert "LoginIn" in doc["components"]["schemas"]
    # no un-prefixed copies of the docs
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404


def test_interactive_docs_are_served(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in r.text
    assert "swagger" in r.text.lower()


def test_health_needs_no_login(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "database": "ok",
        "storage": "ok",
        "version": __version__,
    }


# -- list envelopes and cursors -------------------------------------------------------------


def test_every_list_endpoint_returns_items_and_next_cursor(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    c = login(app, owner)
    task = c.post(f"/api/projects/{pid}/next").json()["task"]
    ann = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}}).json()
    c.post("/api/me/tokens", json={"name": "t"})
    lists = [
        "/api/projects",
        f"/api/projects/{pid}/schema/versions",
        f"/api/projects/{pid}/tasks",
        f"/api/tasks/{task['id']}/annotations",
        f"/api/annotations/{ann['id']}/history",
        "/api/members",
        "/api/me/tokens",
        "/api/audit",
    ]
    for path in lists:
        r = c.get(path)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        assert set(body) == {"items", "next_cursor"}, path
        assert isinstance(body["items"], list) and body["items"], path
        assert body["next_cursor"] is None, path


def _statuses(c: TestClient, pid: int) -> dict[str, list[int]]:
    return {
        s: [
            t["id"]
            for t in c.get(f"/api/projects/{pid}/tasks", params={"status": s}).json()["items"]
        ]
        for s in ("new", "in_progress", "done")
    }


def _walk(c: TestClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: Any = None
    while True:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        r = c.get(path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "cursor never ends"


def test_task_listing_paginates_until_exhausted(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(23))
    c = login(app, owner)
    pages = _walk(c, f"/api/projects/{pid}/tasks", limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    ids = [t["id"] for page in pages for t in page]
    assert len(ids) == len(set(ids)) == 23
    assert ids == sorted(ids)
    assert {t["external_id"] for page in pages for t in page} == {f"t{i}" for i in range(23)}


def test_exact_multiple_of_limit_needs_no_empty_last_page(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(10))
    c = login(app, owner)
    pages = _walk(c, f"/api/projects/{pid}/tasks", limit=5)
    # the server looks one row ahead, so no empty trailing page is needed
    assert [len(p) for p in pages] == [5, 5]
    ids = [t["id"] for page in pages for t in page]
    assert len(ids) == len(set(ids)) == 10


def test_default_and_maximum_page_size(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(60))
    c = login(app, owner)
    first = c.get(f"/api/projects/{pid}/tasks").json()
    assert len(first["items"]) == 50
    assert first["next_cursor"] == first["items"][-1]["id"]
    assert len(c.get(f"/api/projects/{pid}/tasks", params={"limit": 500}).json()["items"]) == 60
    for bad in (0, 501, -1, "many"):
        err = assert_error(
            c.get(f"/api/projects/{pid}/tasks", params={"limit": bad}), 422, "invalid_input"
        )
        assert fields_of(err) == ["limit"]
    err = assert_error(
        c.get(f"/api/projects/{pid}/tasks", params={"cursor": -5}), 422, "invalid_input"
    )
    assert fields_of(err) == ["cursor"]


def test_task_status_filter(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(12))
    c = login(app, owner)
    all_ids = [t["id"] for t in c.get(f"/api/projects/{pid}/tasks").json()["items"]]
    assert _statuses(c, pid) == {"new": all_ids, "in_progress": [], "done": []}

    ann = login(app, add_member(db, owner, Role.annotator))
    first = ann.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert (
        ann.post(f"/api/tasks/{first}/annotations", json={"value": {"label": "neg"}}).status_code
        == 200
    )
    second = ann.post(f"/api/projects/{pid}/next").json()["task"]["id"]  # leased, not submitted
    assert (first, second) == (all_ids[0], all_ids[1])

    got = _statuses(c, pid)
    assert got == {"new": all_ids[2:], "in_progress": [second], "done": [first]}
    listed = {t["id"]: t["status"] for t in c.get(f"/api/projects/{pid}/tasks").json()["items"]}
    assert (
        listed[first] == "done" and listed[second] == "in_progress" and listed[all_ids[5]] == "new"
    )

    # the filter paginates too
    pages = _walk(c, f"/api/projects/{pid}/tasks", status="new", limit=4)
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [t["id"] for p in pages for t in p] == all_ids[2:]
    assert all(t["status"] == "new" for p in pages for t in p)

    err = assert_error(
        c.get(f"/api/projects/{pid}/tasks", params={"status": "weird"}), 422, "invalid_input"
    )
    assert fields_of(err) == ["status"]


def test_task_listing_filters_by_external_id(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(5))
    c = login(app, owner)
    items = c.get(f"/api/projects/{pid}/tasks", params={"external_id": "t3"}).json()["items"]
    assert [t["external_id"] for t in items] == ["t3"]
    assert c.get(f"/api/projects/{pid}/tasks", params={"external_id": "zz"}).json()["items"] == []


def test_audit_log_paginates_with_cursor(app, db):
    owner = make_org(db)
    for _ in range(5):
        make_project(db, owner)
    c = login(app, owner)
    pages = _walk(c, "/api/audit", limit=2)
    ids = [e["id"] for p in pages for e in p]
    assert len(ids) == len(set(ids)) == 6  # five projects created, one sign-in
    assert all(len(p) <= 2 for p in pages)


# -- the error shape ------------------------------------------------------------------------


def test_401_shape(client):
    assert_error(client.get("/api/projects"), 401, "not_authenticated")


def test_403_shape(app, db):
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    r = login(app, annotator).post(
        "/api/projects", json={"name": "x", "schema": [{"name": "t", "kind": "text"}]}
    )
    err = assert_error(r, 403, "permission_denied")
    assert "manager" in err["message"]


def test_404_shape_for_objects_and_unknown_routes(app, db):
    owner = make_org(db)
    c = login(app, owner)
    err = assert_error(c.get("/api/projects/424242"), 404, "not_found")
    assert "424242" in err["message"]
    assert_error(c.get("/api/tasks/424242"), 404, "not_found")
    assert_error(c.get("/api/no/such/route"), 404, "not_found")
    assert_error(c.post("/api/no/such/route", json={}), 404, "not_found")
    assert_error(c.get("/not-api-at-all"), 404, "not_found")
    # path parameters are typed: a non-number id is a validation error, not a 500
    err = assert_error(c.get("/api/projects/abc"), 422, "invalid_input")
    assert fields_of(err) == ["project_id"]


def test_405_shape(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.put("/api/health")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers.get("allow", "")
    assert_error(c.delete("/api/projects"), 405, "method_not_allowed")


def test_409_shape(app, db):
    owner = make_org(db)
    member = add_member(db, owner, Role.annotator)
    r = login(app, owner).post("/api/invitations", json={"email": member.email})
    assert_error(r, 409, "conflict")


def test_422_shape_for_domain_validation(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post("/api/projects", json={"name": "x", "schema": {"fields": []}})
    err = assert_error(r, 422, "invalid_input")
    assert fields_of(err) == ["fields"]


# -- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"email": "a@example.com", "password": ', b"{bad json}", b"[1, 2,", b"\xff\xfe"],
)
def test_malformed_json_is_422_with_a_clear_detail(client, raw):
    r = client.post("/api/auth/login", content=raw, headers={"content-type": "application/json"})
    err = assert_error(r, 422, "invalid_input")
    assert len(err["details"]) == 1
    detail = err["details"][0]
    assert detail["field"] == "body"
    assert "malformed JSON" in detail["problem"]


def test_malformed_json_names_where_it_broke(client):
    r = client.post(
        "/api/auth/login", content=b'{"email": x}', headers={"content-type": "application/json"}
    )
    detail = assert_error(r, 422, "invalid_input")["details"][0]
    assert "malformed JSON" in detail["problem"]
    assert "10" in detail["problem"]  # the offending character's position


def test_unknown_body_fields_are_422_naming_the_field(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post("/api/me/tokens", json={"name": "ok", "scopes": ["all"]})
    err = assert_error(r, 422, "invalid_input")
    assert fields_of(err) == ["scopes"]
    r = c.post(
        "/api/projects",
        json={"name": "p", "schema": [{"name": "t", "kind": "text"}], "colour": "red", "owner": 1},
    )
    err = assert_error(r, 422, "invalid_input")
    assert sorted(fields_of(err)) == ["colour", "owner"]
    r = TestClient(app).post(
        "/api/auth/login", json={"email": owner.email, "password": owner.password, "remember": True}
    )
    assert fields_of(assert_error(r, 422, "invalid_input")) == ["remember"]
    assert "set-cookie" not in r.headers


def test_wrong_types_are_422_naming_each_field(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post(
        "/api/projects",
        json={
            "name": 5,
            "schema": [{"name": "t", "kind": "text"}],
            "overlap": "two",
            "lease_seconds": [1],
        },
    )
    err = assert_error(r, 422, "invalid_input")
    assert sorted(fields_of(err)) == ["lease_seconds", "name", "overlap"]
    r = c.post("/api/auth/login", json={"email": ["a"], "password": None})
    assert sorted(fields_of(assert_error(r, 422, "invalid_input"))) == ["email", "password"]
    # a JSON array where an object is expected
    r = c.post("/api/me/tokens", json=["name"])
    assert_error(r, 422, "invalid_input")


def test_missing_body_is_422(app, db):
    owner = make_org(db)
    c = login(app, owner)
    err = assert_error(c.post("/api/me/tokens"), 422, "invalid_input")
    assert err["details"]


def test_nested_locations_use_dots_and_brackets(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    c = login(app, owner)
    task = c.post(f"/api/projects/{pid}/next").json()["task"]
    r = c.post(
        f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}, "lead_time_ms": -1}
    )
    assert fields_of(assert_error(r, 422, "invalid_input")) == ["lead_time_ms"]
    r = c.post(
        "/api/schemas/validate",
        json={
            "schema": {
                "fields": [
                    {"name": "t", "kind": "text"},
                    {"kind": "choice", "name": "c", "options": [{"value": ""}]},
                ]
            }
        },
    )
    assert fields_of(assert_error(r, 422, "invalid_input")) == ["fields[1].options[0].value"]


# -- body size limits -----------------------------------------------------------------------


def test_oversized_body_with_content_length_is_413(app, db):
    owner = make_org(db)
    c = login(app, owner)
    body = b'{"name": "' + b"x" * (LIMIT + 10) + b'", "schema": []}'
    r = c.post("/api/projects", content=body, headers={"content-type": "application/json"})
    assert r.request.headers["content-length"] == str(len(body))
    err = assert_error(r, 413, "too_large")
    assert "262,144" in err["message"]
    assert c.get("/api/projects").json()["items"] == []


def test_oversized_streamed_body_without_content_length_is_413(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post(
        "/api/projects", content=chunks(LIMIT + 1024), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert r.request.headers.get("transfer-encoding") == "chunked"
    err = assert_error(r, 413, "too_large")
    assert "262,144" in err["message"]
    assert c.get("/api/projects").json()["items"] == []


def test_oversized_streamed_body_is_413_even_before_authentication(client):
    r = client.post(
        "/api/auth/login", content=chunks(LIMIT * 2), headers={"content-type": "application/json"}
    )
    assert_error(r, 413, "too_large")


def test_body_up_to_the_limit_is_accepted(app, db):
    owner = make_org(db)
    c = token_client(app, db, owner)
    body = big_valid_project(200_000)
    r = c.post("/api/projects", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    # and streamed, too
    body = big_valid_project(200_000, name="big, streamed")
    r = c.post(
        "/api/projects", content=streamed(body), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 201, r.text
    assert len(c.get("/api/projects").json()["items"]) == 2


def test_body_of_exactly_the_limit_passes_the_size_check(app, db):
    owner = make_org(db)
    c = token_client(app, db, owner)
    body = b'{"name": "x", "junk": "' + b"j" * (LIMIT - 25) + b'"}'
    assert len(body) == LIMIT
    for content in (body, streamed(body)):
        r = c.post("/api/me/tokens", content=content, headers={"content-type": "application/json"})
        # it reaches validation (unknown field), so it was not refused for its size
        assert fields_of(assert_error(r, 422, "invalid_input")) == ["junk"]
    over = body[:-2] + b'j"}'
    for content in (over, streamed(over)):
        r = c.post("/api/me/tokens", content=content, headers={"content-type": "application/json"})
        assert_error(r, 413, "too_large")


def test_upload_paths_get_the_larger_upload_limit(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    c = login(app, owner)
    rows = [{"text": "y" * 1000, "external_id": f"big{i}"} for i in range(400)]
    body = jsonl(rows)
    assert len(body) > LIMIT
    r = c.post(f"/api/projects/{pid}/import", content=body)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 400


@pytest.mark.parametrize("streamed", [False, True])
def test_upload_over_the_upload_limit_is_413(settings, db, streamed):
    small = settings.model_copy(update={"max_upload_bytes": 4096})
    app = create_app(small, database=db, storage=LocalStorage(small.resolved_storage_dir))
    owner = make_org(db)
    pid = make_project(db, owner)
    c = login(app, owner)
    body = jsonl(text_rows(200))
    assert len(body) > 4096
    content: Any = (
        iter([body[i : i + 1000] for i in range(0, len(body), 1000)]) if streamed else body
    )
    r = c.post(f"/api/projects/{pid}/import", content=content)
    assert_error(r, 413, "too_large")
    assert c.get(f"/api/projects/{pid}/tasks").json()["items"] == []


# -- headers --------------------------------------------------------------------------------


def _assert_security_headers(r: Any) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


def test_security_headers_on_json_and_error_responses(app, db):
    owner = make_org(db)
    c = login(app, owner)
    for r in (
        c.get("/api/health"),
        c.get("/api/projects"),
        c.get("/api/projects/999"),
        TestClient(app).get("/api/me"),
        c.post("/api/me/tokens", json={"bad": 1}),
        c.put("/api/health"),
        c.get("/api/nowhere"),
    ):
        _assert_security_headers(r)
    r = c.post(
        "/api/projects", content=chunks(LIMIT + 1024), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    _assert_security_headers(r)


def test_docs_are_served_under_the_strict_csp(client):
    # Swagger UI is vendored (issue 11, item 7): the docs page loads nothing from elsewhere
    r = client.get("/api/docs")
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "cdn" not in csp.lower()
    assert "cdn.jsdelivr" not in r.text and "/static/vendor/swagger-ui-" in r.text


def test_file_download_is_sandboxed(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    c = login(app, owner)
    data = png_bytes()
    r = c.post(f"/api/projects/{pid}/files", files={"files": ("p.png", data, "image/png")})
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert item["created"] is True
    got = c.get(item["url"])
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"].startswith("private")


# -- integer bounds ---------------------------------------------------------------------------

BIGINT_MAX = 2**63 - 1


def _int_path_routes(app) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, int path parameters) of every route, pages included."""
    from fastapi.routing import APIRoute

    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            # FastAPI >= 0.16x wraps an included router instead of copying its routes
            inner = getattr(route, "original_router", None) or getattr(route, "router", None)
            if inner is not None and hasattr(inner, "routes"):
                yield from walk(inner.routes)

    found = []
    for route in walk(app.routes):
        names = [p.name for p in route.dependant.path_params if p.field_info.annotation is int]
        if names:
            found.extend((m, route.path, names) for m in sorted(route.methods))
    return sorted(set((m, p, tuple(n)) for m, p, n in found))


def test_every_integer_path_parameter_is_bounded(app, db):
    """Ids beyond a BIGINT (or below 1) are a 422 naming the parameter on every API route, and
    a 'Not found' page on every page route; the drivers would otherwise fail with an
    overflow (a 500) — found by fuzzing the API."""
    owner = make_org(db)
    c = login(app, owner)  # a browser session: pages and the API alike
    routes = _int_path_routes(app)
    assert len(routes) >= 30  # the API and the pages
    for method, path, names in routes:
        for bad in (2**64, BIGINT_MAX + 1, 0, -1):
            url = path
            for name in names:
                url = url.replace("{" + name + "}", str(bad))
            r = c.request(method, url, json={})
            if url.startswith("/api/"):
                err = assert_error(r, 422, "invalid_input")
                assert set(names) <= set(fields_of(err)), (url, err)
            else:
                assert r.status_code == 404, (method, url, r.status_code, r.text[:300])
                assert r.headers["content-type"].startswith("text/html")
                assert "No page has this address" in r.text
        url = path
        for name in names:
            url = url.replace("{" + name + "}", str(BIGINT_MAX))
        r = c.request(method, url, json={})  # the largest id is valid: it names nothing
        if RULES.get((method, path)) == WORKFORCE_MANAGER:  # refused before any lookup
            assert r.status_code == 403, (method, url, r.status_code)
            continue
        assert r.status_code in (404, 422), (method, url, r.status_code, r.text[:300])
        assert r.status_code == 404 or url.startswith("/api/"), (method, url)
        if r.status_code == 422 and url.startswith("/api/"):
            assert not set(names) & set(fields_of(r.json()["error"])), (url, r.text)


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("GET", f"/api/projects?cursor={2**64}"),
        ("GET", f"/api/audit?cursor={2**64}"),
        ("GET", "/api/projects/{pid}/tasks?cursor=99999999999999999999"),
        ("GET", "/api/projects/{pid}/tasks?annotator=99999999999999999999"),
        ("POST", "/api/projects/{pid}/review/next?after=99999999999999999999"),
        ("GET", "/projects/{pid}/annotate?task=99999999999999999999"),
    ],
)
def test_integer_query_parameters_are_bounded(app, db, method, query):
    owner = make_org(db)
    pid = make_project(db, owner)
    c = token_client(app, db, owner)
    r = c.request(method, query.format(pid=pid))
    if query.startswith("/api/"):
        assert_error(r, 422, "invalid_input")
    else:  # a page: an HTML error page naming the parameter
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "The address is not valid: task:" in r.text


def _leased_task(app, db):
    """A manager's API client holding a lease on the one task of a new project."""
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    c = token_client(app, db, owner)
    return c, pid, c.post(f"/api/projects/{pid}/next").json()["task"]


def test_lead_time_must_be_a_finite_number(app, db):
    c, _, task = _leased_task(app, db)
    for number in (b"NaN", b"Infinity", b"1e400"):
        r = c.post(
            f"/api/tasks/{task['id']}/annotations",
            content=b'{"value": {"label": "pos"}, "lead_time_ms": %s}' % number,
            headers={"content-type": "application/json"},
        )
        assert_error(r, 422, "invalid_input")
    assert c.get(f"/api/tasks/{task['id']}/annotations").json()["items"] == []  # nothing stored


def test_login_organization_id_is_bounded(client):
    r = client.post(
        "/api/auth/login",
        json={"email": "nobody@example.com", "password": "x", "organization_id": 2**64},
    )
    assert_error(r, 422, "invalid_input")


# -- NUL characters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "/api/projects/{pid}/tasks?q=%00",
        "/api/projects/{pid}/tasks?external_id=a%00",
        "/api/projects/{pid}/tasks?field=label&value=%00",
        "/api/projects/{pid}/tasks?q=a%00b&match=contains",
        "/projects/{pid}/tasks?q=%00",
    ],
)
def test_nul_in_a_query_parameter_is_422(app, db, query):
    """These were 500s on PostgreSQL, which cannot take a NUL in a query parameter."""
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    c = login(app, owner)
    r = c.get(query.format(pid=pid))
    if query.startswith("/api/"):
        err = assert_error(r, 422, "invalid_input")
        assert "NUL" in err["message"]
    else:  # a page: an HTML error page
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "contains a NUL character" in r.text


def test_nul_in_a_json_body_is_422_naming_where(app, db):
    c, pid, task = _leased_task(app, db)
    r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos\x00"}})
    err = assert_error(r, 422, "invalid_input")
    assert "value.label contains a NUL character" in err["details"][0]["problem"]
    assert c.get(f"/api/tasks/{task['id']}/annotations").json()["items"] == []
    r = c.patch(f"/api/projects/{pid}", json={"name": "a\x00b"})
    err = assert_error(r, 422, "invalid_input")
    assert "name contains a NUL character" in err["details"][0]["problem"]
    assert c.get(f"/api/projects/{pid}").json()["name"] != "a\x00b"


def test_nul_in_a_schema_is_refused(app, db):
    owner = make_org(db)
    c = token_client(app, db, owner)
    schema = {
        "fields": [
            {"name": "label", "kind": "choice", "reads": ["text"], "options": [{"value": "a\x00"}]}
        ]
    }
    r = c.post("/api/schemas/validate", json={"schema": schema})
    assert r.status_code == 422, r.text
    assert "NUL" in r.text


def test_nul_in_a_login_email_is_a_failed_login(client):
    r = client.post("/api/auth/login", json={"email": "a\x00@example.com", "password": "x"})
    assert_error(r, 422, "invalid_input")
    r = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert r.status_code == 401
