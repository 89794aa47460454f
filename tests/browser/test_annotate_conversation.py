"""A multi-turn conversation in real Chromium: shown as a chat (roles, sanitized Markdown,
highlighted code, folded system prompt), judged with pairwise (with the word-diff view),
rated, marked with spans inside one message and its reply rewritten with the edit kind;
the values the server stored are compared exactly, and the task page draws them back."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.annotate_support import (
    field,
    make_project,
    open_annotate,
    stored,
    submit_and_wait,
    task_id,
)
from tests.browser.conftest import login, screenshot
from tests.browser.test_annotate import drag_select

SCHEMA = {
    "fields": [
        {"name": "pref", "kind": "pairwise", "prompt": "chat", "responses": "candidates"},
        {"name": "quality", "kind": "rating", "reads": ["chat"], "min": 1, "max": 5},
        {
            "name": "code",
            "kind": "spans",
            "source": "chat",
            "message": 2,
            "labels": [{"value": "CODE", "label": "Code"}],
        },
        {"name": "fix", "kind": "edit", "source": "chat", "message": 2},
    ]
}
CHAT = [
    {"role": "system", "content": "You are a terse Python tutor."},
    {"role": "user", "content": "How do I reverse a string?"},
    {
        "role": "assistant",
        "content": [
            {
                "type": "text",
                "text": "Use slicing: s[::-1] works.\n\n```python\ndef rev(s):\n    return s[::-1]\n```",
            }
        ],
    },
    {"role": "user", "content": "And a list? <script>alert(1)</script>"},
]
ROW = {
    "external_id": "chat-1",
    "chat": CHAT,
    "candidates": [
        {"role": "assistant", "content": "Call items.reverse() to reverse in place."},
        {"role": "assistant", "content": "Call reversed(items) to reverse lazily."},
    ],
}


def test_conversation_with_every_kind(page: Page, live_server, console_errors):
    pid = make_project(live_server, SCHEMA, [ROW])
    open_annotate(page, live_server, pid)
    pref = field(page, "pref")
    chat = pref.locator(".lh-chat")
    expect(chat.locator(".lh-msg-user")).to_have_count(2)
    expect(chat.locator(".lh-msg-user").last).to_contain_text("<script>alert(1)</script>")
    expect(chat.locator("details.lh-msg-system")).not_to_have_attribute("open", "")
    expect(chat.locator(".lh-msg-assistant pre code span.k")).to_have_text(["def", "return"])
    # the rating's context shows the same chat once
    expect(page.locator("#an-context .lh-chat .lh-msg")).to_have_count(4)

    # pairwise: the word diff between the two candidates, then B (= candidates[1])
    pref.locator(".lh-diff-toggle").click()
    diff = pref.locator(".lh-pair-diff")
    expect(diff.locator("del, ins")).not_to_have_count(0)
    expect(diff).to_contain_text("reverse")
    pref.locator('article[data-response-index="1"] .lh-pick').click()

    quality = field(page, "quality")
    quality.locator("label", has=page.get_by_role("radio", name="4", exact=True)).click()
    expect(quality.get_by_role("radio", name="4", exact=True)).to_be_checked()

    code = field(page, "code")
    expect(code.locator(".lh-span-text")).to_contain_text("Use slicing: s[::-1] works.")
    drag_select(page, code.locator(".lh-span-text"), "s[::-1]")
    code.locator(".lh-span-label", has_text="Code").click()
    expect(code.locator(".lh-span-tag")).to_have_count(1)

    fix = field(page, "fix")
    area = fix.locator("textarea")
    original = area.input_value()
    assert original.startswith("Use slicing: s[::-1] works.")
    area.fill(original.replace("Use slicing", "Use extended slicing"))
    fix.locator(".lh-diff-toggle").click()
    expect(fix.locator(".lh-edit-diff ins")).to_have_text(["extended "])
    expect(fix.locator(".lh-edit-status")).to_contain_text("1 word added, 0 removed")
    screenshot(page, "annotate-conversation")
    submit_and_wait(page, keyboard=False)

    value = stored(live_server, pid)["chat-1"]
    assert value["pref"] == {"choice": "B", "strength": None}
    assert value["quality"] == 4
    assert value["code"] == [{"start": 13, "end": 20, "label": "CODE", "text": "s[::-1]"}]
    edited = original.replace("Use slicing", "Use extended slicing")
    assert value["fix"]["text"] == edited
    assert value["fix"]["changed"] is True
    assert value["fix"]["ops"] == [["=", 4], ["+", "extended "], ["=", len(original) - 4]]
    assert console_errors == []

    # the task page draws the chat and the stored edit with its changes
    login(page, live_server.owner_email)
    page.goto(f"/tasks/{task_id(live_server, pid, 'chat-1')}")
    expect(page.locator(".lh-chat").first).to_be_visible()
    expect(page.locator(".lh-d-edit ins").first).to_have_text("extended ")


def test_review_page_shows_the_chat_and_the_edit(page: Page, live_server, console_errors):
    from labelhouse.tasks import queue
    from tests.browser.page_factories import annotate, new_project, new_user

    schema = {"fields": [SCHEMA["fields"][0], SCHEMA["fields"][3]]}  # pairwise + edit only
    pid = new_project(live_server, rows=[ROW], schema=schema)
    with live_server.db.session() as s:
        queue.update_project(s, live_server.owner, pid, {"review_mode": "all"})
    actor, _ = new_user(live_server)
    edit = {"text": "Use s[::-1] (slicing)."}
    annotate(
        live_server,
        actor,
        pid,
        {"chat-1": {"pref": {"choice": "A", "strength": None}, "fix": edit}},
    )
    login(page, live_server.reviewer_email)
    page.goto(f"/projects/{pid}/review")
    # the pairwise prompt is a conversation: the review page shows it as a chat above
    chat = page.locator("#rv-context .lh-chat")
    expect(chat.locator(".lh-msg")).to_have_count(4)
    expect(chat.locator(".lh-msg-user").last).to_contain_text("<script>alert(1)</script>")
    expect(page.locator(".rv-annotation .lh-d-edit ins").first).to_be_visible()
    expect(page.locator(".rv-annotation .lh-d-edit")).to_contain_text("Edited:")
    assert console_errors == []
