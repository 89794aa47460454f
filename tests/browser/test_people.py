"""The people page and project access in real Chromium: teams opening a project, one-time
passwords, invitations, and a deactivated annotator's open page stopping."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from labelhouse.accounts.models import Role
from tests.browser.conftest import PASSWORD, screenshot
from tests.browser.page_factories import (
    fresh,
    new_project,
    new_user,
    text_rows,
    unexpected,
    unique,
)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """conftest's login without its wait for network idle (these tests sign in often)."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda d: d.accept())


def test_team_opens_a_project_to_its_members_only(page: Page, live_server, console_errors):
    teammate, teammate_email = new_user(live_server)
    outsider, outsider_email = new_user(live_server)
    pid = new_project(live_server, rows=text_rows(2), open_to_all=False)
    project_link = page.locator(f"a.project-name[href='/projects/{pid}/annotate']")
    team = unique("Team")
    accept_dialogs(page)

    sign_in(page, live_server.owner_email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    form = page.locator("#team-form")
    form.get_by_label("New team").fill(team)
    form.get_by_role("button", name="Create team").click()
    card = page.locator(f"article.team[data-team='{team}']")
    card.get_by_label(f"Add members to {team}").fill(teammate_email)
    card.get_by_role("button", name="Add", exact=True).click()
    expect(card.locator(".chip", has_text=teammate_email)).to_be_visible()
    expect(page.locator(f"tr[data-person='{teammate_email}']")).to_contain_text(team)

    page.goto(f"/projects/{pid}/settings")
    add = page.locator("#add-team-form")
    add.get_by_label("Team").select_option(label=team)
    add.get_by_label("Role here").select_option("annotator")
    add.get_by_role("button", name="Add team").click()
    expect(page.locator(f"#project-team-table tr[data-team='{team}']")).to_contain_text("1")
    row = page.locator(f"#member-table tr[data-member='{teammate_email}']")
    expect(row).to_contain_text(f"team {team}")
    expect(row).to_contain_text("annotator")
    expect(page.locator(f"#member-table tr[data-member='{outsider_email}']")).to_have_count(0)
    with live_server.db.read_session() as s:
        assert fresh(s, teammate).role_in(pid) == Role.annotator
        assert fresh(s, outsider).role_in(pid) is None
    log_out(page)

    sign_in(page, teammate_email)
    expect(project_link).to_be_visible()
    log_out(page)

    sign_in(page, outsider_email)
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(project_link).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
        ["Projects", "Account"]  # no People: that page is for owners and managers
    )
    response = page.goto("/people")
    assert response is not None and response.status == 403
    response = page.goto(f"/projects/{pid}/annotate")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert unexpected(console_errors, 403, 404) == []


