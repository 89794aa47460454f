"""The review page in real Chromium: accept, reject with a reason, correct with the
widgets, two reviewers at once (each is shown a task leased to them, Skip gives it up);
each checks the database afterwards."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.annotations.models import Annotation
from labelhouse.review.models import Review, ReviewLease
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import annotate, new_project, new_user, text_rows


def reviewed_project(live, labels: dict[str, tuple[str, str]]) -> tuple[int, dict[str, int]]:
    """A project in review mode 'all' whose tasks two annotators labelled as given."""
    pid = new_project(live, rows=text_rows(len(labels)), overlap=2)
    with live.db.session() as s:
        queue.update_project(s, live.owner, pid, {"review_mode": "all"})
    (a, _), (b, _) = new_user(live), new_user(live)
    ids = annotate(live, a, pid, {k: {"label": v[0]} for k, v in labels.items()})
    annotate(live, b, pid, {k: {"label": v[1]} for k, v in labels.items()})
    return pid, ids


def statuses(live, task_id: int) -> list[str | None]:
    with live.db.read_session() as s:
        return list(
            s.scalars(
                select(Annotation.review_status)
                .where(Annotation.task_id == task_id)
                .order_by(Annotation.id)
            )
        )


def test_accept_with_key(page: Page, live_server, console_errors):
    pid, ids = reviewed_project(live_server, {"item-0": ("pos", "pos"), "item-1": ("pos", "neg")})
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.get_by_role("link", name="Review")).to_have_attribute("aria-current", "page")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {ids['item-0']}")
    expect(page.locator(".rv-annotation")).to_have_count(2)
    expect(page.locator("dd.rv-differs")).to_have_count(0)
    expect(page.locator("#rv-context")).to_contain_text("item number 0")
    screenshot(page, "review-accept")
    page.keyboard.press("a")
    expect(page.locator("#rv-status")).to_contain_text("accepted")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {ids['item-1']}")
    # the second task's annotators disagree: one value is highlighted
    expect(page.locator("dd.rv-differs")).to_have_count(1)
    assert statuses(live_server, ids["item-0"]) == ["accepted", "accepted"]
    with live_server.db.read_session() as s:
        review = s.scalars(select(Review).where(Review.task_id == ids["item-0"])).one()
        assert (review.decision, review.reviewer_id) == ("accept", live_server.reviewer.user_id)
    assert console_errors == []


def test_reject_needs_a_reason_and_reopens_the_task(page: Page, live_server, console_errors):
    pid, ids = reviewed_project(live_server, {"item-0": ("pos", "neg")})
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("dd.rv-differs")).to_have_count(1)
    page.keyboard.press("r")
    expect(page.locator("#rv-reason")).to_be_focused()
    page.locator("#rv-reason").fill("Sarcasm is negative; see the guideline.")
    screenshot(page, "review-reject")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#rv-status")).to_contain_text("rejected, back in the queue")
    expect(page.locator("#rv-status")).to_contain_text("Nothing else is waiting")
    assert statuses(live_server, ids["item-0"]) == ["rejected", "rejected"]
    with live_server.db.read_session() as s:
        task = s.get(Task, ids["item-0"])
        assert (task.done, task.taken, task.is_open) == (0, 0, True)
        review = s.scalars(select(Review).where(Review.task_id == task.id)).one()
        assert review.reason == "Sarcasm is negative; see the guideline."
    assert console_errors == []


def test_correct_with_the_widgets(page: Page, live_server, console_errors):
    pid, ids = reviewed_project(live_server, {"item-0": ("pos", "neg")})
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.locator(".rv-annotation")).to_have_count(2)
    page.keyboard.press("c")
    correct = page.locator("#rv-correct")
    expect(correct).to_be_visible()
    # pre-filled with the most common value (a tie: the first answer, "pos")
    expect(correct.get_by_role("radio", name="pos")).to_be_checked()
    correct.get_by_role("radio", name="neu").check()
    screenshot(page, "review-correct")
    correct.get_by_role("button", name="Save correction").click()
    expect(page.locator("#rv-status")).to_contain_text("corrected")
    assert statuses(live_server, ids["item-0"]) == ["corrected", "corrected"]
    with live_server.db.read_session() as s:
        review = s.scalars(select(Review).where(Review.task_id == ids["item-0"])).one()
        assert (review.decision, review.value) == ("correct", {"label": "neu"})
        values = s.scalars(
            select(Annotation.value)
            .where(Annotation.task_id == ids["item-0"])
            .order_by(Annotation.id)
        ).all()
        assert values == [{"label": "pos"}, {"label": "neg"}]
    assert console_errors == []


def test_two_reviewers_see_different_tasks_and_skip_releases(
    page: Page, browser: Browser, live_server, console_errors
):
    labels = {"item-0": ("pos", "pos"), "item-1": ("pos", "neg"), "item-2": ("neg", "neg")}
    pid, ids = reviewed_project(live_server, labels)
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {ids['item-0']}")
    expect(page.locator("#rv-agreement")).to_contain_text("yours until")

    actor, email = new_user(live_server, Role.reviewer)
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 1280, "height": 800}
    )
    other = context.new_page()
    login(other, email)
    other.goto(f"/projects/{pid}/review")
    expect(other.locator("#rv-title")).to_contain_text(f"Task {ids['item-1']}")  # not item-0
    screenshot(other, "review-second-reviewer")

    page.keyboard.press("n")  # Skip: item-0 is given up, item-2 is held instead
    expect(page.locator("#rv-title")).to_contain_text(f"Task {ids['item-2']}")
    with live_server.db.read_session() as s:
        held = dict(
            s.execute(
                select(ReviewLease.task_id, ReviewLease.reviewer_id).where(
                    ReviewLease.project_id == pid
                )
            ).all()
        )
    assert held == {ids["item-1"]: actor.user_id, ids["item-2"]: live_server.reviewer.user_id}

    other.keyboard.press("a")
    expect(other.locator("#rv-status")).to_contain_text(f"Task {ids['item-1']} accepted")
    expect(other.locator("#rv-title")).to_contain_text(f"Task {ids['item-0']}")  # free again
    context.close()
    assert statuses(live_server, ids["item-1"]) == ["accepted", "accepted"]
    assert console_errors == []


def test_manager_marks_gold_and_sets_review_mode(page: Page, live_server, console_errors):
    pid, ids = reviewed_project(live_server, {"item-0": ("neg", "neg")})
    login(page, live_server.owner_email)
    page.goto(f"/tasks/{ids['item-0']}")
    page.get_by_role("button", name="Use this answer as gold").first.click()
    expect(page.get_by_role("heading", name="Gold")).to_be_visible()
    with live_server.db.read_session() as s:
        assert s.get(Task, ids["item-0"]).gold == {"label": "neg"}
    screenshot(page, "review-gold-task")
    page.goto(f"/projects/{pid}/settings")
    page.get_by_label("Review", exact=False).first.select_option("disagreement")
    page.get_by_label("Pause below gold accuracy").fill("0.7")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-form .form-result")).to_contain_text("Settings saved")
    from labelhouse.projects.models import Project

    with live_server.db.read_session() as s:
        project = s.get(Project, pid)
        assert (project.review_mode, project.gold_min_accuracy) == ("disagreement", 0.7)
    screenshot(page, "review-settings")
    assert console_errors == []


def test_the_open_page_renews_its_review_lease(page: Page, live_server, console_errors):
    """A reviewer reading a long task keeps it: the page's heartbeat renews the lease (here
    on coming back to the tab), so it is not handed to another reviewer after one term."""
    from datetime import timedelta

    from sqlalchemy import update

    from labelhouse.db.base import utcnow

    pid, ids = reviewed_project(live_server, {"item-0": ("pos", "neg")})
    tid = ids["item-0"]
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    expect(page.locator("#rv-title")).to_contain_text(f"Task {tid}")
    with live_server.db.session() as s:
        soon = utcnow() + timedelta(seconds=20)
        s.execute(update(ReviewLease).where(ReviewLease.task_id == tid).values(expires_at=soon))
    with page.expect_response(lambda r: r.url.endswith(f"/api/tasks/{tid}/review/lease/renew")):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    with live_server.db.read_session() as s:
        lease = s.get(ReviewLease, tid)
        assert lease.reviewer_id == live_server.reviewer.user_id
        assert lease.expires_at > utcnow() + timedelta(minutes=5)
    assert console_errors == []
