"""Leases of open pages (issue 12, item 7): a heartbeat renews them, a closing page gives its
task back with a beacon (a POST carrying the CSRF token as a form field, since a beacon
cannot set headers), and the cross-site protection still holds for that beacon."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from labelhouse.db.base import utcnow
from labelhouse.projects.models import DEFAULT_LEASE_SECONDS
from labelhouse.tasks.models import Assignment, Task
from tests.factories import add_tasks, login, make_project, text_rows, token_client
from tests.helpers_data import detached, error_of

OWN = "http://testserver"
BEACON = {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}  # what Chromium sends with it
CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))  # one task, overlap 1: whoever holds it blocks all
    return pid


def claim(client, project_id):
    r = client.post(f"/api/projects/{project_id}/next")
    assert r.status_code == 200, r.text
    return r.json()


def lease_of(db, task_id):
    return detached(db, select(Assignment).where(Assignment.task_id == task_id))


def taken(db, task_id) -> int:
    return detached(db, select(Task.taken).where(Task.id == task_id))[0]


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def beacon(client, task_id, csrf, headers=BEACON, hold=None):
    """``navigator.sendBeacon(url, new URLSearchParams({csrf_token, hold}))``: cookies, no
    header."""
    header = client.headers.pop("X-CSRF-Token", None)
    form = {"csrf_token": csrf} if csrf is not None else {}
    if hold is not None:
        form["hold"] = hold
    try:
        url = f"/api/tasks/{task_id}/lease/release"
        return client.post(url, data=form or None, headers=headers)
    finally:
        if header is not None:
            client.headers["X-CSRF-Token"] = header


def test_new_projects_lease_for_ten_minutes_and_next_says_so(app, db, annotator, project):
    assert DEFAULT_LEASE_SECONDS == 600
    c = login(app, annotator)
    body = claim(c, project)
    assert body["lease"]["seconds"] == 600
    left = parse(body["lease"]["expires_at"]) - utcnow()
    assert timedelta(minutes=9) < left <= timedelta(minutes=10)


# -- release -----------------------------------------------------------------------------------


def test_a_beacon_releases_the_lease_and_another_annotator_gets_the_task(
    app, db, owner, annotator, project
):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    other = login(app, owner)
    assert claim(other, project)["task"] is None  # held: nothing for anybody else
    csrf = c.headers["X-CSRF-Token"]
    r = beacon(c, task["id"], csrf)
    assert r.status_code == 204, r.text
    assert lease_of(db, task["id"]) == []
    assert taken(db, task["id"]) == 0
    assert claim(other, project)["task"]["id"] == task["id"]  # at once, not in 10 minutes


def test_a_late_beacon_from_before_a_reload_leaves_the_reloaded_pages_lease_alone(
    app, db, annotator, project
):
    """The race the browser suite hit: a page reloads, the reloaded page is served the same
    lease, and only then does the closing page's beacon arrive. It names the hold it was
    served, which is no longer the lease's, so the lease stays and the submission counts."""
    c = login(app, annotator)
    csrf = c.headers["X-CSRF-Token"]
    first = claim(c, project)
    tid = first["task"]["id"]
    again = claim(c, project)  # the reloaded page: the same lease, a new hold
    assert again["task"]["id"] == tid and again["lease"]["new"] is False
    assert again["lease"]["hold"] != first["lease"]["hold"]
    r = beacon(c, tid, csrf, hold=first["lease"]["hold"])  # the closing page's, late
    assert r.status_code == 409, r.text
    assert "opened again" in error_of(r)["message"]
    assert [a.status for a in lease_of(db, tid)] == ["leased"]
    r = c.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "pos"}})
    assert r.status_code in (200, 201), r.text
    assert [a.status for a in lease_of(db, tid)] == ["submitted"]


def test_a_beacon_naming_the_current_hold_releases(app, db, annotator, project):
    c = login(app, annotator)
    csrf = c.headers["X-CSRF-Token"]
    claim(c, project)
    held = claim(c, project)  # served twice: the second hold is the current one
    tid = held["task"]["id"]
    assert beacon(c, tid, csrf, hold=held["lease"]["hold"]).status_code == 204
    assert lease_of(db, tid) == []
    # Leased to the same person again later: the old token does not name the new lease.
    again = claim(c, project)
    assert again["task"]["id"] == tid and again["lease"]["new"] is True
    assert beacon(c, tid, csrf, hold=held["lease"]["hold"]).status_code == 409
    assert [a.status for a in lease_of(db, tid)] == ["leased"]


@pytest.mark.parametrize("hold", ["", "abc", "1.2.3", "1;drop", "9" * 30 + ".1"])
def test_a_malformed_hold_is_a_422_naming_the_field(app, db, annotator, project, hold):
    c = login(app, annotator)
    tid = claim(c, project)["task"]["id"]
    r = c.delete(f"/api/tasks/{tid}/lease", params={"hold": hold})
    assert r.status_code == 422, r.text
    assert "hold" in r.text
    assert [a.status for a in lease_of(db, tid)] == ["leased"]


