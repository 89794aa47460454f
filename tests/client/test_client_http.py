"""Retries and error mapping at the client's network edge: httpx's MockTransport stands in
for the server (a fake at the process edge), so a 503 or a dropped connection can be sent
on demand; the live tests cover the real server's answers."""

from __future__ import annotations

import socket

import httpx
import pytest

from labelhouse.client import (
    Client,
    Conflict,
    ConnectionFailed,
    InvalidInput,
    LabelhouseError,
    NotFound,
    PasswordChangeRequired,
    Problem,
    RateLimited,
    ServerError,
    Unavailable,
)


def error(status: int, code: str, message: str, details=(), headers=None) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return httpx.Response(status, json=body, headers=headers)


def client_with(handler, sleeps: list[float] | None = None, **options) -> Client:
    waits = sleeps if sleeps is not None else []
    return Client(
        "http://lh.test",
        token="t",
        transport=httpx.MockTransport(handler),
        sleep=waits.append,
        **options,
    )


def test_a_503_is_retried_after_the_servers_retry_after():
    answers = [
        error(503, "busy", "Busy, try again.", headers={"Retry-After": "2"}),
        error(503, "busy", "Busy, try again.", headers={"Retry-After": "3"}),
        httpx.Response(200, json={"items": [], "next_cursor": None}),
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    sleeps: list[float] = []
    with client_with(handler, sleeps) as c:
        assert c.list_projects() == []
        assert c.retries == 2
    assert sleeps == [2.0, 3.0]
    assert all(r.headers["authorization"] == "Bearer t" for r in seen)


def test_a_submit_retried_after_a_503_keeps_its_idempotency_key():
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        if len(keys) == 1:
            return error(503, "database_unavailable", "Down.", headers={"Retry-After": "1"})
        body = {"id": 5, "task_id": 9, "status": "submitted", "value": {}, "created": True}
        return httpx.Response(200, json=body)

    with client_with(handler) as c:
        assert c.submit(9, {"a": 1}).annotation.id == 5
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 36


def test_after_the_last_retry_the_503_is_raised_with_retry_after():
    sleeps: list[float] = []
    handler = lambda r: error(503, "busy", "The server is busy.", headers={"Retry-After": "60"})  # noqa: E731
    with (
        client_with(handler, sleeps, max_retries=2, max_wait=5) as c,
        pytest.raises(Unavailable) as caught,
    ):
        c.get_project(1)
    assert caught.value.retry_after == 60 and caught.value.status == 503
    assert sleeps == [5, 5]  # capped by max_wait


def test_a_broken_connection_retries_reads_but_not_an_unkeyed_write():
    calls = {"GET": 0, "POST": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.method] += 1
        raise httpx.ReadError("connection reset", request=request)

    with client_with(handler, max_retries=3) as c:
        with pytest.raises(ConnectionFailed) as caught:
            c.get_task(1)
        assert calls["GET"] == 4
        with pytest.raises(ConnectionFailed):
            c.decide(1, "accept")  # a review decision has no key: sent once
        assert calls["POST"] == 1
    message = str(caught.value)
    assert "http://lh.test" in message and "connection broke" in message
    assert not isinstance(caught.value, httpx.HTTPError)


def test_an_unreachable_server_is_one_sentence():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        client = Client(f"http://127.0.0.1:{port}", max_retries=1, sleep=lambda s: None)
        with client as c, pytest.raises(ConnectionFailed) as caught:
            c.me()
    assert str(caught.value).startswith(
        f"Could not reach the Labelhouse server at http://127.0.0.1:{port}"
    )
    assert caught.value.status == 0


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (error(404, "not_found", "No such project."), NotFound),
        (error(409, "conflict", "The lease ended."), Conflict),
        (error(403, "password_change_required", "Change it."), PasswordChangeRequired),
        (error(429, "rate_limited", "Slow down.", headers={"Retry-After": "7"}), RateLimited),
        (error(500, "internal", "Something went wrong on the server; it was logged."), ServerError),
        (httpx.Response(502, text="<html>bad gateway</html>"), ServerError),
        (httpx.Response(418, text=""), LabelhouseError),
    ],
)
def test_error_answers_become_the_client_exceptions(response, expected):
    with client_with(lambda r: response, max_retries=0) as c, pytest.raises(expected) as caught:
        c.get_project(1)
    assert type(caught.value) is expected
    assert caught.value.status == response.status_code and caught.value.message
    if expected is RateLimited:
        assert caught.value.retry_after == 7


def test_invalid_input_carries_every_problem():
    details = [
        {"field": "fields[0].options", "problem": "must list at least one option"},
        {"field": "fields[1].kind", "problem": "unknown kind 'x'"},
    ]
    handler = lambda r: error(422, "invalid_input", "The schema is invalid.", details)  # noqa: E731
    with client_with(handler) as c, pytest.raises(InvalidInput) as caught:
        c.validate_schema({"fields": []})
    err = caught.value
    assert err.problems == [
        Problem("fields[0].options", "must list at least one option"),
        Problem("fields[1].kind", "unknown kind 'x'"),
    ]
    field, message = err.problems[0]
    assert (field, message) == ("fields[0].options", "must list at least one option")
    assert str(err) == (
        "The schema is invalid. fields[0].options: must list at least one option; "
        "fields[1].kind: unknown kind 'x'"
    )


def test_a_redirect_or_an_answer_that_is_not_json_says_what_came_instead():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/me":
            return httpx.Response(308, headers={"location": "https://lh.test/api/me"})
        return httpx.Response(
            200, text="<html>a captive portal</html>", headers={"content-type": "text/html"}
        )

    with client_with(handler) as c:
        with pytest.raises(LabelhouseError) as moved:
            c.me()
        assert "https://lh.test/api/me" in str(moved.value) and moved.value.status == 308
        with pytest.raises(LabelhouseError) as portal:
            c.get_project(1)
    assert "Expected JSON" in str(portal.value) and "text/html" in str(portal.value)
