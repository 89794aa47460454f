"""The audit log page in real Chromium: owners reach it from the top bar, see the chain's
status, search the events and export what they selected as JSON lines; nobody else sees the
link, and opening the page anyway is refused (and itself recorded)."""

from __future__ import annotations

import re

import orjson
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import new_user


def test_owner_searches_the_log_and_exports_it(page: Page, live_server, console_errors):
    login(page, live_server.owner_email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("#audit-verification")).to_contain_text("chain intact")
    table = page.locator("#audit-table")
    expect(table.locator("tr[data-action='auth.login']").first).to_contain_text(
        live_server.owner_email
    )
    screenshot(page, "audit")

    form = page.get_by_role("form", name="Filter events")
    form.get_by_label("Action starts with").fill("auth.log")
    form.get_by_label("Who (e-mail)").fill("owner@browser")
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=auth\.log"))
    actions = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions and set(actions) <= {"auth.login", "auth.logout"}

    href = page.locator("#audit-export").get_attribute("href")
    assert href is not None and href.startswith("/api/audit/export?action=auth.log")
    r = page.request.get(href)
    assert r.status == 200
    lines = [orjson.loads(x) for x in r.body().splitlines()]
    assert lines and {x["actor_email"] for x in lines} == {live_server.owner_email}
    assert [x["id"] for x in lines] == sorted(x["id"] for x in lines)

    form.get_by_label("From").fill("not a date")
    form.get_by_role("button", name="Filter").click()
    expect(page.locator("main")).to_contain_text("since: a date (YYYY-MM-DD)")
    assert console_errors == []


def test_others_see_no_link_and_are_refused(page: Page, live_server):
    _, email = new_user(live_server)
    login(page, email)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Projects")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)
    response = page.goto("/audit")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("owner")
