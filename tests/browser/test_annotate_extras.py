"""Annotate-page extras of issue 13: the pre-annotation badge follows the value (9c), skip
with a reason (9b), and the progress counter."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from labelhouse.projects.skip_reasons import DEFAULT_SKIP_REASONS
from labelhouse.tasks.models import Assignment, Task
from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
    task_id,
)
from tests.browser.conftest import login, screenshot

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "x"}, {"value": "y"}],
        },
        {"name": "note", "kind": "text", "required": False},
    ]
}


def test_pre_annotation_badge_follows_the_value(page: Page, live_server, console_errors):
    rows = [
        {
            "external_id": "p1",
            "data": {"text": "t"},
            "predictions": [{"model_version": "m1", "value": {"label": "x", "note": "model"}}],
        }
    ]
    pid = make_project(live_server, SCHEMA, rows)
    open_annotate(page, live_server, pid)
    label, note = field(page, "label"), field(page, "note")
    banner = page.locator("#an-banner")
    expect(label.locator(".an-predicted-badge")).to_have_text("pre-annotated")
    expect(note.locator(".an-predicted-badge")).to_have_text("pre-annotated")
    expect(banner).to_contain_text("Pre-annotation (model m1)")
    expect(banner).not_to_contain_text("You changed")

    page.keyboard.press("2")  # the label: y instead of the model's x
    expect(label.locator(".an-predicted-badge")).to_have_text("edited from pre-annotation")
    expect(label).not_to_have_class("is-predicted")
    expect(note.locator(".an-predicted-badge")).to_have_text("pre-annotated")
    expect(banner).to_contain_text("You changed 1 of the 2 pre-filled fields.")
    screenshot(page, "annotate-pre-annotation-edited")

    # (the choice moved on to the note's text box, where Ctrl+Z is the text box's own undo)
    page.locator("#an-undo").click()  # back to the model's value: kept again
    expect(label.locator(".an-predicted-badge")).to_have_text("pre-annotated")
    expect(banner).not_to_contain_text("You changed")

    page.keyboard.press("Control+y")
    expect(label.locator(".an-predicted-badge")).to_have_text("edited from pre-annotation")
    submit_and_wait(page)
    assert stored(live_server, pid) == {"p1": {"label": "y", "note": "model"}}
    assert console_errors == []


def skip_rows(live_server, pid: int) -> dict[str, tuple[str | None, str | None]]:
    with live_server.db.read_session() as s:
        rows = s.execute(
            select(Task.external_id, Assignment.skip_reason, Assignment.skip_note)
            .join(Task, Task.id == Assignment.task_id)
            .where(Assignment.project_id == pid, Assignment.status == "skipped")
        ).all()
    return {ext: (reason, note) for ext, reason, note in rows}


def test_skip_with_a_reason_from_the_keyboard(page: Page, live_server, console_errors):
    pid = make_project(
        live_server, SCHEMA, [{"text": f"t{i}", "external_id": f"s{i}"} for i in range(4)]
    )
    open_annotate(page, live_server, pid)
    dialog = page.locator("#an-skip-confirm")
    expect(page.locator("#an-task-ref")).to_contain_text("s0")
    page.keyboard.press("Control+s")
    expect(dialog).to_be_visible()
    reasons = dialog.locator("input[name=an-skip-reason]")
    assert reasons.evaluate_all("rs => rs.map(r => r.value)") == list(DEFAULT_SKIP_REASONS)
    expect(reasons.first).to_be_focused()
    screenshot(page, "annotate-skip-reasons")

    page.keyboard.press("3")  # Broken media/data
    expect(dialog.get_by_label("Broken media/data")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator("#an-task-ref")).to_contain_text("s1")
    expect(page.locator("#an-status")).to_contain_text("Skipped task")

    # "Other (write it)" asks for the note: Enter without one keeps the box open
    page.keyboard.press("Control+s")
    page.keyboard.press("4")
    expect(dialog.get_by_label("Note")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog.locator(".an-skip-error")).to_have_text(
        "“Other (write it)” needs a few words: write why you skip this task."
    )
    expect(page.locator("#an-task-ref")).to_contain_text("s1")
    page.keyboard.type("1234 sarcasm, I think")  # digits typed in the note stay text
    page.keyboard.press("Enter")
    expect(page.locator("#an-task-ref")).to_contain_text("s2")

    # Tab reaches every part; arrows move between reasons; Escape keeps working
    page.keyboard.press("Control+s")
    expect(dialog.locator(".an-skip-error")).to_be_hidden()  # a fresh box
    page.keyboard.press("ArrowDown")
    expect(dialog.get_by_label("Content I cannot judge")).to_be_checked()
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Note")).to_be_focused()
    page.keyboard.type("not my field")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#an-task-ref")).to_contain_text("s2")
    page.locator("#an-skip").click()  # reopened: nothing chosen any more
    expect(dialog.get_by_label("Note")).to_have_value("")
    page.keyboard.press("Enter")  # no reason at all is fine
    expect(page.locator("#an-task-ref")).to_contain_text("s3")

    assert skip_rows(live_server, pid) == {
        "s0": ("Broken media/data", None),
        "s1": ("Other (write it)", "1234 sarcasm, I think"),
        "s2": (None, None),
    }
    assert console_errors == []


def test_skip_reasons_set_in_settings_and_shown_on_the_task_page(
    page: Page, live_server, console_errors
):
    pid = make_project(live_server, SCHEMA, [{"text": "t", "external_id": "only"}])
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/settings")
    reasons = page.locator("#settings-form").get_by_label("Skip reasons")
    expect(reasons).to_have_value("\n".join(DEFAULT_SKIP_REASONS))
    reasons.fill("Offensive, or upsetting\nNeeds an expert (write it)")
    page.locator("#settings-form").get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-form .form-result")).to_have_text("Settings saved.")

    open_annotate(page, live_server, pid)
    page.keyboard.press("Control+s")
    dialog = page.locator("#an-skip-confirm")
    assert dialog.locator("input[name=an-skip-reason]").evaluate_all(
        "rs => rs.map(r => r.value)"
    ) == ["Offensive, or upsetting", "Needs an expert (write it)"]
    page.keyboard.press("2")
    page.keyboard.type("legal <question>")
    page.keyboard.press("Enter")
    expect(page.locator("#an-done")).to_be_visible()

    login(page, live_server.owner_email)
    page.goto(f"/tasks/{task_id(live_server, pid, 'only')}")
    row = page.locator("#task-skips tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(live_server.annotator_email)
    expect(row).to_contain_text("Needs an expert (write it)")
    expect(row).to_contain_text("legal <question>")
    screenshot(page, "task-skips")
    assert console_errors == []


def test_progress_counter_follows_submits_and_skips(page: Page, live_server, console_errors):
    pid = make_project(
        live_server, SCHEMA, [{"text": f"t{i}", "external_id": f"c{i}"} for i in range(3)]
    )
    open_annotate(page, live_server, pid)
    counter = page.locator("#an-progress")
    expect(counter).to_have_text("Today 0 · In this project 0 · Left for you 3")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)

    page.keyboard.press("1")
    submit_and_wait(page)
    expect(counter).to_have_text("Today 1 · In this project 1 · Left for you 2")
    # the counts came with the submit's answer: no request but the submit itself
    assert len(asked) == 1 and "/annotations?next=1" in asked[0] and "progress=1" in asked[0]

    page.keyboard.press("Control+s")
    page.keyboard.press("Enter")
    expect(page.locator("#an-status")).to_contain_text("Skipped task")
    expect(counter).to_have_text("Today 1 · In this project 1 · Left for you 1")
    page.keyboard.press("2")
    submit_and_wait(page)
    expect(page.locator("#an-done")).to_be_visible()
    expect(counter).to_have_text("Today 2 · In this project 2 · Left for you 0")
    screenshot(page, "annotate-progress-done")
    assert console_errors == []