def test_delete_lease_takes_the_hold_as_a_query_parameter(app, db, annotator, project):
    c = login(app, annotator)
    first = claim(c, project)
    tid = first["task"]["id"]
    assert (
        c.delete(f"/api/tasks/{tid}/lease", params={"hold": first["lease"]["hold"]}).status_code
        == 204
    )
    assert lease_of(db, tid) == []


def test_the_post_release_works_with_the_header_or_a_token_too(app, db, owner, annotator, project):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    assert c.post(f"/api/tasks/{task['id']}/lease/release").status_code == 204
    t = token_client(app, db, owner)
    task = claim(t, project)["task"]
    assert t.post(f"/api/tasks/{task['id']}/lease/release").status_code == 204
    assert taken(db, task["id"]) == 0


@pytest.mark.parametrize("csrf", [None, "", "not-the-token"])
def test_a_release_without_the_right_csrf_token_is_refused(app, db, annotator, project, csrf):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    r = beacon(c, task["id"], csrf)
    assert r.status_code == 403
    assert "CSRF" in error_of(r)["message"]
    assert [a.status for a in lease_of(db, task["id"])] == ["leased"]


@pytest.mark.parametrize(
    "headers",
    [CROSS_SITE, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"}],
)
def test_a_cross_site_beacon_is_refused_even_with_the_token(app, db, annotator, project, headers):
    """Another site cannot make a signed-in browser give its task back: a cross-site beacon
    carries the cookies (were they not SameSite) and the Origin; the origin check refuses it
    before anything runs, whatever the body holds."""
    c = login(app, annotator)
    task = claim(c, project)["task"]
    r = beacon(c, task["id"], c.headers["X-CSRF-Token"], headers=headers)
    assert r.status_code == 403
    assert error_of(r)["code"] == "cross_site_request"
    assert [a.status for a in lease_of(db, task["id"])] == ["leased"]


def test_only_the_holder_may_release(app, db, owner, annotator, project):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    other = login(app, owner)  # sees the whole project, holds no lease on it
    r = other.post(f"/api/tasks/{task['id']}/lease/release")
    assert r.status_code == 404
    assert "no lease" in error_of(r)["message"]
    assert [a.status for a in lease_of(db, task["id"])] == ["leased"]


# -- renew -------------------------------------------------------------------------------------


def test_renew_runs_the_lease_a_full_term_from_now(app, db, annotator, project):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    soon = utcnow() + timedelta(seconds=20)
    with db.session() as s:
        s.execute(update(Assignment).values(expires_at=soon))
    r = c.post(f"/api/tasks/{task['id']}/lease/renew")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["task_id"], body["lease_seconds"]) == (task["id"], 600)
    [lease] = lease_of(db, task["id"])
    assert lease.expires_at == parse(body["expires_at"])
    assert timedelta(seconds=590) < lease.expires_at - utcnow() <= timedelta(seconds=600)


def test_a_lease_past_its_time_that_nobody_took_back_is_renewed(app, db, annotator, project):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    with db.session() as s:
        s.execute(update(Assignment).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert c.post(f"/api/tasks/{task['id']}/lease/renew").status_code == 200
    [lease] = lease_of(db, task["id"])
    assert lease.status == "leased" and lease.expires_at > utcnow() + timedelta(minutes=9)


def test_someone_else_cannot_renew_a_lease(app, db, owner, annotator, project):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    soon = utcnow() + timedelta(seconds=20)
    with db.session() as s:
        s.execute(update(Assignment).values(expires_at=soon))
    other = login(app, owner)
    r = other.post(f"/api/tasks/{task['id']}/lease/renew")
    assert r.status_code == 404
    assert error_of(r)["message"] == f"You hold no lease on task {task['id']}."
    assert lease_of(db, task["id"])[0].expires_at == soon


@pytest.mark.parametrize(
    ("end", "words"),
    [
        ("submit", "ended when you submitted it"),
        ("skip", "You skipped task"),
        ("expire", "expired and the task went back to the queue"),
    ],
)
def test_renewing_an_ended_lease_says_how_it_ended(app, db, owner, annotator, project, end, words):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    url = f"/api/tasks/{task['id']}"
    if end == "submit":
        assert c.post(f"{url}/annotations", json={"value": {"label": "pos"}}).status_code == 200
    elif end == "skip":
        assert c.post(f"{url}/skip", json={}).status_code == 204
    else:  # past its time, and another annotator's claim took it back
        with db.session() as s:
            s.execute(update(Assignment).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert claim(login(app, owner), project)["task"]["id"] == task["id"]
    r = c.post(f"{url}/lease/renew")
    assert r.status_code == 409, r.text
    err = error_of(r)
    assert err["code"] == "conflict"
    assert words in err["message"] and "ask for your next task" in err["message"]


def test_renewing_a_released_lease_is_404(app, db, annotator, project):
    c = login(app, annotator)
    task = claim(c, project)["task"]
    assert c.delete(f"/api/tasks/{task['id']}/lease").status_code == 204
    r = c.post(f"/api/tasks/{task['id']}/lease/renew")
    assert r.status_code == 404
    assert "no lease" in error_of(r)["message"]
