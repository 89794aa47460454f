from playwright.sync_api import Page, expect

from tests.browser.conftest import login, screenshot


def test_login_and_projects_page(page: Page, live_server, console_errors):
    login(page, live_server.owner_email)
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    screenshot(page, "projects")
    csp = page.request.get("/").headers["content-security-policy"]
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert console_errors == []


def test_wrong_password_shows_error(page: Page, live_server):
    page.goto("/login")
    page.get_by_label("E-mail").fill(live_server.owner_email)
    page.get_by_label("Password").fill("nope-nope-nope")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
