"""The annotate page and the queue (issue 12, items 5 and 7): leaving the page gives its task
back at once (a beacon on ``pagehide`` naming the page's hold, so a reload's late beacon
cannot take the lease from the reloaded page), and a submission whose answer was lost is
retried with the same Idempotency-Key, so it is saved once."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from playwright.sync_api import Page, Route, expect
from sqlalchemy import select, update

from labelhouse.accounts import service as accounts
from labelhouse.annotations.models import AnnotationRevision
from labelhouse.db.base import utcnow
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment
from tests.browser.annotate_support import annotation, make_project, open_annotate, task_id

CHOICE = {
    "fields": [
        {"name": "label", "kind": "choice", "reads": ["text"], "options": [{"value": "x"}]},
    ]
}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def lease_holders(live_server, tid: int) -> list[int]:
    with live_server.db.read_session() as s:
        return list(
            s.scalars(
                select(Assignment.user_id).where(
                    Assignment.task_id == tid, Assignment.status == "leased"
                )
            )
        )


def expiry(live_server, tid: int) -> datetime:
    with live_server.db.read_session() as s:
        return s.scalars(select(Assignment.expires_at).where(Assignment.task_id == tid)).one()


def eventually(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_leaving_the_page_gives_the_task_to_the_next_annotator_at_once(
    page: Page, live_server, console_errors
):
    pid = make_project(live_server, CHOICE, [{"text": "only one", "external_id": "solo"}])
    tid = task_id(live_server, pid, "solo")
    me = live_server.annotator.user_id
    open_annotate(page, live_server, pid)
    assert lease_holders(live_server, tid) == [me]
    # A reload gives the task back (or, if its beacon comes late, keeps it): it stays this page's.
    page.reload()
    expect(page.locator("#an-task-ref")).to_contain_text("solo")
    assert eventually(lambda: lease_holders(live_server, tid) == [me])
    # The heartbeat renews it (here: on coming back to the tab, a minute after the last beat).
    with live_server.db.session() as s:
        soon = utcnow() + timedelta(seconds=30)
        s.execute(update(Assignment).where(Assignment.task_id == tid).values(expires_at=soon))
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    assert eventually(lambda: expiry(live_server, tid) > utcnow() + timedelta(minutes=9))

    page.goto("/")  # away: pagehide sends the beacon
    assert eventually(lambda: lease_holders(live_server, tid) == [])
    with live_server.db.session() as s:  # another annotator asks now, not in ten minutes
        other = accounts.actor_for(s, user_id=live_server.reviewer.user_id)  # now a member
        lease = queue.claim_next(s, other, pid)
    assert lease is not None and lease.task.id == tid
    assert console_errors == []


def test_a_reloads_late_beacon_does_not_take_the_task_from_the_reloaded_page(
    page: Page, live_server, console_errors
):
    """The race seen in the full suite, made certain: the closing page's beacon is held back
    until the reloaded page has been served the same lease, then delivered. It names the old
    hold, so the server keeps the lease and the reloaded page's submission is saved."""
    pid = make_project(live_server, CHOICE, [{"text": "reloaded", "external_id": "late"}])
    tid = task_id(live_server, pid, "late")
    open_annotate(page, live_server, pid)
    # Playwright cannot hold back a beacon (it outlives the page), so the closing page's
    # beacon is kept in the tab's sessionStorage instead and sent by the test afterwards.
    page.evaluate(
        """() => { navigator.sendBeacon = (url, body) => {
            sessionStorage.setItem("late-beacon", JSON.stringify([url, body.toString()]));
            return true; }; }"""
    )
    page.reload()
    expect(page.locator("#an-task-ref")).to_contain_text("late")
    url, body = page.evaluate("() => JSON.parse(sessionStorage.getItem('late-beacon'))")
    assert url == f"/api/tasks/{tid}/lease/release"
    form = dict(parse_qsl(body))
    assert set(form) == {"csrf_token", "hold"}
    late = page.request.post(
        f"{live_server.base_url}{url}",
        form=form,
        headers={"Origin": live_server.base_url},
    )
    assert late.status == 409, late.text()
    assert lease_holders(live_server, tid) == [live_server.annotator.user_id]
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task", timeout=10_000)
    assert annotation(live_server, pid, "late").value == {"label": "x"}
    assert console_errors == []


def test_a_submission_whose_answer_was_lost_is_retried_with_its_key_and_saved_once(
    page: Page, live_server, console_errors
):
    pid = make_project(
        live_server,
        CHOICE,
        [{"text": "first", "external_id": "k1"}, {"text": "second", "external_id": "k2"}],
    )
    open_annotate(page, live_server, pid)
    keys: list[str | None] = []

    def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server saves it…
            route.abort("connectionreset")  # …and the answer never reaches the page
        else:
            route.continue_()

    page.route("**/api/tasks/*/annotations*", lose_the_first_answer)
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task", timeout=10_000)
    expect(page.locator("#an-task-ref")).to_contain_text("k2")
    assert len(keys) >= 2 and len(set(keys)) == 1 and UUID.match(keys[0] or "")
    saved = annotation(live_server, pid, "k1")
    assert (saved.value, saved.revision) == ({"label": "x"}, 1)
    with live_server.db.read_session() as s:
        revisions = s.scalars(
            select(AnnotationRevision.revision).where(AnnotationRevision.annotation_id == saved.id)
        ).all()
    assert revisions == [1]
    assert [e for e in console_errors if "ERR_CONNECTION_RESET" not in e] == []
