"""The "My workforce" page in real Chromium: a vendor's own manager sees their people and
the project routed to them, invites people (the links shown once), deactivates and
reactivates an annotator and opens a project's work — and nothing of another vendor, the
lab's staff or other projects. Anybody else gets the 'Not allowed' page and no nav link."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.tasks import queue
from tests.browser.conftest import PASSWORD, LiveServer, screenshot
from tests.browser.page_factories import new_project, text_rows, unexpected, unique


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def person(live: LiveServer, prefix: str, name: str = "") -> tuple[int, str]:
    """An organization annotator in no project and no team: (user id, e-mail)."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@browser.test"
    with live.db.session() as s:
        user = accounts.create_user(
            s,
            email=email,
            password=PASSWORD,
            organization_id=live.owner.organization_id,
            role=Role.annotator,
            name=name,
        )
        return user.id, email


class OwnerApi:
    """The lab owner's JSON API session (cookie and CSRF header), for setting things up."""

    def __init__(self, live: LiveServer) -> None:
        self.client = httpx.Client(base_url=live.base_url)
        r = self.client.post(
            "/api/auth/login", json={"email": live.owner_email, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        self.client.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def __call__(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.request(method, url, json=body)
        assert r.status_code < 300, (method, url, r.status_code, r.text)
        return r.json()

    def vendor(self, name: str, emails: list[str], project_id: int, kind: str = "vendor") -> int:
        team = self("POST", "/api/teams", {"name": name})["id"]
        self("POST", f"/api/teams/{team}/members", {"emails": emails})
        self("PUT", f"/api/teams/{team}/workforce", {"kind": kind})
        self("POST", f"/api/projects/{project_id}/members", {"team_id": team, "role": "annotator"})
        return team


def submit(live: LiveServer, user_id: int, project_id: int, n: int) -> None:
    """The person leases and submits ``n`` tasks of the project."""
    for _ in range(n):
        with live.db.session() as s:
            actor = accounts.actor_for(s, user_id=user_id)
            lease = queue.claim_next(s, actor, project_id)
            assert lease is not None
            annotations.save(s, actor, lease.task.id, value={"label": "pos"}, lead_time_ms=1500)


def test_a_vendor_manager_runs_their_workforce(page: Page, live_server, console_errors):
    live = live_server
    project_name = unique("Vendor work")
    other_project_name = unique("Lab secret project")
    pid = new_project(live, rows=text_rows(6), name=project_name, open_to_all=False)
    other_pid = new_project(live, rows=text_rows(2), name=other_project_name, open_to_all=False)
    manager_id, manager_email = person(live, "vendor-manager", name="Mona Manager")
    worker_id, worker_email = person(live, "vendor-worker", name="Walt Worker")
    _, idle_email = person(live, "vendor-idle")
    _, other_vendor_email = person(live, "other-vendor")
    _, staff_email = person(live, "lab-staff")
    vendor_name = unique("Acme Labelling")
    other_vendor_name = unique("Rival Vendor")

    owner = OwnerApi(live)
    vendor = owner.vendor(vendor_name, [manager_email, worker_email, idle_email], pid)
    other_vendor = owner.vendor(other_vendor_name, [other_vendor_email], pid)
    owner(
        "POST", f"/api/projects/{other_pid}/members", {"team_id": other_vendor, "role": "annotator"}
    )
    owner.vendor(unique("Lab staff"), [staff_email], pid, kind="staff")
    owner("PUT", f"/api/teams/{vendor}/managers/{manager_id}", {"manager": True})
    owner(
        "POST",
        f"/api/projects/{pid}/routing",
        {"mode": "share", "workforces": [{"id": vendor, "share": 1}]},
    )
    owner.client.close()
    submit(live, worker_id, pid, 2)

    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    sign_in(page, manager_email)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="My workforce").click()
    expect(page).to_have_url(re.compile(r"/workforce$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(vendor_name)

    # People: the manager (a badge, no buttons), two annotators with their activity.
    rows = page.locator("#people-table tr[data-person]")
    expect(rows).to_have_count(3)
    me = page.locator(f"#people-table tr[data-person='{manager_email}']")
    expect(me).to_contain_text("manager")
    expect(me).to_contain_text("Mona Manager")
    expect(me.get_by_role("button")).to_have_count(0)
    worker = page.locator(f"#people-table tr[data-person='{worker_email}']")
    expect(worker).to_contain_text("Walt Worker")
    expect(worker.locator(".badge.state")).to_have_text("active")
    expect(worker.locator("td.num")).to_have_text("2")
    idle = page.locator(f"#people-table tr[data-person='{idle_email}']")
    expect(idle.locator("td.num")).to_have_text("0")
    expect(page.locator("#people-count")).to_have_text("3 active · 3 in all")

    # Projects: the one routed to them, linking to the page they can open.
    project = page.locator(f"#project-table tbody[data-project='{project_name}']")
    expect(page.locator("#project-table tbody[data-project]")).to_have_count(1)
    link = project.get_by_role("link", name=project_name)
    expect(link).to_have_attribute("href", f"/projects/{pid}/annotate")
    expect(project.locator("[data-col=routed_tasks]")).to_have_text("6")
    expect(project.locator("[data-col=open_slots]")).to_have_text("4")
    expect(project.locator("[data-col=submitted]")).to_have_text("2")

    # Invite two people: a link each, shown once; they join the pending invitations.
    invited = [f"invitee-{uuid.uuid4().hex[:8]}@browser.test" for _ in range(2)]
    form = page.locator("#invite-form")
    form.get_by_label("E-mail addresses").fill("\n".join(invited))
    form.get_by_role("button", name="Create invitations").click()
    result = page.locator("#invite-result")
    expect(result).to_contain_text("2 invitations created")
    for email in invited:
        field = result.get_by_label(f"Invitation link for {email}")
        expect(field).to_have_value(re.compile(rf"^{re.escape(live.base_url)}/invite#token=.+"))
        expect(page.locator(f"#invitation-table tr[data-invitation='{email}']")).to_be_visible()
    expect(form.get_by_label("E-mail addresses")).to_have_value("")
    screenshot(page, "workforce-invited")

    # An invalid address: nobody is invited, the answer says which line.
    form.get_by_label("E-mail addresses").fill("fine-one@browser.test\nnot an address")
    form.get_by_role("button", name="Create invitations").click()
    expect(result).to_contain_text("Nobody was invited: line 2")
    expect(page.locator("#invitation-table tr[data-invitation]")).to_have_count(2)
    page.reload()  # the links were shown once; the invitations stay pending
    expect(page.locator("#invitation-table tr[data-invitation]")).to_have_count(2)
    expect(page.locator("#invite-result input.secret")).to_have_count(0)

    # Deactivate, then reactivate, an annotator, by keyboard; the row follows each answer.
    worker = page.locator(f"#people-table tr[data-person='{worker_email}']")
    button = worker.get_by_role("button", name=f"Deactivate {worker_email}")
    button.focus()
    page.keyboard.press("Enter")
    expect(worker.locator(".badge.state")).to_have_text("deactivated")
    expect(page.locator("#people-result")).to_contain_text(f"{worker_email}: Deactivated.")
    expect(page.locator("#people-count")).to_have_text("2 active · 3 in all")
    again = worker.get_by_role("button", name=f"Reactivate {worker_email}")
    expect(again).to_be_focused()
    assert worker_email in asked[0] and "Deactivate" in asked[0]
    assert not _can_sign_in(live, worker_email)  # their access really ended
    page.keyboard.press("Enter")
    expect(worker.locator(".badge.state")).to_have_text("active")
    expect(page.locator("#people-result")).to_contain_text(f"{worker_email}: Reactivated.")
    expect(worker.get_by_role("button", name=f"Deactivate {worker_email}")).to_be_focused()
    assert _can_sign_in(live, worker_email)

    # The project's work, per person, loaded when the expander opens (keyboard again).
    summary = project.locator("details[data-work] summary")
    summary.focus()
    page.keyboard.press("Enter")
    work = project.locator("table.work-table")
    expect(work.locator("tbody tr")).to_have_count(3)
    worker_work = work.locator(f"tr[data-person='{worker_email}']")
    expect(worker_work.locator("[data-col=submitted]")).to_have_text("2")
    expect(worker_work.locator("[data-col=last_submitted]")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
    )
    expect(worker_work.locator("[data-col=gold_answers]")).to_have_text("0")
    expect(worker_work.locator("[data-col=gold_accuracy]")).to_have_text("—")
    expect(work.locator(f"tr[data-person='{idle_email}'] [data-col=submitted]")).to_have_text("0")
    screenshot(page, "workforce")

    # Nothing of the other vendor, the lab's staff, the owner or other projects.
    text = page.locator("body").inner_text()
    html = page.content()
    for secret in (
        other_vendor_name,
        other_vendor_email,
        staff_email,
        live.owner_email,
        live.annotator_email,
        live.reviewer_email,
        other_project_name,
        "Lab staff",
    ):
        assert secret not in text, secret
        assert secret not in html, secret
    assert unexpected(console_errors, 422) == []
    log_out(page)

    # Their annotator is not a manager: no link, and the page is not allowed.
    sign_in(page, worker_email)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("link", name="My workforce")).to_have_count(0)
    response = page.goto("/workforce")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def _can_sign_in(live: LiveServer, email: str) -> bool:
    r = httpx.post(f"{live.base_url}/api/auth/login", json={"email": email, "password": PASSWORD})
    return r.status_code == 200


def test_a_plain_annotator_is_not_allowed(page: Page, live_server, console_errors):
    sign_in(page, live_server.annotator_email)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("link", name="My workforce")).to_have_count(0)
    response = page.goto("/workforce")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("link", name="My workforce")).to_have_count(0)
    assert unexpected(console_errors, 403) == []
