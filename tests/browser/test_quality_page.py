"""The quality page in real Chromium: charts, scorecards, preference checks and hot spots
for a project with several annotators (one careful, one sloppy, one left-clicker)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.kinds.registry import parse_schema
from labelhouse.tasks import queue
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import new_project, new_user, unique

SCHEMA: dict[str, Any] = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        },
        {"name": "pref", "kind": "pairwise"},
    ]
}
TRUTH = ["pos", "neg", "neu", "pos", "neg", "pos", "neu", "neg", "pos", "neg", "pos", "neu"]


def _rows() -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"q{i}",
            "text": f"review number {i}",
            "prompt": f"Question {i}?",
            "responses": [
                {"text": "A short answer.", "model": "small-model"},
                {"text": "A longer, more careful answer " * 4, "model": "big-model"},
            ],
        }
        for i in range(len(TRUTH))
    ]


def _work(live, actor, pid: int, answer, seconds: float) -> None:
    while True:
        with live.db.session() as s:
            lease = queue.claim_next(s, actor, pid)
            if lease is None:
                return
            i = int(lease.task.external_id[1:])
            annotations.save(
                s,
                actor,
                lease.task.id,
                value=answer(i, lease.task),
                lead_time_ms=int(seconds * 1000),
            )


def test_quality_page_shows_charts_tables_and_checks(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=_rows(), schema=SCHEMA, name=unique("Quality"), overlap=3)
    kind = parse_schema(SCHEMA).field("pref")
    careful = [new_user(live_server)[0] for _ in range(2)]
    sloppy, sloppy_email = new_user(live_server)

    def good(i: int, task) -> dict:
        return {"sentiment": TRUTH[i], "pref": {"choice": "B", "strength": None}}

    def left_clicker(i: int, task) -> dict:
        left = kind.display_order(task.id, 2)[0]
        return {"sentiment": "pos", "pref": {"choice": "AB"[left], "strength": None}}

    _work(live_server, careful[0], pid, good, 9.0)
    _work(
        live_server,
        careful[1],
        pid,
        lambda i, t: (
            good(i, t)
            if i % 4
            else {"sentiment": "neu", "pref": {"choice": "tie", "strength": None}}
        ),
        14.0,
    )
    _work(live_server, sloppy, pid, left_clicker, 1.2)

    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Quality").click()
    expect(page).to_have_url(f"{live_server.base_url}/projects/{pid}/quality")
    expect(page.get_by_role("img", name="Agreement per field, percent")).to_be_visible()
    scatter = page.get_by_role("img", name="Annotators: accuracy against median seconds per task")
    expect(scatter).to_be_visible()
    expect(scatter.locator("g.point")).to_have_count(3)
    expect(scatter.locator("g.point.flagged")).to_have_count(1)

    table = page.locator("#scorecard-table")
    row = table.locator("tr").filter(has_text=sloppy_email.partition("@")[0])
    expect(row).to_contain_text("too fast")
    expect(table.locator(".badge.ok")).to_have_count(2)
    expect(page.locator("#field-table")).to_contain_text("Fleiss' κ")
    expect(page.locator(".bt-table tbody tr").first).to_contain_text("big-model")
    expect(page.locator("#position-bias")).to_be_visible()
    expect(page.locator("#transitivity")).to_contain_text("cyclic triad")

    hot = page.locator("#hotspot-table tbody tr")
    expect(hot.first).to_be_visible()
    link = hot.first.get_by_role("link")
    href = link.get_attribute("href")
    assert href and href.startswith("/tasks/")

    page.get_by_label("Consensus method").select_option("dawid_skene")
    page.get_by_role("button", name="Recompute").click()
    expect(page).to_have_url(f"{live_server.base_url}/projects/{pid}/quality?method=dawid_skene")
    expect(page.locator("#field-table")).to_contain_text("dawid skene")
    confusion = page.locator("#scorecard-table details.confusion").first
    confusion.locator("summary").click()
    matrix = confusion.get_by_role("table", name="Dawid–Skene confusion", exact=False).first
    expect(matrix.locator("tbody tr")).to_have_count(3)  # pos, neg, neu
    screenshot(page, "quality")

    link = page.locator("#hotspot-table tbody tr").first.get_by_role("link")
    link.click()
    expect(page).to_have_url(f"{live_server.base_url}{href}")
    assert console_errors == []


def test_quality_page_is_for_reviewers(page: Page, live_server):
    pid = new_project(live_server, rows=_rows()[:2], schema=SCHEMA, name=unique("Q"))
    login(page, live_server.annotator_email)
    response = page.goto(f"/projects/{pid}/quality")
    assert response is not None and response.status == 403
    _, manager_email = new_user(live_server, Role.manager)
    page.context.clear_cookies()
    login(page, manager_email)
    page.goto(f"/projects/{pid}/quality")
    expect(page.locator("#hotspot-table")).to_have_count(0)
    expect(page.get_by_text("No task has two answers yet.")).to_be_visible()


RANKED: dict[str, Any] = {
    "fields": [
        {"name": "rank", "kind": "ranking"},
        {
            "name": "flags",
            "kind": "choices",
            "min_selected": 0,
            "options": [{"value": "unsafe"}, {"value": "wrong"}, {"value": "rude"}],
        },
    ]
}


def test_quality_page_ranking_checks_pairs_and_per_annotator_table(
    page: Page, live_server, console_errors
):
    rows = [
        {
            "external_id": f"q{i}",
            "prompt": f"Question {i}?",
            "responses": [
                {"text": "Short.", "model": "m-short"},
                {"text": "A medium answer. " * 3, "model": "m-medium"},
                {"text": "A long and careful answer. " * 8, "model": "m-long"},
            ],
        }
        for i in range(12)
    ]
    pid = new_project(live_server, rows=rows, schema=RANKED, name=unique("Ranked"), overlap=2)
    kind = parse_schema(RANKED).field("rank")
    keeper, keeper_email = new_user(live_server)
    fan, _ = new_user(live_server)

    def as_shown(i: int, task) -> dict:
        order = kind.display_order(task.id, 3)
        ranks = [0, 0, 0]
        for position, response in enumerate(order):
            ranks[response] = position + 1
        return {"rank": ranks, "flags": ["unsafe", "wrong", "rude"]}

    _work(live_server, keeper, pid, as_shown, 3.0)
    _work(live_server, fan, pid, lambda i, t: {"rank": [3, 2, 1], "flags": []}, 6.0)

    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/quality?method=dawid_skene")
    checks = page.locator("section.preference")
    expect(checks.locator(".position-bias")).to_contain_text("listed first is ranked best")
    expect(checks).to_contain_text("chance 33.3%")
    expect(checks.locator(".length-bias")).to_contain_text("longer responses are ranked higher")
    table = checks.locator("table.pref-annotators")
    expect(table.locator("tbody tr")).to_have_count(2)
    keeper_row = table.locator("tr").filter(has_text=keeper_email)
    expect(keeper_row).to_contain_text("100.0%")
    expect(keeper_row.locator("td.biased")).to_have_count(1)
    fields = page.locator("#field-table")
    expect(fields).to_contain_text("dawid skene")
    pairs = fields.locator("details.pairs").first
    pairs.locator("summary").click()
    expect(pairs.locator("table.pair-table tbody tr")).to_have_count(1)
    screenshot(page, "quality-ranking")
    assert console_errors == []
