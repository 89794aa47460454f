"""Import, task browser, task detail and export pages in real Chromium."""

from __future__ import annotations

import csv
import io
import json

from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from labelhouse.tasks.models import StoredFile, Task
from tests.browser.conftest import login, screenshot
from tests.browser.page_factories import (
    annotate,
    jsonl,
    new_project,
    new_user,
    resubmit,
    text_rows,
    unexpected,
)


def task_count(live, pid: int) -> int:
    with live.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(Task).where(Task.project_id == pid))


def upload(page: Page, name: str, content: bytes, *, skip_invalid: bool = False) -> None:
    form = page.locator("#import-form")
    form.get_by_label("File").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    )
    if skip_invalid:
        form.get_by_label("Skip invalid rows").check()
    form.get_by_role("button", name="Upload and import").click()


def counts(page: Page) -> dict[str, str]:
    result = page.locator("#import-result .counts")
    expect(result).to_be_visible()
    return {
        box.locator("dt").inner_text(): box.locator("dd").inner_text()
        for box in result.locator(".count").all()
    }


def test_import_good_file_shows_counts(page: Page, live_server, console_errors):
    pid = new_project(live_server)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    rows = [*text_rows(2), {"text": "same"}, {"text": "same"}]  # the same task twice
    upload(page, "tasks.jsonl", jsonl(rows))
    expect(page.locator("#import-result h3")).to_have_text("Import finished")
    assert counts(page) == {
        "rows read": "4",
        "tasks created": "3",
        "duplicates skipped": "1",
        "rows rejected": "0",
    }
    bar = page.locator("#import-progress")
    expect(bar).to_be_visible()
    assert bar.evaluate("el => el.value === el.max && el.max > 0")
    expect(page.locator("#import-progress-text")).to_have_text("Done.")
    screenshot(page, "import")
    assert task_count(live_server, pid) == 3

    # An external id repeated within the file is an error naming both lines.
    upload(page, "repeat.jsonl", jsonl([*text_rows(1, "r"), *text_rows(1, "r")]))
    result = page.locator("#import-result")
    expect(result.locator("h3")).to_have_text("Nothing was imported")
    problem = result.locator("table.problems tbody tr")
    expect(problem).to_have_count(1)
    expect(problem.locator("td").nth(0)).to_have_text("line 2")
    expect(problem.locator("td").nth(1)).to_have_text(
        "external_id 'r-0' already appears on line 1 of this file"
    )
    assert task_count(live_server, pid) == 3

    # CSV works the same way; re-importing the same rows creates nothing.
    upload(page, "tasks.csv", b"external_id,text\nitem-0,x\nitem-9,new one\n")
    expect(page.locator("#import-result .count-created dd")).to_have_text("1")
    expect(page.locator("#import-result .count-duplicates dd")).to_have_text("1")
    assert task_count(live_server, pid) == 4
    assert unexpected(console_errors, 422) == []  # the repeated id's answer