def test_reset_password_gives_a_one_time_password(page: Page, live_server, console_errors):
    _, email = new_user(live_server)
    accept_dialogs(page)
    sign_in(page, live_server.owner_email)
    page.goto("/people")
    page.locator(f"tr[data-person='{email}']").get_by_role("button", name="Reset password").click()
    result = page.locator("#people-result")
    expect(result).to_contain_text(f"New one-time password for {email}")
    expect(result).to_contain_text("Hand it over to them yourself")
    one_time = result.locator("input.secret").input_value()
    assert len(one_time) >= 10
    screenshot(page, "people-reset-password")
    log_out(page)

    sign_in(page, email, one_time)
    expect(page).to_have_url(re.compile(r"/account\?first=1$"))
    expect(page.get_by_role("status")).to_contain_text("You are using a one-time password")
    for path in ("/", "/people", f"/projects/{new_project(live_server)}/annotate"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/account\?first=1$"))
    form = page.locator("#password-form")
    form.get_by_label("Current password").fill(one_time)
    form.get_by_label("New password").fill("my-own-password-now")
    form.get_by_role("button", name="Change password").click()
    expect(form.locator(".form-result")).to_contain_text("Password changed.")
    page.goto("/")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    assert console_errors == []


def test_invitations_single_bulk_resend_and_revoke(
    page: Page, live_server, browser: Browser, console_errors
):
    accept_dialogs(page)
    _, member_email = new_user(live_server)
    tag = unique("inv").replace(" ", "-")
    first, second = f"{tag}-a@browser.test", f"{tag}-b@browser.test"
    sign_in(page, live_server.owner_email)
    page.goto("/people")

    form = page.locator("#invite-form")
    form.get_by_label("E-mail").fill(first)
    form.get_by_role("button", name="Create invitation").click()
    expect(form.locator(".form-result")).to_contain_text(f"Invitation for {first} as annotator")
    old_link = form.locator("input.secret").input_value()
    assert old_link.startswith(f"{live_server.base_url}/invite#token=lhi_")

    bulk = page.locator("#bulk-invite-form")
    bulk.get_by_label("E-mail addresses").fill(f"{second}\n{first}, {member_email}")
    bulk.get_by_label("Role").select_option("reviewer")
    bulk.get_by_role("button", name="Invite all").click()
    shown = bulk.locator(".form-result")
    expect(shown).to_contain_text("1 invitation created")
    expect(shown.get_by_label(f"Invitation link for {second}")).to_have_value(
        re.compile(r"/invite#token=lhi_")
    )
    expect(shown).to_contain_text(f"Already members, not invited: {member_email}.")
    expect(shown).to_contain_text(first)  # already invited
    screenshot(page, "people-invite")

    page.reload()
    pending = page.locator("#invitation-table")
    expect(pending.locator(f"tr[data-invitation='{second}']")).to_contain_text("reviewer")
    pending.locator(f"tr[data-invitation='{first}']").get_by_role("button", name="Re-send").click()
    result = page.locator("#invitations-result")
    expect(result).to_contain_text("the one sent before no longer works")
    new_link = result.locator("input.secret").input_value()
    assert new_link != old_link

    pending.locator(f"tr[data-invitation='{second}']").get_by_role("button", name="Revoke").click()
    expect(pending.locator(f"tr[data-invitation='{second}']")).to_have_count(0)

    # The old link is dead; the new one makes an account.
    dead = httpx.post(
        f"{live_server.base_url}/api/invitations/accept",
        json={"token": old_link.split("#token=")[1], "password": PASSWORD},
    )
    assert dead.status_code == 404, dead.text
    context = browser.new_context(base_url=live_server.base_url)
    other = context.new_page()
    other.goto(new_link)
    other.get_by_label("Choose a password").fill(PASSWORD)
    other.get_by_role("button", name="Create my account").click()
    expect(other).to_have_url(f"{live_server.base_url}/login?joined=1")
    sign_in(other, first)
    expect(other.get_by_text(f"{first} · annotator")).to_be_visible()
    context.close()
    assert unexpected(console_errors) == []


def test_deactivated_annotator_is_signed_out_of_an_open_page(
    page: Page, live_server, browser: Browser, console_errors
):
    _, email = new_user(live_server)
    pid = new_project(live_server, rows=text_rows(3))
    sign_in(page, email)
    page.goto(f"/projects/{pid}/annotate")
    expect(page.locator("#an-task-ref")).to_contain_text("Task #")

    context = browser.new_context(base_url=live_server.base_url)
    owner = context.new_page()
    accept_dialogs(owner)
    sign_in(owner, live_server.owner_email)
    owner.goto("/people")
    owner.locator(f"tr[data-person='{email}']").get_by_role("button", name="Deactivate").click()
    expect(owner.locator(f"tr[data-person='{email}']")).to_contain_text("deactivated")
    expect(
        owner.locator(f"tr[data-person='{email}']").get_by_role("button", name="Reactivate")
    ).to_be_visible()
    screenshot(owner, "people")
    context.close()

    # The API may answer from its identity cache for a few seconds; polling covers that.
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("your session ended", timeout=8000)
    page.reload()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))
    assert unexpected(console_errors, 401) == []


def test_a_signed_in_person_joins_another_organization_as_themselves(page: Page, live_server):
    """Issue 11, item 3: an existing account joins only with its owner's consent — here by
    accepting while signed in, with one click and no password."""
    from labelhouse.accounts import invitations
    from labelhouse.accounts import service as accounts

    _, email = new_user(live_server)
    with live_server.db.session() as s:
        other_owner, _ = accounts.bootstrap_owner(
            s, email=f"boss-{email}", organization_name="Other Lab", password=PASSWORD
        )
        other = accounts.actor_for(s, user_id=other_owner.id)
        row, secret = invitations.invite(s, other, email=email, role=Role.reviewer)
        other_org = row.organization_id
    sign_in(page, email)
    page.goto(f"/invite#token={secret}")
    page.get_by_role("button", name=f"Join as {email}").click()
    expect(page).to_have_url(re.compile(r"/$"))
    r = httpx.post(
        f"{live_server.base_url}/api/auth/login",
        json={"email": email, "password": PASSWORD, "organization_id": other_org},
    )
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
