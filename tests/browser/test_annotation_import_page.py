"""The import page's "Import annotations" section in real Chromium: a file of answers goes
in with its counts shown; a bad row is listed with its line and reason, nothing stored."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from labelhouse.annotations.models import Annotation
from tests.browser.conftest import login
from tests.browser.page_factories import jsonl, new_project, text_rows, unexpected


def answers(live, pid: int) -> int:
    with live.db.read_session() as s:
        return s.scalar(select(func.count()).where(Annotation.project_id == pid))


def upload(page: Page, name: str, content: bytes, *, long: bool = False) -> None:
    form = page.locator("#annotation-import-form")
    form.get_by_label("File", exact=True).set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    )
    if long:
        form.locator("select[name=format]").select_option("long")
    form.get_by_role("button", name="Upload and import annotations").click()


def test_annotation_file_imports_and_a_bad_row_is_named(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(2), overlap=2)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    rows = [
        {"external_id": "item-0", "annotator": "crowd-1", "value": {"label": "pos"}},
        {"external_id": "item-1", "annotator": "crowd-1", "value": {"label": "neg"}},
    ]
    upload(page, "old.jsonl", jsonl(rows))
    result = page.locator("#annotation-import-result")
    expect(result.locator("h3")).to_have_text("Annotations imported")
    expect(result.locator(".counts")).to_contain_text("answers imported")
    assert answers(live_server, pid) == 2

    upload(
        page,
        "crowd.csv",
        b"item,worker,label\nitem-0,crowd-2,pos\nitem-1,crowd-2,maybe\n",
        long=True,
    )
    expect(result.locator("h3")).to_have_text("Nothing was imported")
    row = result.locator("table.problems tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("line 3")
    expect(row.locator("td").nth(1)).to_contain_text("unknown option 'maybe'")
    assert answers(live_server, pid) == 2
    assert unexpected(console_errors, 422) == []
