"""The account page in real Chromium: personal API tokens and changing the password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, login, screenshot
from tests.browser.page_factories import new_user, unexpected


def test_tokens_and_password_change(page: Page, live_server, console_errors):
    _, email = new_user(live_server)  # its own user: other tests keep the shared password
    login(page, email)
    page.goto("/account")

    tokens = page.locator("#token-form")
    tokens.get_by_label("Name").fill("training pipeline")
    tokens.get_by_role("button", name="Create token").click()
    secret_box = tokens.locator("input.secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    assert secret.startswith("lh")
    me = httpx.get(f"{live_server.base_url}/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["email"] == email
    screenshot(page, "account")

    page.reload()
    row = page.locator("#token-table tbody tr").filter(has_text="training pipeline")
    expect(row).to_contain_text(secret[:10])
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-table")).to_contain_text("No tokens yet.")
    revoked = httpx.get(
        f"{live_server.base_url}/api/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert revoked.status_code == 401

    # a read-only token that expires: it reads, never writes, and shows both in the table
    tokens.get_by_label("Name").fill("dashboards")
    tokens.get_by_label("Expires after").fill("30")
    tokens.get_by_label("Read-only").check()
    tokens.get_by_role("button", name="Create token").click()
    expect(secret_box).to_be_visible()
    reader = {"Authorization": f"Bearer {secret_box.input_value()}"}
    assert httpx.get(f"{live_server.base_url}/api/me", headers=reader).status_code == 200
    refused = httpx.post(
        f"{live_server.base_url}/api/me/tokens", headers=reader, json={"name": "x"}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_token"
    page.reload()
    row = page.locator("#token-table tbody tr").filter(has_text="dashboards")
    expect(row).to_contain_text("read-only")
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    expect(row.locator("td").nth(4)).to_have_text(expires)

    form = page.locator("#password-form")
    form.get_by_label("Current password").fill("not my password")
    form.get_by_label("New password").fill("a-brand-new-password")
    form.get_by_role("button", name="Change password").click()
    expect(form.locator(".form-result")).to_contain_text("current_password: does not match")
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password").fill("a-brand-new-password")
    form.get_by_role("button", name="Change password").click()
    # the person is told which API tokens the change revoked
    expect(form.locator(".form-result")).to_contain_text(
        "Password changed. Other sessions were signed out; your API token was revoked: 'dashboards'"
    )
    page.reload()
    expect(page.locator("#token-table")).to_contain_text("No tokens yet.")
    page.get_by_role("button", name="Log out").click()
    login(page, email, "a-brand-new-password")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    assert unexpected(console_errors, 422) == []  # the wrong current password's answer
