"""The gold-accuracy pause in real Chromium: an annotator fails the check tasks until the
queue pauses them, sees why instead of a task, a manager lifts the pause on the quality
page, and the annotator gets tasks again."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from labelhouse.annotations import service as annotations
from labelhouse.tasks import queue
from tests.browser.annotate_support import make_project
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import SCHEMA, new_user

N_GOLD = 3


def _project(live_server) -> int:
    rows = [
        {"data": {"text": f"check {i}"}, "external_id": f"c{i}", "gold": {"label": "pos"}}
        for i in range(N_GOLD)
    ] + [{"text": f"ordinary {i}", "external_id": f"o{i}"} for i in range(4)]
    pid = make_project(live_server, SCHEMA, rows)
    with live_server.db.session() as s:
        queue.update_project(
            s,
            live_server.owner,
            pid,
            {"gold_first_n": N_GOLD, "gold_min_accuracy": 0.6, "gold_min_answers": N_GOLD},
        )
    return pid


def test_paused_annotator_sees_why_and_works_again_after_a_manager_lifts_it(
    page: Page, browser: Browser, browser_context_args: dict, live_server, console_errors
):
    pid = _project(live_server)
    _, email = new_user(live_server)
    login(page, email)
    page.goto(f"/projects/{pid}/annotate")
    blocked = page.locator("#an-blocked")
    for n in range(N_GOLD):  # the first tasks of a new annotator are the check tasks
        expect(page.locator("#an-task-ref")).to_contain_text("Task #")
        page.keyboard.press("2")  # "neg": wrong on every check task
        page.keyboard.press("Control+Enter")
        if n < N_GOLD - 1:
            expect(page.locator("#an-status")).to_contain_text("Saved task")
            expect(blocked).to_be_hidden()
    # the last wrong answer is saved, then the queue refuses the next task
    expect(blocked).to_be_visible()
    expect(blocked.get_by_role("heading")).to_have_text("Your work on this project is paused")
    expect(blocked).to_contain_text("Paused: your gold accuracy is 0%")
    expect(blocked).to_contain_text("Ask a project manager")
    expect(page.locator("#an-task")).to_be_hidden()
    expect(page.locator("#an-actions")).to_be_hidden()
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    screenshot(page, "gold-paused")
    blocked.get_by_role("button", name="Check again").click()
    expect(page.locator("#an-status")).to_have_text("Still paused.")
    expect(blocked).to_be_visible()

    manager_context = browser.new_context(**browser_context_args)
    manager = manager_context.new_page()
    try:
        login(manager, live_server.owner_email)
        manager.goto(f"/projects/{pid}/quality")
        row = manager.locator("#scorecard-table tr").filter(has_text=email.partition("@")[0])
        expect(row.locator(".badge.paused")).to_be_visible()
        expect(row.locator("td.gold-accuracy")).to_contain_text("0.0%")
        lift = row.get_by_role("button", name=f"Lift the pause of {email}")
        screenshot(manager, "gold-paused-quality")
        lift.click()
        manager.wait_for_load_state("load")
        row = manager.locator("#scorecard-table tr").filter(has_text=email.partition("@")[0])
        expect(row).to_be_visible()
        expect(row.locator(".badge.paused")).to_have_count(0)
        expect(row.get_by_role("button", name=f"Lift the pause of {email}")).to_have_count(0)
    finally:
        manager_context.close()

    blocked.get_by_role("button", name="Check again").click()
    expect(blocked).to_be_hidden()
    expect(page.locator("#an-task-ref")).to_contain_text("Task #")
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Saved task")
    expect(blocked).to_be_hidden()
    assert [e for e in console_errors if "status of 403" not in e] == []


def test_reviewers_see_the_pause_but_cannot_lift_it(page: Page, live_server):
    pid = _project(live_server)
    actor, email = new_user(live_server)
    with live_server.db.session() as s:
        for _ in range(N_GOLD):
            lease = queue.claim_next(s, actor, pid)
            assert lease is not None and lease.task.gold is not None
            annotations.save(s, actor, lease.task.id, value={"label": "neu"}, lead_time_ms=3000)
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/quality")
    row = page.locator("#scorecard-table tr").filter(has_text=email.partition("@")[0])
    expect(row.locator(".badge.paused")).to_be_visible()
    expect(row.locator("button.lift-pause")).to_have_count(0)
