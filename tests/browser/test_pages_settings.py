"""Project settings in real Chromium: the schema editor (inline errors as you type, live
preview, save as a new version), general settings, and the project's members (people by
e-mail; teams are in test_people.py)."""

from __future__ import annotations

from re import compile as re_compile

from playwright.sync_api import Page, expect
from sqlalchemy import select

from labelhouse.accounts.models import ProjectMember
from labelhouse.projects.models import Project, SchemaVersion
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import (
    fresh,
    new_project,
    new_user,
    text_rows,
    unexpected,
    unique,
)

UNKNOWN_KIND = '{"fields": [{"name": "label", "kind": "thumbs", "reads": ["text"]}]}'
DUPLICATE_NAMES = """\
fields:
  - {name: label, kind: choice, reads: [text], options: [{value: a}, {value: b}]}
  - {name: label, kind: text}
"""
GOOD = """\
fields:
  - name: sentiment
    kind: choice
    reads: [text]
    options: [{value: pos, hotkey: "1"}, {value: neg, hotkey: "2"}]
  - {name: entities, kind: spans, source: text, labels: [{value: PER}, {value: LOC}]}
  - {name: quality, kind: rating, min: 1, max: 5, required: false}
"""


def test_schema_editor_errors_preview_and_save(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(2))
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/settings")
    editor = page.locator("#schema-text")
    errors = page.get_by_role("list", name="Schema problems")
    save = page.get_by_role("button", name="Save as new version")
    expect(page.locator("#schema-status")).to_contain_text("Valid: 2 fields")

    editor.fill(UNKNOWN_KIND)
    expect(errors).to_contain_text("fields[0]: unknown kind; use one of: choice, choices")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(save).to_be_disabled()

    editor.fill(DUPLICATE_NAMES)
    expect(errors).to_contain_text("field name 'label' is used twice")
    expect(page.locator("#schema-status")).to_have_text("The schema is invalid.")
    screenshot(page, "settings-schema-error")

    editor.fill(GOOD)
    expect(page.locator("#schema-status")).to_contain_text(
        "Valid: 3 fields: sentiment (choice), entities (spans), quality (rating)"
    )
    expect(errors.locator("li")).to_have_count(0)
    preview = page.locator("#schema-preview")
    expect(preview.locator(".preview-field h4")).to_have_count(3)
    expect(preview.locator(".preview-field").first).to_contain_text("pos")
    expect(page.locator("#preview-source")).to_contain_text("task")  # the project's first task
    expect(save).to_be_enabled()
    save.click()
    expect(page.locator("#schema-save-result")).to_have_text("Saved as version 2.")
    expect(page.locator("#schema-current")).to_have_text("v2")
    rows = page.locator("#schema-versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("v2")
    expect(rows.first).to_contain_text("current")
    screenshot(page, "settings-schema")

    with live_server.db.read_session() as s:
        project = s.get(Project, pid)
        assert project.schema_version == 2
        doc = s.scalar(
            select(SchemaVersion.document).where(
                SchemaVersion.project_id == pid, SchemaVersion.version == 2
            )
        )
        assert [f["name"] for f in doc["fields"]] == ["sentiment", "entities", "quality"]

    # Saving the same schema again is not a new version; loading v1 brings it back.
    save.click()
    expect(page.locator("#schema-save-result")).to_contain_text("Nothing changed")
    page.locator("[data-load-version='1']").click()
    expect(editor).to_have_value(re_compile(r'"name": "label",\n\s+"kind": "choice"'))
    expect(editor).to_have_value(re_compile(r'\{"value": "pos", "hotkey": "1"\},\n'))
    expect(page.locator("#schema-status")).to_contain_text("label (choice), note (text)")
    assert unexpected(console_errors, 422) == []  # the invalid schemas' answers


def test_preview_uses_synthetic_data_when_no_task_fits(page: Page, live_server, console_errors):
    pid = new_project(live_server)  # no tasks at all
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/settings")
    page.locator("#schema-text").fill(
        "fields:\n  - {name: better, kind: pairwise}\n  - {name: order, kind: ranking}\n"
    )
    expect(page.locator("#preview-source")).to_contain_text("made-up sample data")
    expect(page.locator("#schema-preview .preview-field")).to_have_count(2)
    page.locator("#schema-preview .sample-data summary").click()
    expect(page.locator("#schema-preview .sample-data pre")).to_contain_text("responses")
    screenshot(page, "settings-preview-synthetic")
    assert console_errors == []


def test_general_settings_change_overlap_and_preview_instructions(
    page: Page, live_server, console_errors
):
    pid = new_project(live_server, overlap=1)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/settings")
    form = page.locator("#settings-form")
    form.get_by_label("Annotators per task").fill("3")
    new_name = unique("Renamed")
    form.get_by_label("Name", exact=True).fill(new_name)
    form.get_by_label("Instructions (Markdown)").fill("Mark **people** only.\n\n- one\n- two")
    expect(page.locator("#instructions-preview strong")).to_have_text("people")
    expect(page.locator("#instructions-preview li")).to_have_count(2)
    form.get_by_label("Queue order").select_option("margin")
    form.get_by_role("button", name="Save settings").click()
    expect(form.locator(".form-result")).to_have_text("Settings saved.")
    with live_server.db.read_session() as s:
        project = s.get(Project, pid)
        assert (project.overlap, project.name, project.queue_order) == (3, new_name, "margin")
        assert project.instructions.startswith("Mark **people**")

    form.get_by_label("Lease time (seconds)").fill("5")  # below the minimum of 30
    form.get_by_label("Lease time (seconds)").evaluate("el => el.removeAttribute('min')")
    form.get_by_role("button", name="Save settings").click()
    expect(form.locator(".form-result")).to_contain_text("lease_seconds")
    screenshot(page, "settings")
    assert unexpected(console_errors, 422) == []


def test_project_members_add_change_role_and_remove(page: Page, live_server, console_errors):
    member, member_email = new_user(live_server)
    other, other_email = new_user(live_server)
    pid = new_project(live_server, open_to_all=False)  # made after them: they are not in it
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/settings")
    table = page.locator("#member-table")
    expect(table.locator(f"tr[data-member='{live_server.owner_email}']")).to_contain_text(
        "organization owner"
    )
    expect(table.locator(f"tr[data-member='{member_email}']")).to_have_count(0)

    # Only the organization's members can be added; the whole list is refused, lines named.
    form = page.locator("#add-people-form")
    form.get_by_label("E-mail addresses").fill(f"{member_email}\nnobody@elsewhere.test")
    form.get_by_role("button", name="Add to project").click()
    expect(form.locator(".form-result")).to_contain_text(
        "emails[1]: 'nobody@elsewhere.test' is not a member of this organization; invite them"
    )
    form.get_by_label("E-mail addresses").fill(f"{member_email}, {other_email}")
    form.get_by_label("Role here").select_option("reviewer")
    form.get_by_role("button", name="Add to project").click()
    row = table.locator(f"tr[data-member='{member_email}']")
    expect(row).to_contain_text("added directly")
    expect(page.get_by_label(f"Project role of {other_email}")).to_have_value("reviewer")

    page.get_by_label(f"Project role of {member_email}").select_option("annotator")
    expect(row.locator(".form-result")).to_have_text("Saved.")
    with live_server.db.read_session() as s:
        roles = dict(
            s.execute(
                select(ProjectMember.user_id, ProjectMember.role).where(
                    ProjectMember.project_id == pid
                )
            ).all()
        )
    assert roles == {member.user_id: "annotator", other.user_id: "reviewer"}
    screenshot(page, "settings-members")

    # Removing a member asks first, then the row is gone and so is their access.
    page.once("dialog", lambda d: d.accept())
    table.locator(f"tr[data-member='{other_email}']").get_by_role("button", name="Remove").click()
    expect(table.locator(f"tr[data-member='{other_email}']")).to_have_count(0)
    with live_server.db.read_session() as s:
        assert fresh(s, other).role_in(pid) is None
    assert unexpected(console_errors, 422) == []  # the refused address's answer
