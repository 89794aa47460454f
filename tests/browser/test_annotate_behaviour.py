"""The annotate page's behaviour around the widgets: safe rendering of hostile task data,
undo, the key overlay, field navigation, server validation errors next to the field, the
local draft and retry when the connection drops, skipping, editing earlier submissions,
and how long it takes from submitting to seeing the next task."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from labelhouse.annotations.models import AnnotationRevision
from labelhouse.tasks.models import Assignment
from tests.browser.annotate_support import (
    annotation,
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
    task_id,
)
from tests.browser.conftest import screenshot

XSS = [
    "<img src=x onerror=alert('img')>",
    "</script><script>alert('script')</script>",
    '<b onmouseover="alert(1)">bold?</b> [click](javascript:alert(2))',
]

CHOICE_AND_PAIR = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [
                {"value": "pos", "label": "Positive"},
                {"value": "neg", "label": "Negative"},
            ],
        },
        {"name": "preference", "kind": "pairwise", "required": False},
    ]
}


def test_hostile_task_data_renders_as_text_and_never_runs(page: Page, live_server, console_errors):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    row = {
        "external_id": "</script><img src=x onerror=alert('id')>",
        "text": XSS[0] + " " + XSS[1],
        "prompt": XSS[1],
        "responses": [XSS[0], XSS[2]],
    }
    pid = make_project(
        live_server,
        CHOICE_AND_PAIR,
        [row],
        name="</script><script>alert('name')</script>",
        instructions=XSS[2],
    )
    open_annotate(page, live_server, pid)
    expect(page.locator("#an-context")).to_contain_text(XSS[0])
    expect(page.locator("#an-context")).to_contain_text(XSS[1])
    pref = field(page, "preference")
    expect(pref.locator(".lh-prompt")).to_contain_text(XSS[1])
    expect(pref).to_contain_text(XSS[0])  # Markdown with raw HTML disabled: shown as text
    expect(page.locator(".an-title")).to_contain_text("</script><script>alert('name')</script>")
    expect(page.locator("#an-task-ref")).to_contain_text("<img src=x")
    # no element was made from the payloads: no image, no handler, no javascript: link
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("[onerror], [onmouseover]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    expect(page.locator("#an-instructions")).to_contain_text('<b onmouseover="alert(1)">bold?</b>')
    screenshot(page, "annotate-xss")
    page.keyboard.press("1")
    submit_and_wait(page)
    assert dialogs == []
    assert console_errors == []


UNDO = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
        },
        {"name": "names", "kind": "spans", "labels": [{"value": "N", "hotkey": "n"}]},
    ]
}


def test_undo_and_redo_within_the_task(page: Page, live_server, console_errors):
    pid = make_project(live_server, UNDO, [{"text": "Ann and Bo", "external_id": "u"}])
    open_annotate(page, live_server, pid)
    label = field(page, "label")
    page.keyboard.press("1")  # a, and the spans field becomes active
    expect(field(page, "names")).to_have_class("lh-field lh-field-spans is-active")
    page.keyboard.press("Alt+ArrowUp")  # back to the choice field
    page.keyboard.press("2")  # b
    page.keyboard.press("Alt+ArrowDown")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("n")  # "Ann"
    expect(field(page, "names").locator(".lh-span-tag")).to_have_count(1)
    page.keyboard.press("Control+z")  # the span goes
    expect(field(page, "names").locator(".lh-span-tag")).to_have_count(0)
    page.keyboard.press("Control+z")  # back to "a"
    expect(label.locator("input[value=a]")).to_be_checked()
    page.keyboard.press("Control+z")  # back to nothing
    expect(label.locator("input:checked")).to_have_count(0)
    expect(page.locator("#an-undo")).to_be_disabled()
    page.keyboard.press("Control+Shift+z")  # redo: "a"
    page.keyboard.press("Control+y")  # redo: "b"
    expect(label.locator("input[value=b]")).to_be_checked()
    page.locator("#an-undo").click()  # the button does the same as Ctrl+Z
    expect(label.locator("input[value=a]")).to_be_checked()
    submit_and_wait(page)
    assert stored(live_server, pid) == {"u": {"label": "a", "names": []}}
    assert console_errors == []


def test_key_overlay_and_field_navigation(page: Page, live_server, console_errors):
    pid = make_project(live_server, UNDO, [{"text": "Ann and Bo", "external_id": "k"}])
    open_annotate(page, live_server, pid)
    expect(field(page, "label")).to_have_class("lh-field lh-field-choice is-active")
    page.keyboard.press("Alt+ArrowDown")
    expect(field(page, "names")).to_have_class("lh-field lh-field-spans is-active")
    expect(field(page, "label")).not_to_have_class("is-active")
    page.keyboard.press("Alt+ArrowUp")
    expect(field(page, "label")).to_have_class("lh-field lh-field-choice is-active")
    page.keyboard.press("?")
    help_ = page.locator("#an-help")
    expect(help_).to_be_visible()
    for text in (
        "submit and show the next task",
        "skip this task",
        "undo",
        "choose “b”",
        "label the selection “N”",
    ):
        expect(help_).to_contain_text(text)
    screenshot(page, "annotate-help")
    page.keyboard.press("Escape")
    expect(help_).to_be_hidden()
    page.keyboard.press("?")
    expect(help_).to_be_visible()
    page.keyboard.press("?")
    expect(help_).to_be_hidden()
    page.keyboard.press("i")  # instructions panel toggles
    expect(page.locator("#an-instructions")).to_be_hidden()
    page.keyboard.press("i")
    expect(page.locator("#an-instructions")).to_be_visible()
    assert console_errors == []


VALIDATED = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "x"}, {"value": "y"}],
        },
        {"name": "note", "kind": "text", "max_length": 10},
    ]
}


def test_server_validation_errors_show_next_to_their_field(page: Page, live_server, console_errors):
    pid = make_project(live_server, VALIDATED, [{"text": "t", "external_id": "v"}])
    open_annotate(page, live_server, pid)
    page.keyboard.press("Tab")  # to the text field
    page.keyboard.type("fifteen letters")
    page.keyboard.press("Control+Enter")
    note_errors = field(page, "note").locator(".lh-field-errors")
    expect(note_errors).to_contain_text("too long: at most 10 characters allowed (got 15)")
    expect(field(page, "label").locator(".lh-field-errors")).to_contain_text("Required")
    expect(page.locator("#an-status")).to_contain_text("Not saved")
    screenshot(page, "annotate-422")
    assert stored(live_server, pid) == {}
    # nothing typed was lost; fixing the answers clears each field's error
    expect(field(page, "note").locator("textarea")).to_have_value("fifteen letters")
    field(page, "note").locator("textarea").fill("ten chars!")
    expect(note_errors).to_be_hidden()
    field(page, "label").get_by_text("y").click()
    submit_and_wait(page, keyboard=False)
    assert stored(live_server, pid) == {"v": {"label": "y", "note": "ten chars!"}}
    # the browser's console shows the failed 422 request; nothing else may be there
    assert [e for e in console_errors if "422" not in e] == []


def test_draft_survives_a_lost_connection_and_a_reload(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        VALIDATED,
        [{"text": "t", "external_id": "d"}, {"text": "u", "external_id": "e"}],
    )
    open_annotate(page, live_server, pid)
    tid = task_id(live_server, pid, "d")
    key = f"lh:draft:{live_server.annotator.user_id}:{tid}"
    page.keyboard.press("2")
    page.keyboard.type("keep me")
    page.reload()  # a closed tab, a crash: the draft comes back
    expect(page.locator("#an-banner")).to_contain_text("Restored")
    expect(field(page, "note").locator("textarea")).to_have_value("keep me")
    expect(field(page, "label").locator("input[value=y]")).to_be_checked()

    failures = []

    def fail_once(route: Route) -> None:
        if not failures:
            failures.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/tasks/*/annotations*", fail_once)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-status")).to_contain_text("Offline")
    expect(page.locator("#an-status")).to_contain_text("retrying")
    draft = page.evaluate("k => JSON.parse(localStorage.getItem(k))", key)
    assert draft["values"] == {"label": "y", "note": "keep me"}
    # the retry (after a second) goes through by itself and the draft is dropped
    expect(page.locator("#an-status")).to_contain_text("Saved task", timeout=10_000)
    assert page.evaluate("k => localStorage.getItem(k)", key) is None
    assert len(failures) == 1
    assert stored(live_server, pid) == {"d": {"label": "y", "note": "keep me"}}
    assert [e for e in console_errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_skip_asks_first_and_gives_the_task_back(page: Page, live_server, console_errors):
    pid = make_project(
        live_server,
        VALIDATED,
        [{"text": "t", "external_id": "s1"}, {"text": "u", "external_id": "s2"}],
    )
    open_annotate(page, live_server, pid)
    expect(page.locator("#an-task-ref")).to_contain_text("s1")
    page.keyboard.press("Control+s")
    expect(page.locator("#an-skip-confirm")).to_be_visible()
    page.keyboard.press("Escape")  # changed my mind
    expect(page.locator("#an-skip-confirm")).to_be_hidden()
    page.keyboard.press("Control+s")
    page.keyboard.press("Enter")
    expect(page.locator("#an-task-ref")).to_contain_text("s2")
    with live_server.db.read_session() as s:
        status = s.scalar(
            select(Assignment.status).where(
                Assignment.task_id == task_id(live_server, pid, "s1"),
                Assignment.user_id == live_server.annotator.user_id,
            )
        )
    assert status == "skipped"
    assert console_errors == []


def test_edit_an_earlier_submission_from_my_submissions(page: Page, live_server, console_errors):
    pid = make_project(
        live_server, VALIDATED, [{"text": f"t{i}", "external_id": f"h{i}"} for i in range(3)]
    )
    open_annotate(page, live_server, pid)
    page.keyboard.press("1")
    page.keyboard.type("first")
    submit_and_wait(page)
    page.keyboard.press("2")
    page.keyboard.type("second")
    submit_and_wait(page)
    page.keyboard.press("h")
    history = page.locator("#an-history")
    expect(history).to_be_visible()
    expect(history.locator("li")).to_have_count(2)  # submitted ones only, newest first
    expect(history.locator("li").first).to_contain_text("h1")
    history.locator("li", has_text="h0").locator("button").click()
    expect(page.locator("#an-banner")).to_contain_text("Editing your submission (revision 1)")
    expect(field(page, "note").locator("textarea")).to_have_value("first")
    expect(page).to_have_url(f"/projects/{pid}/annotate?task={task_id(live_server, pid, 'h0')}")
    screenshot(page, "annotate-history")
    page.keyboard.press("2")
    field(page, "note").locator("textarea").fill("1st, fixed")
    submit_and_wait(page)
    expect(page.locator("#an-task-ref")).to_contain_text("h2")  # back in the queue
    ann = annotation(live_server, pid, "h0")
    assert (ann.value, ann.revision) == ({"label": "y", "note": "1st, fixed"}, 2)
    with live_server.db.read_session() as s:
        revisions = s.scalars(
            select(AnnotationRevision.value).where(AnnotationRevision.annotation_id == ann.id)
        ).all()
    assert {"label": "x", "note": "first"} in revisions
    assert console_errors == []


def test_all_done_when_the_queue_is_empty(page: Page, live_server, console_errors):
    pid = make_project(live_server, VALIDATED, [{"text": "only", "external_id": "only"}])
    open_annotate(page, live_server, pid)
    page.keyboard.press("1")
    page.keyboard.type("done")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#an-done")).to_be_visible()
    expect(page.locator("#an-done")).to_contain_text("All done")
    expect(page.locator("#an-actions")).to_be_hidden()
    screenshot(page, "annotate-done")
    assert console_errors == []
