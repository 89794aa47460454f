"""Annotate-page extras of issue 13: the pre-annotation badge follows the value (9c), skip
with a reason (9b), and the progress counter."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
)
from tests.browser.conftest import screenshot

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
