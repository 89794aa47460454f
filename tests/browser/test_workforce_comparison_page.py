"""The workforce comparison page in real Chromium: reached from the quality page, its
charts drawn by the ES module under the strict CSP, team names shown as text."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from labelhouse.accounts.models import User
from labelhouse.people import project_members, teams, workforces
from labelhouse.tasks import queue, routing
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import annotate, new_project, new_user, unique

EVIL = "<img src=x onerror=alert(1)> Vendor"


def _vendor(live, pid: int, name: str, price: float) -> tuple[int, object]:
    actor, _ = new_user(live)
    with live.db.session() as s:
        team = teams.create_team(s, live.owner, name=name)
        teams.add_members(s, live.owner, team.id, emails=[_email(s, actor)])
        workforces.update_workforce(
            s, live.owner, team.id, kind="vendor", price_per_task=price, currency="USD"
        )
        project_members.add_team(s, live.owner, pid, team_id=team.id, role="annotator")
        return team.id, actor


def _email(s, actor) -> str:
    return s.get(User, actor.user_id).email


def test_comparison_page_draws_charts_and_escapes_names(page: Page, live_server, console_errors):
    rows = [{"external_id": f"t{i}", "text": f"item {i}"} for i in range(4)] + [
        {"external_id": f"g{i}", "data": {"text": f"gold {i}"}, "gold": {"label": "pos"}}
        for i in range(3)
    ]
    pid = new_project(live_server, rows=rows, name=unique("Vendors"), overlap=2, open_to_all=False)
    with live_server.db.session() as s:
        queue.update_project(s, live_server.owner, pid, {"gold_first_n": 3})
    evil_name = unique(EVIL)
    a, a_person = _vendor(live_server, pid, evil_name, 0.2)
    b, b_person = _vendor(live_server, pid, unique("Vendor B"), 0.1)
    with live_server.db.session() as s:
        routing.route_tasks(
            s,
            live_server.owner,
            pid,
            mode="each",
            slots=[routing.Slot(a, quota=1), routing.Slot(b, quota=1)],
        )
    gold = {f"g{i}": {"label": "pos"} for i in range(3)}
    annotate(live_server, a_person, pid, gold | {f"t{i}": {"label": "pos"} for i in range(4)})
    annotate(
        live_server,
        b_person,
        pid,
        {"g0": {"label": "pos"}, "g1": {"label": "neg"}, "g2": {"label": "neu"}}
        | {f"t{i}": {"label": "pos" if i % 2 else "neg"} for i in range(4)},
    )

    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/quality")
    page.get_by_role("link", name="Compare workforces").click()
    expect(page).to_have_url(f"{live_server.base_url}/projects/{pid}/workforces")
    gold_chart = page.get_by_role("img", name="Gold accuracy per workforce with 95% intervals")
    expect(gold_chart).to_be_visible()
    expect(gold_chart.locator("g.bar")).to_have_count(2)
    expect(gold_chart.locator("g.bar").first).to_contain_text("100.0%")
    cost_chart = page.get_by_role("img", name="Cost per correct label in USD, with intervals")
    expect(cost_chart.locator("g.bar")).to_have_count(2)
    table = page.locator("#workforce-table")
    expect(table).to_contain_text(evil_name)  # shown as text, not parsed
    expect(page.locator("#workforce-table img")).to_have_count(0)
    expect(page.locator("svg img")).to_have_count(0)
    expect(page.locator("#pair-table")).to_contain_text("of 7 tasks")
    expect(page.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", f"/api/projects/{pid}/workforces/comparison.csv"
    )
    screenshot(page, "workforces")
    assert console_errors == []
