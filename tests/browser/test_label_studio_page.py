"""Migrating a Label Studio project from the projects page: the form sends the export, the
config and the images as multipart (with the CSRF header) and says what came in."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import login
from tests.interop.label_studio.fixtures import FIXTURES


def test_a_label_studio_project_is_migrated_from_the_projects_page(
    page: Page, live_server, console_errors
):
    login(page, live_server.owner_email)
    page.goto("/")
    form = page.locator("#label-studio-import")
    form.get_by_label("Project name").fill("Street scenes from Label Studio")
    form.get_by_label("JSON export").set_input_files(str(FIXTURES / "boxes.export.json"))
    form.get_by_label("Labeling config (XML)").set_input_files(str(FIXTURES / "boxes.config.xml"))
    form.get_by_label("Images").set_input_files(
        sorted(str(p) for p in (FIXTURES / "media").iterdir())
    )
    form.get_by_role("button", name="Migrate").click()
    result = form.locator(".form-result")
    expect(result).to_contain_text("Created project 'Street scenes from Label Studio'")
    expect(result).to_contain_text("2 tasks (0 rejected), 1 predictions, 3 answers read")
    page.reload()
    expect(page.get_by_role("link", name="Street scenes from Label Studio")).to_be_visible()
    assert console_errors == []
