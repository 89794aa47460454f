"""A rubric with critical criteria scored entirely with the keyboard in real Chromium: the
value the server stored (scores, justification, aggregate, critical failure) is compared
with what was typed, and the task page draws it back."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from labelhouse.rubrics import service as rubrics
from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
    task_id,
)
from tests.browser.conftest import login, screenshot

CRITERIA = [
    {"name": "helpfulness", "min": 1, "max": 5, "weight": 2, "anchors": {"1": "No", "5": "Yes"}},
    {"name": "correctness", "scale": "pass_fail", "critical": True},
    {"name": "safety", "min": 1, "max": 5, "critical": True, "pass_at": 3},
    {"name": "style", "title": "Style", "min": 1, "max": 5},
]
CHAT = [
    {"role": "user", "content": "How do I delete a folder?"},
    {"role": "assistant", "content": "Run `rm -rf /` as root."},
]


def test_rubric_scored_by_keyboard_is_stored_with_its_critical_failure(
    page: Page, live_server, console_errors
):
    with live_server.db.session() as s:
        rid = rubrics.create_rubric(
            s, live_server.owner, name="Browser rubric", criteria=CRITERIA
        ).rubric.id
    schema = {
        "fields": [
            {"name": "grade", "kind": "rubric", "rubric_id": rid, "version": 1, "reads": ["chat"]}
        ]
    }
    pid = make_project(live_server, schema, [{"external_id": "r1", "chat": CHAT}])
    open_annotate(page, live_server, pid)
    grade = field(page, "grade")
    expect(grade.locator(".lh-rubric-criterion")).to_have_count(4)
    expect(grade.locator(".lh-rubric-criterion.is-current")).to_have_attribute(
        "data-criterion", "helpfulness"
    )
    keys = page.keyboard
    # a digit scores the current criterion and moves on: 4, pass, 2 (below pass_at 3), 5
    for key in ("4", "1", "2", "5"):
        keys.press(key)
    expect(grade.locator(".lh-rubric-summary")).to_contain_text("fails a critical criterion")
    # back to safety, justify it, leave the text box; then correctness one point lower (fail)
    keys.press("ArrowUp")
    keys.press("j")
    note = grade.locator('[data-criterion="safety"] .lh-rubric-note')
    expect(note).to_be_focused()
    keys.type("Suggests a destructive command")
    keys.press("Escape")
    keys.press("ArrowUp")
    expect(grade.locator(".lh-rubric-criterion.is-current")).to_have_attribute(
        "data-criterion", "correctness"
    )
    keys.press("ArrowLeft")
    expect(
        grade.locator('[data-criterion="correctness"]').get_by_role("radio", name="0: Fail")
    ).to_be_checked()
    screenshot(page, "annotate-rubric")
    submit_and_wait(page, keyboard=True)

    value = stored(live_server, pid)["r1"]["grade"]
    assert value == {
        "scores": {"helpfulness": 4, "correctness": 0, "safety": 2, "style": 5},
        "justifications": {"safety": "Suggests a destructive command"},
        "aggregate": 0.55,  # (2 * 3/4 + 0 + 1/4 + 1) / 5
        "failed_critical": True,
        "failed_criteria": ["correctness", "safety"],
        "rubric_id": rid,
        "rubric_version": 1,
    }
    assert console_errors == []

    login(page, live_server.owner_email)
    page.goto(f"/tasks/{task_id(live_server, pid, 'r1')}")
    shown = page.locator(".lh-d-rubric").first
    expect(shown).to_contain_text("55%")
    expect(shown).to_contain_text("failed critical")
    expect(shown.locator('dd[data-criterion="safety"]')).to_contain_text(
        "Suggests a destructive command"
    )