def test_import_bad_row_reports_line_and_reason(page: Page, live_server, console_errors):
    pid = new_project(live_server)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    bad = b'{"text": "fine"}\n{"txt": "typo"}\nnot json\n{"text": "also fine"}\n'
    upload(page, "bad.jsonl", bad)
    result = page.locator("#import-result")
    expect(result.locator("h3")).to_have_text("Nothing was imported")
    rows = result.locator("table.problems tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("line 2")
    expect(rows.nth(0).locator("td").nth(1)).to_contain_text("missing key 'text'")
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("line 3")
    expect(rows.nth(1).locator("td").nth(1)).to_contain_text("not valid JSON")
    screenshot(page, "import-error")
    assert task_count(live_server, pid) == 0

    # With "skip invalid rows" the good rows go in and the bad ones are listed.
    upload(page, "bad.jsonl", bad, skip_invalid=True)
    expect(result.locator(".count-created dd")).to_have_text("2")
    expect(result.locator(".count-rejected dd")).to_have_text("2")
    expect(result.locator("table.problems tbody tr").first).to_contain_text("line 2")
    assert task_count(live_server, pid) == 2
    assert unexpected(console_errors, 422) == []  # the strict import's answer


def test_undo_an_import_from_the_history(page: Page, live_server, console_errors):
    pid = new_project(live_server)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    upload(page, "wrong-file.jsonl", jsonl(text_rows(4)))
    expect(page.locator("#import-result .count-created dd")).to_have_text("4")
    page.reload()  # the history lists the new import
    row = page.locator("#import-history tbody tr").first
    expect(row.locator("td.file-name")).to_have_text("wrong-file.jsonl")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Undo").click()
    expect(page.locator("#undo-result")).to_have_text("Removed 4 tasks of wrong-file.jsonl.")
    expect(row.locator("td.removed")).to_have_text("4")
    expect(row.get_by_role("button", name="Undo")).to_have_count(0)
    assert task_count(live_server, pid) == 0
    assert console_errors == []


def png(color: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def test_image_upload_for_image_projects(page: Page, live_server, console_errors):
    schema = {"fields": [{"name": "boxes", "kind": "boxes", "labels": [{"value": "cat"}]}]}
    pid = new_project(live_server, schema=schema)
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/import")
    form = page.locator("#images-form")
    form.get_by_label("Images").set_input_files(
        [
            {"name": "red.png", "mimeType": "image/png", "buffer": png("red")},
            {"name": "blue.png", "mimeType": "image/png", "buffer": png("blue", (64, 48))},
        ]
    )
    form.get_by_role("button", name="Upload images").click()
    expect(page.locator("#images-result")).to_contain_text("2 images stored.")
    expect(page.locator("#images-result")).to_contain_text("blue.png: 64×48 px")
    with live_server.db.read_session() as s:
        names = s.scalars(select(StoredFile.name).where(StoredFile.project_id == pid)).all()
        assert sorted(names) == ["blue.png", "red.png"]
    upload(page, "images.jsonl", jsonl([{"image": "red.png"}, {"image": "blue.png"}]))
    expect(page.locator("#import-result .count-created dd")).to_have_text("2")
    screenshot(page, "import-images")
    assert console_errors == []


def test_task_browser_filters_and_pagination(page: Page, live_server, console_errors):
    rows = text_rows(60)
    rows[7]["text"] = "The Needle in a haystack"
    pid = new_project(live_server, rows=rows, overlap=1)
    other, other_email = new_user(live_server)
    annotate(
        live_server,
        live_server.annotator,
        pid,
        {"item-0": {"label": "pos"}, "item-1": {"label": "neg"}},
    )
    annotate(live_server, other, pid, {"item-2": {"label": "neg"}, "item-3": {"label": "neu"}})
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/tasks")

    table_rows = page.locator("#task-table tbody tr")
    expect(table_rows).to_have_count(25)
    expect(table_rows.first).to_contain_text("item-0")
    screenshot(page, "tasks")
    page.get_by_role("link", name="Next page »").click()
    expect(table_rows).to_have_count(25)
    expect(table_rows.first).to_contain_text("item-25")
    page.get_by_role("link", name="Next page »").click()
    expect(table_rows).to_have_count(10)
    expect(table_rows.last).to_contain_text("item-59")
    expect(page.get_by_role("link", name="Next page »")).to_have_count(0)
    page.get_by_role("link", name="« First page").click()
    expect(table_rows.first).to_contain_text("item-0")

    filters = page.get_by_role("form", name="Filter tasks")
    filters.get_by_label("Status").select_option("done")
    filters.get_by_role("button", name="Filter").click()
    expect(table_rows).to_have_count(4)

    filters.get_by_label("Annotator").select_option(label=other_email)
    filters.get_by_role("button", name="Filter").click()
    expect(table_rows).to_have_count(2)
    expect(table_rows.nth(0)).to_contain_text("item-2")

    filters.get_by_label("Label field").select_option("label")
    filters.get_by_label("Label value").fill("neu")
    filters.get_by_role("button", name="Filter").click()
    expect(table_rows).to_have_count(1)
    expect(table_rows.first).to_contain_text("item-3")
    assert "annotator=" in page.url and "value=neu" in page.url  # shareable filter links

    page.get_by_role("link", name="Clear").click()
    filters.get_by_label("Label field").select_option("label")
    filters.get_by_label("Match").select_option("contains")
    filters.get_by_label("Label value").fill("e")  # neg, neu
    filters.get_by_role("button", name="Filter").click()
    expect(table_rows).to_have_count(3)

    page.get_by_role("link", name="Clear").click()
    filters.get_by_label("Search task data").fill("needle")
    filters.get_by_role("button", name="Filter").click()
    expect(table_rows).to_have_count(1)
    expect(table_rows.first).to_contain_text("The Needle in a haystack")
    table_rows.first.get_by_role("link", name="The Needle in a haystack").click()
    expect(page.get_by_role("heading", name="Data")).to_be_visible()

    page.goto(f"/projects/{pid}/tasks?field=nope&value=x")  # a bad filter: a clear 400 page
    expect(page.locator(".error-page")).to_contain_text("Pick the label field")
    assert unexpected(console_errors, 400) == []


def test_task_detail_shows_annotations_and_history(page: Page, live_server, console_errors):
    long_text = "A long paragraph. " * 80 + "\nSecond line."
    pid = new_project(live_server, rows=[{"external_id": "t", "text": long_text}], overlap=2)
    other, other_email = new_user(live_server)
    done = annotate(
        live_server, live_server.annotator, pid, {"t": {"label": "pos", "note": "first"}}
    )
    annotate(live_server, other, pid, {"t": {"label": "neg"}})
    task_id = done["t"]
    resubmit(
        live_server, live_server.annotator, task_id, {"label": "neu", "note": "changed my mind"}
    )
    login(page, live_server.owner_email)
    page.goto(f"/tasks/{task_id}")

    expect(page.locator(".task-data .long-text")).to_contain_text("Second line.")
    cards = page.locator("article.annotation")
    expect(cards).to_have_count(2)
    mine = cards.filter(has_text=live_server.annotator_email)
    expect(mine.locator(".answer")).to_contain_text("neu")
    expect(mine.locator(".answer")).to_contain_text("changed my mind")
    expect(mine).to_contain_text("revision 2")
    expect(cards.filter(has_text=other_email).locator(".answer")).to_contain_text("neg")
    mine.locator("summary").click()
    revisions = mine.locator(".revisions > li")
    expect(revisions).to_have_count(2)
    expect(revisions.nth(0)).to_contain_text("revision 2")
    # revision 2 as what changed since revision 1 (issue 13), revision 1 in full
    label = revisions.nth(0).locator('.lh-revision-field[data-field="label"]')
    expect(label.locator("del")).to_have_text("pos")
    expect(label.locator("ins")).to_have_text("neu")
    note = revisions.nth(0).locator('.lh-revision-field[data-field="note"]')
    expect(note.locator("del")).to_have_text("first")
    expect(note.locator("ins")).to_have_text("changed my mind")
    expect(revisions.nth(1)).to_contain_text("revision 1")
    first = revisions.nth(1)
    expect(first.locator('dd[data-field="label"] .lh-d-option')).to_have_text("pos")
    expect(first.locator('dd[data-field="note"]')).to_have_text("first")
    box = cards.nth(0).bounding_box()
    assert box is not None and box["width"] < 700  # side by side at 1280 px
    assert abs(cards.nth(0).bounding_box()["y"] - cards.nth(1).bounding_box()["y"]) < 2
    screenshot(page, "task")
    assert console_errors == []


def test_export_downloads_a_parsable_file(page: Page, live_server, console_errors):
    pid = new_project(live_server, rows=text_rows(3))
    annotate(live_server, live_server.annotator, pid, {"item-1": {"label": "neg", "note": "ok"}})
    login(page, live_server.owner_email)
    page.goto(f"/projects/{pid}/export")
    screenshot(page, "export")
    form = page.locator("#export-form")

    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename.endswith(f"-{pid}.jsonl")
    with open(download.path(), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    assert [r["external_id"] for r in records] == ["item-0", "item-1", "item-2"]
    assert [a["value"] for a in records[1]["annotations"]] == [{"label": "neg", "note": "ok"}]

    form.locator("input[name=format][value=csv]").check()
    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    with open(info.value.path(), encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    assert [row["external_id"] for row in table] == ["item-0", "item-1", "item-2"]
    assert [row["label"] for row in table] == ["", "neg", ""]

    form.locator("input[name=format][value=json]").check()
    form.get_by_label("Include drafts").check()
    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    assert "include_drafts=true" in info.value.url
    with open(info.value.path(), encoding="utf-8") as f:
        assert len(json.load(f)) == 3
    assert console_errors == []
