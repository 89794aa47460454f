"""Workforces and routing in real Chromium: marking a team as a vendor on the People page,
routing a project's work by share on its Settings page (the summary follows each answer),
an error the API explains, moving and unrouting work, and ending a vendor's contract."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from labelhouse.accounts.models import Role
from labelhouse.people import project_members, teams, workforces
from tests.browser.conftest import LiveServer, login, screenshot
from tests.browser.page_factories import new_project, new_user, text_rows, unexpected, unique


def new_team(live: LiveServer, *, emails: tuple[str, ...] = (), kind: str | None = None) -> str:
    name = unique("Team")
    with live.db.session() as s:
        team = teams.create_team(s, live.owner, name=name)
        if emails:
            teams.add_members(s, live.owner, team.id, emails=list(emails))
        if kind:
            workforces.update_workforce(s, live.owner, team.id, kind=kind)
    return name


def add_to_project(live: LiveServer, pid: int, *names: str) -> None:
    with live.db.session() as s:
        ids = {t.name: t.id for t in teams.list_teams(s, live.owner)}
        for name in names:
            project_members.add_team(s, live.owner, pid, team_id=ids[name], role=Role.annotator)


def test_mark_a_vendor_and_route_work_to_it(page: Page, live_server, console_errors):
    _, vendor_email = new_user(live_server)
    pid = new_project(live_server, rows=text_rows(8), overlap=2, open_to_all=False)
    vendor = new_team(live_server, emails=(vendor_email,))
    staff = new_team(live_server, kind="staff")
    page.on("dialog", lambda d: d.accept())
    login(page, live_server.owner_email)

    # People page: the plain team becomes a vendor with a contact and a price.
    page.goto("/people")
    card = page.locator(f"article.team[data-team='{vendor}']")
    expect(card.locator("h3 .badge")).to_have_text("team")
    card.get_by_text("Edit workforce").click()
    form = card.get_by_role("form", name=f"Workforce of {vendor}")
    form.get_by_label("Kind").select_option("vendor")
    form.get_by_label("Contact").fill("pm@vendor.example")
    form.get_by_label("Price per task").fill("0.4")
    form.get_by_label("Currency").fill("eur")
    screenshot(page, "people-workforce-edit")
    form.get_by_role("button", name="Save workforce").click()
    expect(card.locator("h3 .badge")).to_have_text("vendor")  # after the reload
    expect(card.locator(".workforce-contact")).to_contain_text("pm@vendor.example")
    expect(card.locator(".workforce-price")).to_contain_text("0.4 EUR per task")
    expect(card.get_by_role("button", name="End contract")).to_be_visible()
    expect(page.locator(f"article.team[data-team='{staff}'] h3 .badge")).to_have_text("staff")
    card.scroll_into_view_if_needed()
    screenshot(page, "people-workforce")

    # Settings → Routing: 3 to 1 by share over 8 tasks, 2 annotations each.
    add_to_project(live_server, pid, vendor, staff)
    page.goto(f"/projects/{pid}/settings")
    routing = page.locator("#routing")
    table = page.locator("#routing-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.locator("#routing-unrouted")).to_contain_text("8 tasks are routed to nobody")
    expect(page.locator("#routing-rule")).to_contain_text("New imports are not routed")
    route = page.locator("#route-form")
    route.get_by_label(f"Share of {vendor} (%)").fill("3")
    route.get_by_label(f"Share of {staff} (%)").fill("1")
    expect(page.locator("#route-total")).to_contain_text(
        f"{vendor} 75 %, "
    ) if vendor < staff else None
    route.get_by_label("Also route future imports this way").check()
    route.get_by_role("button", name="Route tasks").click()
    result = page.locator("#route-result")
    expect(result).to_contain_text("Routed 8 tasks:")
    expect(result).to_contain_text(f"{vendor} 6")
    expect(result).to_contain_text(f"{staff} 2")
    row = table.locator(f"tr[data-workforce='{vendor}']")
    expect(row.locator("[data-col=tasks]")).to_have_text("6")
    expect(row.locator("[data-col=slots]")).to_have_text("12")
    expect(row.locator("[data-col=open_slots]")).to_have_text("12")
    expect(row.locator("[data-col=share]")).to_have_text("75 %")
    assert row.locator(".share-fill").evaluate("e => e.style.width") == "75%"
    expect(table.locator(f"tr[data-workforce='{staff}'] [data-col=tasks]")).to_have_text("2")
    expect(page.locator("#routing-unrouted")).to_contain_text("0 tasks are routed to nobody")
    expect(page.locator("#routing-rule")).to_contain_text("New imports are routed by share: ")
    screenshot(page, "settings-routing")

    # To each: the quotas must add up to the overlap (2); the API's answer is shown.
    route.get_by_label("To each").check()
    expect(route.get_by_label(f"Share of {vendor} (%)")).to_be_hidden()
    route.get_by_label(f"Quota of {vendor}").fill("1")
    expect(page.locator("#route-total")).to_have_text(
        "Quotas add up to 1 of 2 annotations per task."
    )
    route.get_by_role("button", name="Route tasks").click()
    expect(result).to_contain_text("The quotas add up to 1, but the project asks for 2")
    expect(result.locator("li")).to_have_text("workforces: quotas must add up to 2")
    expect(row.locator("[data-col=tasks]")).to_have_text("6")  # nothing changed

    # Move the vendor's unstarted work to staff, then unroute everything.
    move = page.locator("#move-form")
    move.get_by_label("From").select_option(label=vendor)
    move.get_by_label("To").select_option(label=staff)
    move.get_by_role("button", name="Move unstarted work").click()
    expect(move.locator(".form-result")).to_have_text(
        f"Moved 12 unstarted annotations from {vendor} to {staff}."
    )
    expect(row.locator("[data-col=open_slots]")).to_have_text("0")
    expect(table.locator(f"tr[data-workforce='{staff}'] [data-col=slots]")).to_have_text("16")
    unroute = routing.locator("#unroute-form")
    unroute.get_by_label("Also stop routing new imports").check()
    unroute.get_by_role("button", name="Unroute").click()
    expect(unroute.locator(".form-result")).to_have_text(
        "8 tasks unrouted. New imports are no longer routed."
    )
    expect(page.locator("#routing-unrouted")).to_contain_text("8 tasks are routed to nobody")
    expect(page.locator("#routing-rule")).to_contain_text("New imports are not routed")
    assert unexpected(console_errors, 422) == []


def test_a_project_without_workforces_says_how_to_get_one(page: Page, live_server):
    pid = new_project(live_server, rows=text_rows(1), open_to_all=False)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/settings")
    expect(page.locator("#routing-none")).to_contain_text("mark a team as staff or vendor")
    expect(page.locator("#routing-none").get_by_role("link", name="People")).to_be_visible()
    expect(page.locator("#route-form")).to_have_count(0)


def test_end_a_vendors_contract(page: Page, live_server, console_errors):
    _, email = new_user(live_server)
    vendor = new_team(live_server, emails=(email,), kind="vendor")
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    login(page, live_server.owner_email)
    page.goto("/people")
    card = page.locator(f"article.team[data-team='{vendor}']")
    card.get_by_role("button", name="End contract").click()
    expect(card.locator(".team-result")).to_have_text("Contract ended: 1 person deactivated.")
    assert vendor in asked[0] and "deactivated" in asked[0]
    expect(card.locator("h3")).to_contain_text("contract ended")
    expect(card.get_by_role("button", name="End contract")).to_have_count(0)
    expect(page.locator(f"tr[data-person='{email}']")).to_contain_text("deactivated")
    assert console_errors == []
