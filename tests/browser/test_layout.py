"""Tables stay inside their cards (issue 13 item 7): the import history at 1280 and 1920 px
wide, file names broken only at their separators, the quality page's Annotators table with
its Flags column in view; a table that must scroll sideways takes the keyboard focus. The
import page's side panel counts follow an import and an undo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import jsonl, new_project, text_rows
from tests.browser.test_pages_data import upload

LONG_NAME = "customer_support_tickets-2026-11-export.from.the.helpdesk_deduplicated-final.jsonl"

# Where the text of an element's first text node (the file name) wraps: one string per
# line as the browser laid it out, found from each character's box.
LINES = """el => {
    const node = [...el.childNodes].filter((n) => n.nodeType === 3);
    const lines = [];
    let top = null;
    for (const text of node) {
        for (let i = 0; i < text.length; i++) {
            const r = document.createRange();
            r.setStart(text, i); r.setEnd(text, i + 1);
            const box = r.getClientRects()[0];
            if (!box) continue;
            if (top === null || box.top > top + 2) { lines.push(""); top = box.top; }
            lines[lines.length - 1] += text.data[i];
        }
    }
    return lines;
}"""

REGION = """el => ({right: el.getBoundingClientRect().right, scrolls: el.scrollWidth > el.clientWidth + 1,
    tabindex: el.getAttribute("tabindex"), role: el.getAttribute("role"), name: el.getAttribute("aria-label")})"""


def _fits_its_card(page: Page, table: str) -> None:
    card = page.locator(table).locator("xpath=ancestor::section[contains(@class, 'card')][1]")
    card_right = card.bounding_box()["x"] + card.bounding_box()["width"]
    region = page.locator(table).locator("xpath=..").evaluate(REGION)
    assert region["right"] <= card_right + 0.5, (table, region, card_right)
    if region["scrolls"]:  # the keyboard can reach and scroll what does not fit
        assert region["tabindex"] == "0" and region["role"] == "region" and region["name"], region


@pytest.mark.parametrize("width", [1280, 1920])
def test_import_history_stays_in_its_card(page: Page, live_server, console_errors, width):
    page.set_viewport_size({"width": width, "height": 900})
    pid = new_project(live_server)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    upload(page, LONG_NAME, jsonl(text_rows(2)))
    expect(page.locator("#import-result .count-created dd")).to_have_text("2")
    cell = page.locator("#import-history td.file-name").first
    expect(cell).to_have_text(LONG_NAME)
    _fits_its_card(page, "#import-history")
    lines = cell.evaluate(LINES)
    assert "".join(lines) == LONG_NAME
    assert len(lines) > 1  # it does wrap in the narrow panel …
    for line in lines[:-1]:  # … only after a separator
        assert re.search(r"[-_./]$", line), lines
    screenshot(page, f"import-history-{width}")
    assert console_errors == []


def test_import_panel_counts_follow_imports_and_undo(page: Page, live_server, console_errors):
    pid = new_project(live_server)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    side = page.locator("#recent-imports")
    expect(side).to_contain_text("0 tasks in the project.")
    expect(side).to_contain_text("None yet.")
    upload(page, "first.jsonl", jsonl(text_rows(3, "a")))
    expect(side).to_contain_text("3 tasks in the project.")
    expect(side.locator("#import-history tbody tr")).to_have_count(1)
    upload(page, "second.jsonl", jsonl(text_rows(4, "b")))
    expect(side).to_contain_text("7 tasks in the project.")
    rows = side.locator("#import-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator("td.file-name")).to_have_text("second.jsonl")
    page.once("dialog", lambda dialog: dialog.accept())
    rows.first.get_by_role("button", name="Undo").click()
    expect(page.locator("#undo-result")).to_have_text("Removed 4 tasks of second.jsonl.")
    expect(side).to_contain_text("3 tasks in the project.")
    expect(rows.first.locator("td.removed")).to_have_text("4")
    expect(rows.first.get_by_role("button", name="Undo")).to_have_count(0)
    # the other import's Undo still works (the panel was drawn anew)
    page.once("dialog", lambda dialog: dialog.accept())
    rows.nth(1).get_by_role("button", name="Undo").click()
    expect(page.locator("#undo-result")).to_have_text("Removed 3 tasks of first.jsonl.")
    expect(side).to_contain_text("0 tasks in the project.")
    assert console_errors == []
